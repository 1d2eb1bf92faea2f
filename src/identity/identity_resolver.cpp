#include "tcpleak/identity/identity.hpp"

#include <algorithm>

namespace tcpleak::identity {

namespace {
constexpr int kMaxBackoffDoublings = 6; // 64 x retry_interval
} // namespace

IdentityResolver::IdentityResolver(CgroupPaths& cgroups, PodDirectory* pods, IdentityResolverOptions options)
    : cgroups_(cgroups), pods_(pods), options_(std::move(options)) {}

std::shared_ptr<const Identity> IdentityResolver::of_cgroup(std::uint64_t cgroup_id) {
    return lookup(cgroup_id, nullptr);
}

std::shared_ptr<const Identity> IdentityResolver::of_pid(std::uint32_t pid) {
    std::optional<std::string> path = cgroups_.path_of_pid(pid);
    if (!path)
        return std::make_shared<const Identity>();
    if (const std::optional<std::uint64_t> id = cgroups_.id_of(*path))
        return lookup(*id, &*path);
    // Removed since, or a path from another cgroup namespace: describe it, but
    // cache nothing without an id to key it by.
    ++stats_.resolved;
    return describe(0, std::move(*path));
}

std::shared_ptr<const Identity> IdentityResolver::lookup(std::uint64_t cgroup_id, const std::string* known_path) {
    ++stats_.lookups;
    std::chrono::nanoseconds backoff{0};
    if (const auto it = cache_.find(cgroup_id); it != cache_.end()) {
        const Entry& entry = it->second;
        if (entry.complete || options_.clock() < entry.retry_at) {
            ++stats_.hits;
            return entry.identity;
        }
        ++stats_.retries;
        backoff = entry.backoff;
    }
    Entry entry = resolve(cgroup_id, known_path, backoff);
    std::shared_ptr<const Identity> identity = entry.identity;
    store(cgroup_id, std::move(entry));
    return identity;
}

IdentityResolver::Entry IdentityResolver::resolve(std::uint64_t cgroup_id, const std::string* known_path,
                                                  std::chrono::nanoseconds backoff) {
    ++stats_.resolved;
    std::optional<std::string> path = known_path ? std::optional(*known_path) : cgroups_.path_of(cgroup_id);
    std::shared_ptr<Identity> identity;
    if (path) {
        identity = describe(cgroup_id, std::move(*path));
    } else {
        identity = std::make_shared<Identity>();
        identity->cgroup_id = cgroup_id;
    }
    Entry entry;
    entry.complete = is_complete(*identity);
    if (!entry.complete) {
        entry.backoff = backoff.count() == 0 ? options_.retry_interval
                                             : std::min(backoff * 2, options_.retry_interval * (1 << kMaxBackoffDoublings));
        entry.retry_at = options_.clock() + entry.backoff;
    }
    entry.identity = std::move(identity);
    return entry;
}

std::shared_ptr<Identity> IdentityResolver::describe(std::uint64_t cgroup_id, std::string path) {
    auto identity = std::make_shared<Identity>();
    WorkloadIdentity workload = parse_cgroup_path(path);
    identity->cgroup_id = cgroup_id;
    identity->cgroup_path = std::move(path);
    identity->container_id = std::move(workload.container_id);
    identity->container_runtime = workload.container_runtime;
    identity->pod_uid = std::move(workload.pod_uid);
    identity->pod_qos = workload.pod_qos;
    identity->systemd_unit = std::move(workload.systemd_unit);
    if (!pods_ || identity->pod_uid.empty())
        return identity;
    if (std::optional<PodName> pod = pods_->pod(identity->pod_uid)) {
        identity->pod = std::move(pod->pod);
        identity->namespace_name = std::move(pod->namespace_name);
    }
    if (identity->container_id.empty())
        return identity;
    // A link into another pod's directory would be a lie; keep the name only if the pods agree.
    if (std::optional<ContainerName> container = pods_->container(identity->container_id);
        container && container->pod_uid == identity->pod_uid)
        identity->container_name = std::move(container->container);
    return identity;
}

// What may still turn up: a path for the id, names for a pod (the kubelet
// makes the log directory as the pod starts) and for its container.
bool IdentityResolver::is_complete(const Identity& identity) const {
    if (identity.cgroup_path.empty())
        return false;
    if (!pods_ || identity.pod_uid.empty())
        return true;
    return !identity.pod.empty() && (identity.container_id.empty() || !identity.container_name.empty());
}

void IdentityResolver::store(std::uint64_t cgroup_id, Entry entry) {
    if (cache_.size() >= options_.max_entries && !cache_.contains(cgroup_id)) {
        cache_.clear(); // crude but bounded; live cgroups come back on their next event
        ++stats_.restarts;
    }
    cache_.insert_or_assign(cgroup_id, std::move(entry));
}

IdentityResolverStats IdentityResolver::stats() const {
    IdentityResolverStats stats = stats_;
    stats.entries = cache_.size();
    return stats;
}

} // namespace tcpleak::identity
