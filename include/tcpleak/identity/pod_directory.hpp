// Pod names and namespaces, and container names, from the kubelet's log
// directories on the node (pod_log_names.hpp), so no API server is needed.
// Both directories are re-read whole on a miss, at most once per
// min_refresh_interval; a re-read replaces the tables, so deleted pods leave.
// A missing directory is no error (not a Kubernetes node, or not mounted in):
// lookups miss and stats() says so. Not thread-safe.
#pragma once

#include "tcpleak/identity/refresh_limit.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace tcpleak::identity {

struct PodDirectoryOptions {
    std::string pods_dir = "/var/log/pods";             // --pods-dir
    std::string containers_dir = "/var/log/containers"; // empty: container names are not read
    std::size_t max_pods = 8192;
    std::size_t max_containers = 32768;
    std::chrono::nanoseconds min_refresh_interval = std::chrono::seconds(1);
    Clock clock = steady_clock_now();
};

struct PodName {
    std::string namespace_name;
    std::string pod;
};

struct ContainerName {
    std::string container;
    std::string pod_uid; // of the pod whose log directory the link points into
};

struct PodDirectoryStats {
    std::uint64_t lookups = 0;
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t refreshes = 0;
    std::uint64_t refreshes_deferred = 0; // misses within min_refresh_interval of the last refresh
    std::uint64_t ignored = 0;            // entries whose names did not validate, over all refreshes
    std::uint64_t capacity_hits = 0;      // refreshes that stopped at max_pods or max_containers
    std::size_t pods = 0;
    std::size_t containers = 0;
    bool pods_dir_readable = false; // at the last refresh
    std::chrono::nanoseconds last_refresh{0};
};

class PodDirectory {
public:
    explicit PodDirectory(PodDirectoryOptions options = {}); // reads both directories once
    ~PodDirectory();
    PodDirectory(PodDirectory&&) noexcept;
    PodDirectory& operator=(PodDirectory&&) noexcept;

    // By uid as WorkloadIdentity::pod_uid has it (lower-case, dashed).
    std::optional<PodName> pod(std::string_view uid);
    // By the 64-hex id; only containers that have a log link.
    std::optional<ContainerName> container(std::string_view container_id);

    void refresh(); // now, whatever the interval

    PodDirectoryStats stats() const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

} // namespace tcpleak::identity
