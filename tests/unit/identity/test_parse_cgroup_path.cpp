#include "tcpleak/identity/workload.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

using namespace tcpleak::identity;

namespace {

// Ids as the runtimes make them: 64 lower-case hex digits.
const std::string kId = "49f9e8e5395d57c1083996c09e2e6f042d5fe1ec0310facab32f94912b35ce59";
const std::string kId2 = "73051af271105c07e1f493b34856a77e665e3b0b4fc72f76c807dfbffeb881bd";
const std::string kNode = "d6701ec289c56e4391acb11d07474b3139466857a305490575508a8b7a9fcf22";
const std::string kUid = "8712f785-1a3e-41ec-a00b-e2dcc77431cb";
const std::string kUidSystemd = "8712f785_1a3e_41ec_a00b_e2dcc77431cb"; // the kubelet's systemd driver spelling
const std::string kStaticUid = "3e61c214bc3ed9ff81e21474dd6cba17";     // a static pod: the manifest's hash

struct Expected {
    std::string path;
    std::string container_id;
    std::string runtime;
    std::string pod_uid;
    std::string qos;
    std::string unit;
};

void check(const std::vector<Expected>& table) {
    for (const Expected& row : table) {
        INFO("path: " << row.path);
        const WorkloadIdentity got = parse_cgroup_path(row.path);
        CHECK(got.container_id == row.container_id);
        CHECK(to_string(got.container_runtime) == row.runtime);
        CHECK(got.pod_uid == row.pod_uid);
        CHECK(to_string(got.pod_qos) == row.qos);
        CHECK(got.systemd_unit == row.unit);
    }
}

std::string burstable_pod_slice(const std::string& uid) {
    return "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uid + ".slice";
}

} // namespace

TEST_CASE("docker containers, systemd and cgroupfs drivers, nested") {
    check({
        {"/system.slice/docker-" + kId + ".scope", kId, "docker", "", "", ""},
        {"/docker/" + kId, kId, "docker", "", "", ""},
        {"/docker/" + kNode + "/docker/" + kId, kId, "docker", "", "", ""},
        {"/system.slice/docker-" + kNode + ".scope/docker/" + kId, kId, "docker", "", "", ""},
        // Rootless docker, under the user's systemd.
        {"/user.slice/user-1000.slice/user@1000.service/docker.service/docker-" + kId + ".scope", kId, "docker", "",
         "", ""},
        // The daemon itself is a unit, not a container.
        {"/system.slice/docker.service", "", "", "", "", "docker.service"},
    });
}

TEST_CASE("containerd, CRI-O and podman containers outside Kubernetes") {
    check({
        {"/system.slice/nerdctl-" + kId + ".scope", kId, "containerd", "", "", ""},
        {"/user.slice/user-1000.slice/user@1000.service/user.slice/nerdctl-" + kId + ".scope", kId, "containerd", "",
         "", ""},
        {"/machine.slice/libpod-" + kId + ".scope", kId, "podman", "", "", ""},
        {"/machine.slice/libpod-" + kId + ".scope/container", kId, "podman", "", "", ""},
        {"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + kId + ".scope", kId, "podman", "", "",
         ""},
        {"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + kId + ".scope/container", kId, "podman",
         "", "", ""},
        {"/libpod_parent/libpod-" + kId, kId, "podman", "", "", ""},
        {"/libpod_parent/" + kId, kId, "podman", "", "", ""},
        {"/system.slice/containerd.service", "", "", "", "", "containerd.service"},
        {"/system.slice/crio.service", "", "", "", "", "crio.service"},
    });
}

TEST_CASE("the monitors are not their containers: conmon is reported as its scope") {
    check({
        {"/machine.slice/libpod-conmon-" + kId + ".scope", "", "", "", "", "libpod-conmon-" + kId + ".scope"},
        {"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-conmon-" + kId + ".scope", "", "", "", "",
         "libpod-conmon-" + kId + ".scope"},
        // CRI-O's default conmon_cgroup is system.slice ...
        {"/system.slice/crio-conmon-" + kId + ".scope", "", "", "", "", "crio-conmon-" + kId + ".scope"},
        // ... and conmon_cgroup = "pod" (OpenShift) charges it to the pod.
        {burstable_pod_slice(kUidSystemd) + "/crio-conmon-" + kId + ".scope", "", "", kUid, "burstable",
         "crio-conmon-" + kId + ".scope"},
    });
}

TEST_CASE("kubelet with the systemd driver: every QoS class and runtime") {
    check({
        {burstable_pod_slice(kUidSystemd) + "/cri-containerd-" + kId + ".scope", kId, "containerd", kUid, "burstable",
         ""},
        {"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + kUidSystemd + ".slice/crio-" + kId +
             ".scope",
         kId, "cri-o", kUid, "besteffort", ""},
        {"/kubepods.slice/kubepods-pod" + kUidSystemd + ".slice/cri-containerd-" + kId + ".scope", kId, "containerd",
         kUid, "guaranteed", ""},
        // cri-dockerd (and the old dockershim).
        {"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + kUidSystemd + ".slice/docker-" + kId +
             ".scope",
         kId, "docker", kUid, "besteffort", ""},
        // crun's sub-cgroup under CRI-O, and a container's own sub-cgroups.
        {burstable_pod_slice(kUidSystemd) + "/crio-" + kId + ".scope/container", kId, "cri-o", kUid, "burstable", ""},
        // Static pods: the uid is the manifest's 32-hex hash; some setups drop ".scope".
        {burstable_pod_slice(kStaticUid) + "/cri-containerd-" + kId, kId, "containerd", kStaticUid, "burstable", ""},
        // The pod's own slice, and the QoS slices above it, hold no container.
        {burstable_pod_slice(kUidSystemd), "", "", kUid, "burstable", ""},
        {"/kubepods.slice/kubepods-burstable.slice", "", "", "", "", ""},
        {"/kubepods.slice", "", "", "", "", ""},
    });
}

TEST_CASE("kubelet with the cgroupfs driver") {
    check({
        {"/kubepods/burstable/pod" + kUid + "/" + kId, kId, "unknown", kUid, "burstable", ""},
        {"/kubepods/besteffort/pod" + kUid + "/" + kId, kId, "unknown", kUid, "besteffort", ""},
        {"/kubepods/pod" + kUid + "/" + kId, kId, "unknown", kUid, "guaranteed", ""},
        {"/kubepods/besteffort/pod" + kUid + "/" + kId + "/kube-proxy", kId, "unknown", kUid, "besteffort", ""},
        {"/kubepods/pod" + kUid + "/crio-" + kId, kId, "cri-o", kUid, "guaranteed", ""},
        {"/kubepods/burstable/pod" + kStaticUid + "/" + kId, kId, "unknown", kStaticUid, "burstable", ""},
        {"/kubepods/burstable/pod" + kUid, "", "", kUid, "burstable", ""},
        {"/kubepods/burstable", "", "", "", "", ""},
    });
}

TEST_CASE("kind, minikube, k3d: a whole node nested in a container; the inner workload wins") {
    const std::string kind_node = "/system.slice/docker-" + kNode + ".scope";
    check({
        {kind_node + "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
                     "kubelet-kubepods-besteffort-pod" +
             kUidSystemd + ".slice/cri-containerd-" + kId + ".scope",
         kId, "containerd", kUid, "besteffort", ""},
        {kind_node + "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod" + kUidSystemd +
             ".slice/cri-containerd-" + kId + ".scope",
         kId, "containerd", kUid, "guaranteed", ""},
        // The node's own daemons: the node container, and the unit inside it.
        {kind_node + "/system.slice/containerd.service", kNode, "docker", "", "", "containerd.service"},
        {kind_node + "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
                     "kubelet-kubepods-besteffort-pod" +
             kUidSystemd + ".slice",
         "", "", kUid, "besteffort", ""},
        {"/docker/" + kNode + "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + kUidSystemd +
             ".slice/crio-" + kId + ".scope",
         kId, "cri-o", kUid, "besteffort", ""},
        {"/docker/" + kNode + "/kubepods/burstable/pod" + kUid + "/" + kId, kId, "unknown", kUid, "burstable", ""},
        // Seen from inside a cgroup namespace, the path climbs out first.
        {"/../../kubepods.slice/kubepods-pod" + kUidSystemd + ".slice/cri-containerd-" + kId + ".scope", kId,
         "containerd", kUid, "guaranteed", ""},
        // A docker-in-docker CI job in a pod: still that pod, the innermost container.
        {"/kubepods/burstable/pod" + kUid + "/" + kId2 + "/docker/" + kId, kId, "docker", kUid, "burstable", ""},
    });
}

TEST_CASE("containerd's systemd notation under a cgroupfs kubelet") {
    check({
        {"/system.slice/containerd.service/kubepods-burstable-pod" + kUidSystemd + ".slice:cri-containerd:" + kId, kId,
         "containerd", kUid, "burstable", ""},
        {"/kubepods-besteffort-pod" + kUidSystemd + ".slice:cri-containerd:" + kId, kId, "containerd", kUid,
         "besteffort", ""},
        {"/kubepods-pod" + kUidSystemd + ".slice:crio:" + kId, kId, "cri-o", kUid, "guaranteed", ""},
    });
}

TEST_CASE("pod uids are normalised to the API's lower-case, dashed form") {
    check({
        {"/kubepods.slice/kubepods-pod8712F785_1A3E_41EC_A00B_E2DCC77431CB.slice/cri-containerd-" + kId + ".scope", kId,
         "containerd", kUid, "guaranteed", ""},
        {"/kubepods/pod8712F785-1A3E-41EC-A00B-E2DCC77431CB/" + kId, kId, "unknown", kUid, "guaranteed", ""},
    });
}

TEST_CASE("systemd units: services, sessions, the user manager, templates, escapes") {
    check({
        {"/system.slice/nginx.service", "", "", "", "", "nginx.service"},
        {"/system.slice/kubelet.service", "", "", "", "", "kubelet.service"},
        {"/user.slice/user-1000.slice/session-3.scope", "", "", "", "", "session-3.scope"},
        {"/user.slice/user-1000.slice/user@1000.service", "", "", "", "", "user@1000.service"},
        {"/user.slice/user-1000.slice/user@1000.service/init.scope", "", "", "", "", "init.scope"},
        {"/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-4242.scope", "", "", "", "",
         "app-gnome-firefox-4242.scope"},
        {"/system.slice/system-getty.slice/getty@tty1.service", "", "", "", "", "getty@tty1.service"},
        // Unit names are kept verbatim, escapes included: that is what systemctl takes.
        {"/system.slice/system-serial\\x2dgetty.slice/serial-getty@ttyS0.service", "", "", "", "",
         "serial-getty@ttyS0.service"},
        {"/system.slice/systemd-fsck@dev-disk-by\\x2duuid-4f2a.service", "", "", "", "",
         "systemd-fsck@dev-disk-by\\x2duuid-4f2a.service"},
        {"/system.slice/var-lib-docker.mount", "", "", "", "", "var-lib-docker.mount"},
        {"/system.slice/sshd.socket", "", "", "", "", "sshd.socket"},
        // A delegated subtree below a service is still that service.
        {"/system.slice/buildkitd.service/payload/worker", "", "", "", "", "buildkitd.service"},
        {"/init.scope", "", "", "", "", "init.scope"},
        {"/system.slice", "", "", "", "", ""},
        {"/", "", "", "", "", ""},
        {"", "", "", "", "", ""},
    });
}

TEST_CASE("near misses name nothing they do not prove") {
    const std::string upper = "49F9E8E5395D57C1083996C09E2E6F042D5FE1EC0310FACAB32F94912B35CE59";
    check({
        {"/docker/" + kId.substr(1), "", "", "", "", ""},
        {"/docker/" + upper, "", "", "", "", ""},
        {"/docker/" + kId + "0", "", "", "", "", ""},
        {"/system.slice/docker-" + kId + "x.scope", "", "", "", "", "docker-" + kId + "x.scope"},
        {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podnot-a-uid.slice", "", "", "", "", ""},
        {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kUidSystemd + "0.slice", "", "", "", "",
         ""},
        {"/kubepodsx-pod" + kUidSystemd + ".slice", "", "", "", "", ""},
        {"/kubepods-burstable-pod" + kUidSystemd + ".service", "", "", "", "",
         "kubepods-burstable-pod" + kUidSystemd + ".service"},
        {"/notkube/pod" + kUid + "/" + kId, kId, "unknown", "", "", ""},
        {"/x/burstable/pod" + kUid, "", "", "", "", ""},
        {"/kubepods/burstable/pod/" + kId, kId, "unknown", "", "", ""},
        {"/kubepods-pod" + kUidSystemd + ".slice:cri-containerd:" + kId + ":extra", "", "", "", "", ""},
        {"/kubepods-pod" + kUidSystemd + ".slice:runc:" + kId, "", "", kUid, "guaranteed", ""},
        {"/system.slice/\xff\xfe\x80.service", "", "", "", "", ""},
        {"/system.slice/nginx service.service", "", "", "", "", ""},
        {"/system.slice/.service", "", "", "", "", ""},
    });
}

TEST_CASE("arbitrary bytes never crash the parser and only yield validated fields") {
    std::mt19937_64 random(42);
    static constexpr char kBytes[] = "/-_.:@\\podkubecrislbeftn0123456789abcdef\xff\n\0";
    const std::string alphabet = std::string(kBytes, sizeof kBytes - 1) + kUidSystemd; // keeps the NUL
    for (int round = 0; round < 20000; ++round) {
        std::string path;
        const std::size_t length = random() % 200;
        for (std::size_t i = 0; i < length; ++i)
            path += alphabet[random() % alphabet.size()];
        if (round % 7 == 0)
            path += "/kubepods-pod" + kUidSystemd + ".slice/crio-" + kId.substr(0, random() % 65) + ".scope";
        const WorkloadIdentity got = parse_cgroup_path(path);
        INFO("path: " << path);
        CHECK((got.container_id.empty() || got.container_id.size() == 64));
        CHECK((got.pod_uid.empty() || got.pod_uid.size() == 32 || got.pod_uid.size() == 36));
        CHECK(got.systemd_unit.size() <= 255);
        CHECK(got.container_id.empty() == (got.container_runtime == ContainerRuntime::None));
        CHECK(got.pod_uid.empty() == (got.pod_qos == PodQos::None));
    }
}

TEST_CASE("a very long path is one linear pass") {
    std::string path;
    for (int i = 0; i < 100000; ++i)
        path += "/system.slice";
    path += "/docker-" + kId + ".scope";
    CHECK(parse_cgroup_path(path).container_id == kId);
}
