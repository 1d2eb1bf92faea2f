// Who a cgroup is: its path, container, pod and systemd unit, with names from
// the node's pod directory. Built once per cgroup id and cached, so the hot
// path (an event's cgroup id) is one hash lookup. Not thread-safe.
#pragma once

#include "tcpleak/identity/cgroup_paths.hpp"
#include "tcpleak/identity/pod_directory.hpp"
#include "tcpleak/identity/refresh_limit.hpp"
#include "tcpleak/identity/workload.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

namespace tcpleak::identity {

// Every string is raw bytes from the kernel or the kubelet (cgroup_path is
// whatever names were given to mkdir, at most CgroupPathsOptions::max_path_bytes):
// escape them when writing. The other fields are validated ASCII.
struct Identity {
    std::uint64_t cgroup_id = 0; // 0 when resolved from a pid whose cgroup is gone
    std::string cgroup_path;     // empty: not found
    std::string container_id;
    ContainerRuntime container_runtime = ContainerRuntime::None;
    std::string container_name; // Kubernetes containers with a log link only
    std::string pod_uid;
    PodQos pod_qos = PodQos::None;
    std::string pod;
    std::string namespace_name;
    std::string systemd_unit;
};

struct IdentityResolverOptions {
    std::size_t max_entries = 16384; // cached identities; at the bound the cache starts over (counted)
    // An unknown cgroup, or a pod not yet in the pod directory, is asked about
    // again after this, then after twice as long, up to 64 times as long.
    std::chrono::nanoseconds retry_interval = std::chrono::seconds(1);
    Clock clock = steady_clock_now();
};

struct IdentityResolverStats {
    std::uint64_t lookups = 0;
    std::uint64_t hits = 0;
    std::uint64_t resolved = 0; // identities built (first sight, and retries)
    std::uint64_t retries = 0;  // incomplete identities asked about again
    std::uint64_t restarts = 0; // times the cache was full and started over
    std::size_t entries = 0;
};

class IdentityResolver {
public:
    // Both must outlive the resolver; pods may be null (not a Kubernetes node).
    IdentityResolver(CgroupPaths& cgroups, PodDirectory* pods, IdentityResolverOptions options = {});

    // Never null. An id with no path yet has only cgroup_id set.
    std::shared_ptr<const Identity> of_cgroup(std::uint64_t cgroup_id);

    // The process's current cgroup, via /proc/PID/cgroup; never null, empty if the process is gone.
    std::shared_ptr<const Identity> of_pid(std::uint32_t pid);

    IdentityResolverStats stats() const;

private:
    struct Entry {
        std::shared_ptr<const Identity> identity;
        bool complete = false;
        TimePoint retry_at{};
        std::chrono::nanoseconds backoff{0};
    };

    std::shared_ptr<const Identity> lookup(std::uint64_t cgroup_id, const std::string* known_path);
    Entry resolve(std::uint64_t cgroup_id, const std::string* known_path, std::chrono::nanoseconds backoff);
    std::shared_ptr<Identity> describe(std::uint64_t cgroup_id, std::string path);
    bool is_complete(const Identity& identity) const;
    void store(std::uint64_t cgroup_id, Entry entry);

    CgroupPaths& cgroups_;
    PodDirectory* pods_;
    IdentityResolverOptions options_;
    std::unordered_map<std::uint64_t, Entry> cache_;
    IdentityResolverStats stats_;
};

} // namespace tcpleak::identity
