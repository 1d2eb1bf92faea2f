// What a cgroup v2 path names: a container, a Kubernetes pod, a systemd unit.
// Pure: reads nothing, so it is cheap to test against real-world layouts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tcpleak::identity {

enum class ContainerRuntime : std::uint8_t {
    None,    // not in a container
    Unknown, // a bare 64-hex container directory (kubelet's cgroupfs driver): any CRI runtime
    Docker,
    Containerd,
    Crio,
    Podman,
};

// Kubernetes QoS class, from where the kubelet put the pod.
enum class PodQos : std::uint8_t { None, Guaranteed, Burstable, BestEffort };

struct WorkloadIdentity {
    std::string container_id; // 64 lower-case hex digits; empty when not in a container
    ContainerRuntime container_runtime = ContainerRuntime::None;
    std::string pod_uid; // lower-case with '-' (the kubelet's systemd names use '_'); empty when not in a pod
    PodQos pod_qos = PodQos::None;
    std::string systemd_unit; // the deepest unit below the container or pod, verbatim (escapes kept)

    bool operator==(const WorkloadIdentity&) const = default;
};

// Recognises docker, containerd (CRI and nerdctl), CRI-O and podman
// containers, kubelet pods (systemd and cgroupfs drivers, any prefix), and
// systemd units. The innermost container and pod win when they nest
// (docker-in-docker, kind). A runtime's monitor (crio-conmon-, libpod-conmon-)
// is not its container: it yields the monitor's scope as systemd_unit (and the
// pod, when CRI-O puts conmon in the pod). Bytes need not be valid UTF-8;
// outputs are copied from validated, bounded components only.
WorkloadIdentity parse_cgroup_path(std::string_view path);

// "docker", "containerd", "cri-o", "podman", "unknown"; "" for None.
std::string_view to_string(ContainerRuntime runtime);
// "guaranteed", "burstable", "besteffort" (the kubelet's spelling); "" for None.
std::string_view to_string(PodQos qos);

} // namespace tcpleak::identity
