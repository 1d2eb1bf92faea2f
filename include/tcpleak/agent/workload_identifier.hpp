// Pids and cgroup ids into Workloads (core/leak.hpp): the identity layer's
// resolver, set up for a node (the cgroup2 mount found in mountinfo, so
// hybrid hosts work: /sys/fs/cgroup/unified) and cut down to what the
// agent's labels and records carry. A host without a cgroup2 mount gets
// empty workloads (said once on stderr), never an error.
#pragma once

#include "tcpleak/core/leak.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace tcpleak {

// The kubelet's, where `leaks` looks (the agent: --pods-dir).
inline constexpr const char* kDefaultPodsDir = "/var/log/pods";

class WorkloadIdentifier {
public:
    // pods_dir: the kubelet's pod log directories (--pods-dir); container
    // names come from its sibling "containers" (/var/log/containers).
    explicit WorkloadIdentifier(const std::string& pods_dir);
    ~WorkloadIdentifier();
    WorkloadIdentifier(const WorkloadIdentifier&) = delete;
    WorkloadIdentifier& operator=(const WorkloadIdentifier&) = delete;

    Workload of_pid(std::uint32_t pid);
    Workload of_cgroup(std::uint64_t cgroup_id);
    // Why identities are empty ("" when they are not): for the start-up note.
    const std::string& unavailable() const { return unavailable_; }

private:
    struct Resolvers;
    std::unique_ptr<Resolvers> resolvers_;
    std::string unavailable_;
};

// The `container` metric label: the container's name when known, else the first 12
// digits of its id (as docker ps shows it), else "".
std::string container_metric_label(const Workload& workload);

} // namespace tcpleak
