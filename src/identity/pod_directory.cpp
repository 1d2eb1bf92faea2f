#include "tcpleak/identity/pod_directory.hpp"

#include "fd.hpp"
#include "tcpleak/identity/pod_log_names.hpp"

#include <climits>
#include <unordered_map>

namespace tcpleak::identity {

namespace {

// Keys looked up by string_view without building a std::string.
struct TransparentHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
};
template <typename Value>
using StringMap = std::unordered_map<std::string, Value, TransparentHash, std::equal_to<>>;

struct Tables {
    StringMap<PodName> pods;              // by uid
    StringMap<ContainerName> containers;  // by container id
    std::uint64_t ignored = 0;
    bool capacity_hit = false;
    bool pods_dir_readable = false;
};

bool is_dot_or_dot_dot(std::string_view name) { return name == "." || name == ".."; }

// The top directories may be symlinks (a relocated /var/log); what is inside them is not followed.
DirStream open_top_dir(const std::string& path) { return DirStream(::opendir(path.c_str())); }

std::optional<std::string> link_target(DIR* dir, const char* name) {
    char target[PATH_MAX];
    const ssize_t n = ::readlinkat(::dirfd(dir), name, target, sizeof target);
    if (n <= 0 || static_cast<std::size_t>(n) >= sizeof target)
        return std::nullopt;
    return std::string(target, static_cast<std::size_t>(n));
}

void read_pods(const std::string& pods_dir, std::size_t max_pods, Tables& tables) {
    const DirStream dir = open_top_dir(pods_dir);
    tables.pods_dir_readable = dir != nullptr;
    while (dir) {
        const dirent* entry = ::readdir(dir.get());
        if (!entry)
            break;
        if (is_dot_or_dot_dot(entry->d_name) || (entry->d_type != DT_DIR && entry->d_type != DT_UNKNOWN))
            continue;
        std::optional<PodLogDir> pod = parse_pod_log_dir(entry->d_name);
        if (!pod) {
            ++tables.ignored;
        } else if (tables.pods.size() >= max_pods) {
            tables.capacity_hit = true;
            return;
        } else {
            tables.pods.emplace(std::move(pod->uid), PodName{std::move(pod->namespace_name), std::move(pod->pod)});
        }
    }
}

struct LinkedContainer {
    std::string id;
    ContainerName name;
};

// A link counts only when its name and its target agree on pod, namespace and container.
std::optional<LinkedContainer> container_of_link(DIR* dir, const char* name) {
    std::optional<ContainerLogLink> link = parse_container_log_link(name);
    const std::optional<std::string> target = link ? link_target(dir, name) : std::nullopt;
    std::optional<ContainerLogTarget> into = target ? parse_container_log_target(*target) : std::nullopt;
    if (!into || into->pod.pod != link->pod || into->pod.namespace_name != link->namespace_name ||
        into->container != link->container)
        return std::nullopt;
    return LinkedContainer{std::move(link->container_id), {std::move(into->container), std::move(into->pod.uid)}};
}

void read_containers(const std::string& containers_dir, std::size_t max_containers, Tables& tables) {
    if (containers_dir.empty())
        return;
    const DirStream dir = open_top_dir(containers_dir);
    while (dir) {
        const dirent* entry = ::readdir(dir.get());
        if (!entry)
            break;
        if (is_dot_or_dot_dot(entry->d_name) || (entry->d_type != DT_LNK && entry->d_type != DT_UNKNOWN))
            continue;
        std::optional<LinkedContainer> container = container_of_link(dir.get(), entry->d_name);
        if (!container) {
            ++tables.ignored;
        } else if (tables.containers.size() >= max_containers) {
            tables.capacity_hit = true;
            return;
        } else {
            tables.containers.emplace(std::move(container->id), std::move(container->name));
        }
    }
}

template <typename Value>
std::optional<Value> find(const StringMap<Value>& map, std::string_view key) {
    const auto it = map.find(key);
    return it == map.end() ? std::nullopt : std::optional<Value>(it->second);
}

} // namespace

struct PodDirectory::State {
    explicit State(PodDirectoryOptions given)
        : options(std::move(given)), refresh_limit(options.clock, options.min_refresh_interval) {}

    template <typename Value>
    std::optional<Value> lookup(StringMap<Value> Tables::*table, std::string_view key) {
        ++stats.lookups;
        std::optional<Value> found = find(tables.*table, key);
        if (!found && refresh_limit.try_start()) {
            reload();
            found = find(tables.*table, key);
        } else if (!found) {
            ++stats.refreshes_deferred;
        }
        ++(found ? stats.hits : stats.misses);
        return found;
    }

    void reload() {
        const auto start = std::chrono::steady_clock::now();
        Tables fresh;
        read_pods(options.pods_dir, options.max_pods, fresh);
        read_containers(options.containers_dir, options.max_containers, fresh);
        tables = std::move(fresh);
        ++stats.refreshes;
        stats.ignored += tables.ignored;
        stats.capacity_hits += tables.capacity_hit ? 1 : 0;
        stats.last_refresh = std::chrono::steady_clock::now() - start;
    }

    PodDirectoryOptions options;
    RefreshLimit refresh_limit;
    Tables tables;
    PodDirectoryStats stats;
};

PodDirectory::PodDirectory(PodDirectoryOptions options) : state_(std::make_unique<State>(std::move(options))) {
    refresh();
}
PodDirectory::~PodDirectory() = default;
PodDirectory::PodDirectory(PodDirectory&&) noexcept = default;
PodDirectory& PodDirectory::operator=(PodDirectory&&) noexcept = default;

std::optional<PodName> PodDirectory::pod(std::string_view uid) { return state_->lookup(&Tables::pods, uid); }

std::optional<ContainerName> PodDirectory::container(std::string_view container_id) {
    return state_->lookup(&Tables::containers, container_id);
}

void PodDirectory::refresh() {
    state_->reload();
    state_->refresh_limit.started_now();
}

PodDirectoryStats PodDirectory::stats() const {
    PodDirectoryStats stats = state_->stats;
    stats.pods = state_->tables.pods.size();
    stats.containers = state_->tables.containers.size();
    stats.pods_dir_readable = state_->tables.pods_dir_readable;
    return stats;
}

} // namespace tcpleak::identity
