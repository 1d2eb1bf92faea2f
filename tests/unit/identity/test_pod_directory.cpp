#include "identity_support.hpp"
#include "tcpleak/identity/pod_directory.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

using namespace tcpleak::identity;
using namespace tcpleak::identity::test;
using namespace std::chrono_literals;

namespace {

// A node's /var/log.
struct FakeNode {
    TempDir dir;
    KubeletLogs logs{dir};
};

} // namespace

TEST_CASE("pods by uid and containers by id, from the kubelet's log directories") {
    FakeNode node;
    ManualClock clock;
    node.logs.add_container("shop", "cart-7d9f-x2x4q", kUid, "cart", kId);
    node.logs.add_container("shop", "cart-7d9f-x2x4q", kUid, "istio-proxy", kId2);
    PodDirectory pods(node.logs.options(clock));

    const auto pod = pods.pod(kUid);
    REQUIRE(pod);
    CHECK(pod->namespace_name == "shop");
    CHECK(pod->pod == "cart-7d9f-x2x4q");
    const auto container = pods.container(kId2);
    REQUIRE(container);
    CHECK(container->container == "istio-proxy");
    CHECK(container->pod_uid == kUid);
    const PodDirectoryStats stats = pods.stats();
    CHECK(stats.pods == 1);
    CHECK(stats.containers == 2);
    CHECK(stats.pods_dir_readable);
    CHECK(stats.refreshes == 1);
}

TEST_CASE("a miss re-reads at most once per interval; the re-read replaces the tables") {
    FakeNode node;
    ManualClock clock;
    node.logs.add_pod("default", "old", kUid);
    PodDirectory pods(node.logs.options(clock));
    node.logs.add_pod("default", "new", kUid2);
    std::filesystem::remove_all(node.dir.below("/pods/default_old_" + kUid));

    CHECK_FALSE(pods.pod(kUid2));
    CHECK(pods.stats().refreshes_deferred == 1);
    clock.now += 1s;
    CHECK(pods.pod(kUid2)->pod == "new");
    CHECK(pods.stats().refreshes == 2);
    CHECK_FALSE(pods.pod(kUid)); // gone with the re-read; no new one is due yet
    CHECK(pods.stats().misses == 2);
}

TEST_CASE("junk entries are ignored and counted; files are not pods") {
    FakeNode node;
    ManualClock clock;
    node.logs.add_pod("default", "web", kUid);
    node.dir.mkdirs("/pods/not-a-pod");
    node.dir.mkdirs("/pods/default_web_" + kUid + "_x");
    node.dir.write("/pods/default_file_" + kUid2, "");
    node.dir.mkdirs("/containers");
    node.dir.write("/containers/README", "");
    // A link whose name and target disagree about the container.
    std::filesystem::create_symlink(node.dir.below("/pods/default_web_" + kUid + "/a/0.log"),
                                    node.dir.below("/containers/web_default_b-" + kId + ".log"));
    PodDirectory pods(node.logs.options(clock));
    const PodDirectoryStats stats = pods.stats();
    CHECK(stats.pods == 1);
    CHECK(stats.containers == 0);
    CHECK(stats.ignored == 3); // the two odd directories and the bad link; plain files are passed over
    CHECK_FALSE(pods.pod(kUid2));
}

TEST_CASE("the tables are bounded; hitting the bound is counted") {
    FakeNode node;
    ManualClock clock;
    for (int i = 0; i < 10; ++i)
        node.logs.add_pod("default", "web-" + std::to_string(i), "5ed8a4f6-db4e-4b7e-a87c-67da390d03" + std::to_string(10 + i));
    PodDirectoryOptions options = node.logs.options(clock);
    options.max_pods = 3;
    PodDirectory pods(options);
    CHECK(pods.stats().pods == 3);
    CHECK(pods.stats().capacity_hits == 1);
}

TEST_CASE("no pods directory: not a Kubernetes node, lookups just miss") {
    TempDir empty;
    ManualClock clock;
    PodDirectory pods(KubeletLogs(empty).options(clock));
    CHECK_FALSE(pods.stats().pods_dir_readable);
    CHECK_FALSE(pods.pod(kUid));
    CHECK_FALSE(pods.container(kId));
}

TEST_CASE("without a containers directory, pods are still found") {
    FakeNode node;
    ManualClock clock;
    node.logs.add_container("default", "web", kUid, "nginx", kId);
    PodDirectoryOptions options = node.logs.options(clock);
    options.containers_dir.clear();
    PodDirectory pods(options);
    CHECK(pods.pod(kUid)->pod == "web");
    CHECK_FALSE(pods.container(kId));
}
