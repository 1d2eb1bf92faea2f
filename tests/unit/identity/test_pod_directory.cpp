#include "identity_support.hpp"
#include "tcpleak/identity/pod_directory.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

using namespace tcpleak::identity;
using tcpleak::identity::test::ManualClock;
using tcpleak::identity::test::TempDir;
using namespace std::chrono_literals;

namespace {

const std::string kUid = "5ed8a4f6-db4e-4b7e-a87c-67da390d031d";
const std::string kUid2 = "8712f785-1a3e-41ec-a00b-e2dcc77431cb";
const std::string kId = "c50666e24d9091a348a831015800cd8c603e3fb9ca23958b249f74e17487f21d";
const std::string kId2 = "73051af271105c07e1f493b34856a77e665e3b0b4fc72f76c807dfbffeb881bd";

// A node's /var/log: pods/<ns>_<pod>_<uid>/<container>/0.log and the containers/ links the kubelet makes.
class FakeNode {
public:
    void add_pod(const std::string& ns, const std::string& pod, const std::string& uid) const {
        dir.mkdirs("/pods/" + ns + "_" + pod + "_" + uid);
    }

    void add_container(const std::string& ns, const std::string& pod, const std::string& uid,
                       const std::string& container, const std::string& id) const {
        const std::string log = "/pods/" + ns + "_" + pod + "_" + uid + "/" + container + "/0.log";
        dir.write(log, "");
        dir.mkdirs("/containers");
        std::filesystem::create_symlink(dir.below(log),
                                        dir.below("/containers/" + pod + "_" + ns + "_" + container + "-" + id + ".log"));
    }

    PodDirectoryOptions options(ManualClock& clock) const {
        PodDirectoryOptions options;
        options.pods_dir = dir.below("/pods").string();
        options.containers_dir = dir.below("/containers").string();
        options.clock = clock.clock();
        return options;
    }

    TempDir dir;
};

} // namespace

TEST_CASE("pods by uid and containers by id, from the kubelet's log directories") {
    FakeNode node;
    ManualClock clock;
    node.add_container("shop", "cart-7d9f-x2x4q", kUid, "cart", kId);
    node.add_container("shop", "cart-7d9f-x2x4q", kUid, "istio-proxy", kId2);
    PodDirectory pods(node.options(clock));

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
    node.add_pod("default", "old", kUid);
    PodDirectory pods(node.options(clock));
    node.add_pod("default", "new", kUid2);
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
    node.add_pod("default", "web", kUid);
    node.dir.mkdirs("/pods/not-a-pod");
    node.dir.mkdirs("/pods/default_web_" + kUid + "_x");
    node.dir.write("/pods/default_file_" + kUid2, "");
    node.dir.mkdirs("/containers");
    node.dir.write("/containers/README", "");
    // A link whose name and target disagree about the container.
    std::filesystem::create_symlink(node.dir.below("/pods/default_web_" + kUid + "/a/0.log"),
                                    node.dir.below("/containers/web_default_b-" + kId + ".log"));
    PodDirectory pods(node.options(clock));
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
        node.add_pod("default", "web-" + std::to_string(i), "5ed8a4f6-db4e-4b7e-a87c-67da390d03" + std::to_string(10 + i));
    PodDirectoryOptions options = node.options(clock);
    options.max_pods = 3;
    PodDirectory pods(options);
    CHECK(pods.stats().pods == 3);
    CHECK(pods.stats().capacity_hits == 1);
}

TEST_CASE("no pods directory: not a Kubernetes node, lookups just miss") {
    TempDir empty;
    ManualClock clock;
    PodDirectoryOptions options;
    options.pods_dir = empty.below("/pods").string();
    options.containers_dir = empty.below("/containers").string();
    options.clock = clock.clock();
    PodDirectory pods(options);
    CHECK_FALSE(pods.stats().pods_dir_readable);
    CHECK_FALSE(pods.pod(kUid));
    CHECK_FALSE(pods.container(kId));
}

TEST_CASE("without a containers directory, pods are still found") {
    FakeNode node;
    ManualClock clock;
    node.add_container("default", "web", kUid, "nginx", kId);
    PodDirectoryOptions options = node.options(clock);
    options.containers_dir.clear();
    PodDirectory pods(options);
    CHECK(pods.pod(kUid)->pod == "web");
    CHECK_FALSE(pods.container(kId));
}
