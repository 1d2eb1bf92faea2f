#include "tcpleak/agent/workload_identifier.hpp"

#include "tcpleak/identity/cgroup_paths.hpp"
#include "tcpleak/identity/error.hpp"
#include "tcpleak/identity/identity.hpp"
#include "tcpleak/identity/pod_directory.hpp"

#include <filesystem>

namespace tcpleak {

struct WorkloadIdentifier::Resolvers {
    identity::CgroupPaths cgroups;
    identity::PodDirectory pods;
    identity::IdentityResolver resolver{cgroups, &pods};

    Resolvers(identity::CgroupPathsOptions cgroup_options, identity::PodDirectoryOptions pod_options)
        : cgroups(std::move(cgroup_options)), pods(std::move(pod_options)) {}
};

namespace {

identity::PodDirectoryOptions pod_options(const std::string& pods_dir) {
    identity::PodDirectoryOptions options;
    options.pods_dir = pods_dir;
    // The kubelet keeps both side by side: /var/log/pods, /var/log/containers.
    const std::filesystem::path parent = std::filesystem::path(pods_dir).lexically_normal().parent_path();
    options.containers_dir = (parent.empty() ? std::filesystem::path(".") : parent) / "containers";
    return options;
}

Workload to_workload(const identity::Identity& id) {
    return {id.cgroup_path, id.container_id, id.container_name, id.pod_uid, id.pod, id.namespace_name, id.systemd_unit};
}

} // namespace

WorkloadIdentifier::WorkloadIdentifier(const std::string& pods_dir) {
    try {
        resolvers_ = std::make_unique<Resolvers>(identity::CgroupPathsOptions{}, pod_options(pods_dir));
    } catch (const identity::IdentityError& error) {
        unavailable_ = error.what();
    }
}

WorkloadIdentifier::~WorkloadIdentifier() = default;

Workload WorkloadIdentifier::of_pid(std::uint32_t pid) {
    return resolvers_ ? to_workload(*resolvers_->resolver.of_pid(pid)) : Workload{};
}

Workload WorkloadIdentifier::of_cgroup(std::uint64_t cgroup_id) {
    return resolvers_ ? to_workload(*resolvers_->resolver.of_cgroup(cgroup_id)) : Workload{};
}

std::string container_metric_label(const Workload& workload) {
    if (!workload.container.empty())
        return workload.container;
    return workload.container_id.substr(0, 12);
}

} // namespace tcpleak
