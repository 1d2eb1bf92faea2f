#include "identity_support.hpp"
#include "tcpleak/identity/identity.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace tcpleak::identity;
using namespace tcpleak::identity::test;
using namespace std::chrono_literals;

namespace {

const std::string kPodSlice =
    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5ed8a4f6_db4e_4b7e_a87c_67da390d031d.slice";
const std::string kContainer = kPodSlice + "/cri-containerd-" + kId + ".scope";

// A node in a temporary directory: a cgroup tree, the kubelet's log directories, a /proc.
class FakeNode {
public:
    FakeNode() {
        tree.mkdirs("/cgroup");
        tree.mkdirs("/proc");
    }

    std::uint64_t add_cgroup(const std::string& path) const {
        tree.mkdirs("/cgroup" + path);
        return tree.inode("/cgroup" + path);
    }

    // shop/cart-0 with its container cart, whose log is in the directory of the pod with that uid.
    void add_pod_logs(const std::string& container_log_target_uid = kUid) const {
        logs.add_container("shop", "cart-0", container_log_target_uid, "cart", kId);
        logs.add_pod("shop", "cart-0", kUid);
    }

    void add_process(std::uint32_t pid, const std::string& path) const {
        tree.write("/proc/" + std::to_string(pid) + "/cgroup", "1:cpu:/\n0::" + path + "\n");
    }

    CgroupPaths cgroups() {
        CgroupPathsOptions options;
        options.root = tree.below("/cgroup").string();
        options.proc = tree.below("/proc").string();
        options.clock = clock.clock();
        return CgroupPaths(options);
    }

    PodDirectory pods() { return PodDirectory(logs.options(clock)); }

    IdentityResolverOptions resolver_options() {
        IdentityResolverOptions options;
        options.clock = clock.clock();
        return options;
    }

    TempDir tree;
    KubeletLogs logs{tree, "/log"};
    ManualClock clock;
};

// A node's cgroups and pods, and a resolver that asks both.
struct KubeLookup {
    explicit KubeLookup(FakeNode& node)
        : cgroups(node.cgroups()), pods(node.pods()), resolver(cgroups, &pods, node.resolver_options()) {}

    CgroupPaths cgroups;
    PodDirectory pods;
    IdentityResolver resolver;
};

} // namespace

TEST_CASE("a Kubernetes container's cgroup id names all of it") {
    FakeNode node;
    const std::uint64_t id = node.add_cgroup(kContainer);
    node.add_pod_logs();
    KubeLookup lookup(node);

    const auto identity = lookup.resolver.of_cgroup(id);
    CHECK(identity->cgroup_id == id);
    CHECK(identity->cgroup_path == kContainer);
    CHECK(identity->container_id == kId);
    CHECK(identity->container_runtime == ContainerRuntime::Containerd);
    CHECK(identity->container_name == "cart");
    CHECK(identity->pod_uid == kUid);
    CHECK(identity->pod_qos == PodQos::Burstable);
    CHECK(identity->pod == "cart-0");
    CHECK(identity->namespace_name == "shop");
    CHECK(identity->systemd_unit.empty());
}

TEST_CASE("a second lookup is a cache hit: the same identity, nothing re-read") {
    FakeNode node;
    const std::uint64_t id = node.add_cgroup(kContainer);
    node.add_pod_logs();
    KubeLookup lookup(node);

    const auto first = lookup.resolver.of_cgroup(id);
    for (int i = 0; i < 100; ++i)
        CHECK(lookup.resolver.of_cgroup(id) == first);
    CHECK(lookup.resolver.stats().hits == 100);
    CHECK(lookup.resolver.stats().resolved == 1);
    CHECK(lookup.cgroups.stats().lookups == 1);
    CHECK(lookup.pods.stats().lookups == 2); // the pod, and the container's name
}

TEST_CASE("an unknown id is asked about again after 1s, 2s, 4s ... and found once it exists") {
    FakeNode node;
    CgroupPaths cgroups = node.cgroups();
    IdentityResolver resolver(cgroups, nullptr, node.resolver_options());
    const std::uint64_t id = node.add_cgroup("/system.slice/late.service");

    CHECK(resolver.of_cgroup(id)->cgroup_path.empty()); // the walk at start was just now
    CHECK(resolver.of_cgroup(id)->cgroup_id == id);
    node.clock.now += 999ms;
    CHECK(resolver.of_cgroup(id)->cgroup_path.empty());
    CHECK(resolver.stats().retries == 0);
    node.clock.now += 1ms;
    CHECK(resolver.of_cgroup(id)->systemd_unit == "late.service");
    CHECK(resolver.stats().retries == 1);
    CHECK(resolver.stats().resolved == 2);
}

TEST_CASE("retries of what never turns up back off to 64 intervals") {
    FakeNode node;
    CgroupPaths cgroups = node.cgroups();
    IdentityResolver resolver(cgroups, nullptr, node.resolver_options());
    resolver.of_cgroup(999'999'999);
    for (int second = 1; second <= 300; ++second) {
        node.clock.now += 1s;
        resolver.of_cgroup(999'999'999);
    }
    // At 1, 3, 7, 15, 31, 63, 127, 191, 255 seconds.
    CHECK(resolver.stats().retries == 9);
}

TEST_CASE("a pod the kubelet has not logged yet gets its names on a retry") {
    FakeNode node;
    const std::uint64_t id = node.add_cgroup(kContainer);
    KubeLookup lookup(node);

    CHECK(lookup.resolver.of_cgroup(id)->pod.empty());
    CHECK(lookup.resolver.of_cgroup(id)->pod_uid == kUid);
    node.add_pod_logs();
    node.clock.now += 1s;
    const auto identity = lookup.resolver.of_cgroup(id);
    CHECK(identity->pod == "cart-0");
    CHECK(identity->container_name == "cart");
}

TEST_CASE("a container link into another pod's directory does not name this container") {
    FakeNode node;
    const std::uint64_t id = node.add_cgroup(kContainer);
    node.add_pod_logs(kUid2);
    KubeLookup lookup(node);
    const auto identity = lookup.resolver.of_cgroup(id);
    CHECK(identity->pod == "cart-0");
    CHECK(identity->container_name.empty());
}

TEST_CASE("a pid resolves through its cgroup, and shares the cgroup's cache entry") {
    FakeNode node;
    const std::uint64_t id = node.add_cgroup(kContainer);
    node.add_pod_logs();
    node.add_process(4242, kContainer);
    KubeLookup lookup(node);

    const auto by_pid = lookup.resolver.of_pid(4242);
    CHECK(by_pid->cgroup_id == id);
    CHECK(by_pid->pod == "cart-0");
    CHECK(lookup.resolver.of_cgroup(id) == by_pid);
    CHECK(lookup.resolver.of_pid(4343)->cgroup_path.empty()); // no such process
}

TEST_CASE("a pid whose cgroup is gone is still described, without an id") {
    FakeNode node;
    node.add_process(4242, "/system.slice/docker-" + kId + ".scope");
    CgroupPaths cgroups = node.cgroups();
    IdentityResolver resolver(cgroups, nullptr, node.resolver_options());
    const auto identity = resolver.of_pid(4242);
    CHECK(identity->cgroup_id == 0);
    CHECK(identity->container_id == kId);
    CHECK(identity->container_runtime == ContainerRuntime::Docker);
    CHECK(resolver.stats().entries == 0);
}

TEST_CASE("without a pod directory, pods keep their uid and are complete") {
    FakeNode node;
    const std::uint64_t id = node.add_cgroup(kContainer);
    CgroupPaths cgroups = node.cgroups();
    IdentityResolver resolver(cgroups, nullptr, node.resolver_options());
    CHECK(resolver.of_cgroup(id)->pod_uid == kUid);
    node.clock.now += 1h;
    resolver.of_cgroup(id);
    CHECK(resolver.stats().retries == 0);
}

TEST_CASE("the cache is bounded: when full it starts over, counted") {
    FakeNode node;
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < 5; ++i)
        ids.push_back(node.add_cgroup("/c" + std::to_string(i) + ".scope"));
    CgroupPaths cgroups = node.cgroups();
    IdentityResolverOptions options = node.resolver_options();
    options.max_entries = 3;
    IdentityResolver resolver(cgroups, nullptr, options);
    for (const std::uint64_t id : ids)
        CHECK(resolver.of_cgroup(id)->systemd_unit.ends_with(".scope"));
    CHECK(resolver.stats().entries <= 3);
    CHECK(resolver.stats().restarts == 1);
}

TEST_CASE("hostile cgroup names: raw bytes are kept in the path, and name nothing") {
    FakeNode node;
    const std::string hostile = "/user.slice/\xff\xfe\n0::/kubepods.slice\x01 \"\\";
    const std::uint64_t id = node.add_cgroup(hostile);
    node.add_process(7, hostile);
    CgroupPaths cgroups = node.cgroups();
    IdentityResolver resolver(cgroups, nullptr, node.resolver_options());
    const auto identity = resolver.of_cgroup(id);
    CHECK(identity->cgroup_path == hostile);
    CHECK(identity->container_id.empty());
    CHECK(identity->pod_uid.empty());
    CHECK(identity->systemd_unit.empty());
    CHECK(resolver.of_pid(7) == identity);
}
