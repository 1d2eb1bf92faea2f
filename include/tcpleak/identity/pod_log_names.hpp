// The names the kubelet gives its log files, which carry a pod's namespace,
// name and uid, and a container's name and id:
//   /var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log
//   /var/log/containers/<pod>_<namespace>_<container>-<container id>.log  (symlinks into the above)
// Namespaces, pod and container names are DNS names, which have no '_', so
// '_' splits safely. Every part is validated; junk yields nullopt.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tcpleak::identity {

struct PodLogDir {
    std::string namespace_name;
    std::string pod;
    std::string uid; // normalised as WorkloadIdentity::pod_uid
};

// "<namespace>_<pod>_<uid>", a directory of /var/log/pods.
std::optional<PodLogDir> parse_pod_log_dir(std::string_view name);

struct ContainerLogLink {
    std::string pod;
    std::string namespace_name;
    std::string container;
    std::string container_id;
};

// "<pod>_<namespace>_<container>-<64 hex>.log", a symlink of /var/log/containers.
std::optional<ContainerLogLink> parse_container_log_link(std::string_view name);

// The pod directory and container of a link's target,
// ".../<namespace>_<pod>_<uid>/<container>/<n>.log".
struct ContainerLogTarget {
    PodLogDir pod;
    std::string container;
};
std::optional<ContainerLogTarget> parse_container_log_target(std::string_view target);

} // namespace tcpleak::identity
