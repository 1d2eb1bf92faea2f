#include "names.hpp"
#include "tcpleak/identity/workload.hpp"

#include <array>
#include <optional>

namespace tcpleak::identity {

namespace {

struct ContainerPrefix {
    std::string_view prefix;
    ContainerRuntime runtime;
};

// <prefix><64 hex>[.scope]. docker-: dockerd's systemd driver; cri-containerd-:
// containerd's CRI plugin; nerdctl-: containerd's own CLI; crio-: CRI-O;
// libpod-: podman. The monitors, crio-conmon-<id> and libpod-conmon-<id>,
// fail the id check on purpose: conmon is not the container.
constexpr std::array<ContainerPrefix, 5> kContainerPrefixes{{
    {"docker-", ContainerRuntime::Docker},
    {"cri-containerd-", ContainerRuntime::Containerd},
    {"nerdctl-", ContainerRuntime::Containerd},
    {"crio-", ContainerRuntime::Crio},
    {"libpod-", ContainerRuntime::Podman},
}};

struct Container {
    std::string_view id;
    ContainerRuntime runtime;
};

struct Pod {
    std::string uid;
    PodQos qos;
};

// runc's systemd notation "slice:prefix:name" as a literal directory name: what
// containerd set to the systemd driver makes under a kubelet on cgroupfs.
struct ColonForm {
    std::string_view slice, prefix, name;
};

std::optional<ColonForm> colon_form(std::string_view component) {
    const auto parts = split_three(component, ':');
    if (!parts)
        return std::nullopt;
    const auto& [slice, prefix, name] = *parts;
    return ColonForm{slice, prefix, name};
}

// Only a parent that one runtime owns tells a bare id's runtime.
ContainerRuntime runtime_of_bare_id(std::string_view parent) {
    if (parent == "docker") // dockerd's cgroupfs driver, also nested in docker-in-docker
        return ContainerRuntime::Docker;
    if (parent == "libpod_parent") // podman's cgroupfs driver
        return ContainerRuntime::Podman;
    return ContainerRuntime::Unknown;
}

std::optional<Container> container_in(std::string_view component, std::string_view parent) {
    const std::string_view name = without_suffix(component, ".scope");
    if (is_container_id(name))
        return Container{name, runtime_of_bare_id(parent)};
    for (const auto& [prefix, runtime] : kContainerPrefixes)
        if (name.starts_with(prefix) && is_container_id(name.substr(prefix.size())))
            return Container{name.substr(prefix.size()), runtime};
    return std::nullopt;
}

std::optional<Container> container_in(const ColonForm& form) {
    if (!is_container_id(form.name))
        return std::nullopt;
    for (const auto& [prefix, runtime] : kContainerPrefixes)
        if (without_suffix(prefix, "-") == form.prefix)
            return Container{form.name, runtime};
    return std::nullopt;
}

// The kubelet's systemd driver: <root>kubepods[-burstable|-besteffort]-pod<uid>.slice,
// where <root> is empty or ends in '-' (kind's "kubelet-"), and the uid has '_' for '-'.
std::optional<Pod> systemd_pod(std::string_view component) {
    if (!component.ends_with(".slice"))
        return std::nullopt;
    const std::string_view stem = without_suffix(component, ".slice");
    const std::size_t pod_at = stem.rfind("-pod");
    if (pod_at == std::string_view::npos)
        return std::nullopt;
    std::optional<std::string> uid = normalise_pod_uid(stem.substr(pod_at + 4));
    std::string_view parent = stem.substr(0, pod_at);
    PodQos qos = PodQos::Guaranteed;
    if (parent.ends_with("-burstable"))
        qos = PodQos::Burstable;
    else if (parent.ends_with("-besteffort"))
        qos = PodQos::BestEffort;
    if (qos != PodQos::Guaranteed)
        parent = parent.substr(0, parent.rfind('-'));
    if (!uid || !(parent == "kubepods" || parent.ends_with("-kubepods")))
        return std::nullopt;
    return Pod{std::move(*uid), qos};
}

// The kubelet's cgroupfs driver: kubepods/pod<uid>, kubepods/{burstable,besteffort}/pod<uid>.
std::optional<Pod> cgroupfs_pod(std::string_view component, std::string_view parent, std::string_view grandparent) {
    if (!component.starts_with("pod"))
        return std::nullopt;
    PodQos qos = PodQos::None;
    if (parent == "kubepods")
        qos = PodQos::Guaranteed;
    else if (grandparent == "kubepods" && parent == "burstable")
        qos = PodQos::Burstable;
    else if (grandparent == "kubepods" && parent == "besteffort")
        qos = PodQos::BestEffort;
    std::optional<std::string> uid = normalise_pod_uid(component.substr(3));
    if (qos == PodQos::None || !uid)
        return std::nullopt;
    return Pod{std::move(*uid), qos};
}

// Walks the components root to leaf. A pod or container found deeper replaces
// what was found above it: the innermost workload is the one the process is in.
class Scan {
public:
    void visit(std::string_view component) {
        if (const auto form = colon_form(component)) {
            found(systemd_pod(form->slice));
            found(container_in(*form));
        } else {
            const bool pod = found(component.starts_with("pod") ? cgroupfs_pod(component, parent_, grandparent_)
                                                                : systemd_pod(component));
            const bool container = found(container_in(component, parent_));
            if (!pod && !container && is_process_unit_name(component))
                unit_ = component;
        }
        grandparent_ = parent_;
        parent_ = component;
    }

    WorkloadIdentity result() && {
        WorkloadIdentity identity;
        if (container_) {
            identity.container_id = std::string(container_->id);
            identity.container_runtime = container_->runtime;
        }
        if (pod_) {
            identity.pod_uid = std::move(pod_->uid);
            identity.pod_qos = pod_->qos;
        }
        identity.systemd_unit = std::string(unit_);
        return identity;
    }

private:
    // A pod inside a container starts afresh: that container is its host (a kind node).
    bool found(std::optional<Pod> pod) {
        if (!pod)
            return false;
        pod_ = std::move(pod);
        container_.reset();
        unit_ = {};
        return true;
    }

    // A container inside a pod stays in the pod; units above it are its hosts'.
    bool found(std::optional<Container> container) {
        if (!container)
            return false;
        container_ = container;
        unit_ = {};
        return true;
    }

    std::string_view parent_, grandparent_, unit_;
    std::optional<Container> container_;
    std::optional<Pod> pod_;
};

} // namespace

WorkloadIdentity parse_cgroup_path(std::string_view path) {
    Scan scan;
    for (std::size_t start = 0; start < path.size();) {
        std::size_t slash = path.find('/', start);
        if (slash == std::string_view::npos)
            slash = path.size();
        if (slash > start)
            scan.visit(path.substr(start, slash - start));
        start = slash + 1;
    }
    return std::move(scan).result();
}

std::string_view to_string(ContainerRuntime runtime) {
    switch (runtime) {
    case ContainerRuntime::None: return "";
    case ContainerRuntime::Unknown: return "unknown";
    case ContainerRuntime::Docker: return "docker";
    case ContainerRuntime::Containerd: return "containerd";
    case ContainerRuntime::Crio: return "cri-o";
    case ContainerRuntime::Podman: return "podman";
    }
    return "";
}

std::string_view to_string(PodQos qos) {
    switch (qos) {
    case PodQos::None: return "";
    case PodQos::Guaranteed: return "guaranteed";
    case PodQos::Burstable: return "burstable";
    case PodQos::BestEffort: return "besteffort";
    }
    return "";
}

} // namespace tcpleak::identity
