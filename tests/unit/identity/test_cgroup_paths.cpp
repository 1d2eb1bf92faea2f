#include "identity_support.hpp"
#include "tcpleak/identity/cgroup_paths.hpp"
#include "tcpleak/identity/error.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <string>

using namespace tcpleak::identity;
using tcpleak::identity::test::ManualClock;
using tcpleak::identity::test::TempDir;
using namespace std::chrono_literals;

namespace {

// A directory tree stands in for the cgroup2 mount: its inodes are the ids.
CgroupPathsOptions options_for(const TempDir& tree, ManualClock& clock) {
    CgroupPathsOptions options;
    options.root = tree.path().string();
    options.clock = clock.clock();
    return options;
}

const std::string kPod = "/kubepods.slice/kubepods-pod1.slice";

} // namespace

TEST_CASE("the first walk knows every directory by inode, the root as /") {
    TempDir tree;
    ManualClock clock;
    tree.mkdirs(kPod + "/cri-containerd-1.scope");
    tree.mkdirs("/system.slice/nginx.service");
    tree.write("/system.slice/cgroup.procs", "1\n"); // files are not cgroups
    CgroupPaths paths(options_for(tree, clock));

    CHECK(paths.path_of(tree.inode("/")) == "/");
    CHECK(paths.path_of(tree.inode(kPod)) == kPod);
    CHECK(paths.path_of(tree.inode(kPod + "/cri-containerd-1.scope")) == kPod + "/cri-containerd-1.scope");
    CHECK(paths.path_of(tree.inode("/system.slice/nginx.service")) == "/system.slice/nginx.service");
    const CgroupPathsStats stats = paths.stats();
    CHECK(stats.entries == 6);
    CHECK(stats.walks == 1);
    CHECK(stats.cache_hits == 4);
    CHECK_FALSE(stats.file_handles); // not a cgroup2 filesystem
}

TEST_CASE("a miss re-walks at most once per interval") {
    TempDir tree;
    ManualClock clock;
    CgroupPaths paths(options_for(tree, clock));
    tree.mkdirs("/new.scope");
    const std::uint64_t id = tree.inode("/new.scope");

    CHECK_FALSE(paths.path_of(id)); // the start-up walk was just now
    CHECK(paths.stats().walks_deferred == 1);
    clock.now += 999ms;
    CHECK_FALSE(paths.path_of(id));
    clock.now += 1ms;
    CHECK(paths.path_of(id) == "/new.scope");
    CHECK(paths.stats().walks == 2);
    CHECK(paths.stats().walk_hits == 1);
    CHECK(paths.path_of(id) == "/new.scope");
    CHECK(paths.stats().cache_hits == 1);
}

TEST_CASE("unknown ids cost one walk a second, however many arrive") {
    TempDir tree;
    ManualClock clock;
    CgroupPaths paths(options_for(tree, clock));
    for (std::uint64_t id = 1'000'000'000; id < 1'000'001'000; ++id)
        CHECK_FALSE(paths.path_of(id));
    clock.now += 1s;
    for (std::uint64_t id = 1'000'000'000; id < 1'000'001'000; ++id)
        CHECK_FALSE(paths.path_of(id));
    const CgroupPathsStats stats = paths.stats();
    CHECK(stats.walks == 2);
    CHECK(stats.misses == 2000);
    CHECK(stats.walks_deferred == 1999);
}

TEST_CASE("a walk forgets removed cgroups") {
    TempDir tree;
    ManualClock clock;
    tree.mkdirs("/gone.scope");
    const std::uint64_t id = tree.inode("/gone.scope");
    CgroupPaths paths(options_for(tree, clock));
    CHECK(paths.path_of(id) == "/gone.scope");
    std::filesystem::remove(tree.below("/gone.scope"));
    paths.walk();
    CHECK(paths.stats().entries == 1);
}

TEST_CASE("the cache holds at most max_entries; hitting the bound is counted") {
    TempDir tree;
    ManualClock clock;
    for (int i = 0; i < 10; ++i)
        tree.mkdirs("/c" + std::to_string(i));
    CgroupPathsOptions options = options_for(tree, clock);
    options.max_entries = 4;
    CgroupPaths paths(options);
    CHECK(paths.stats().entries == 4);
    CHECK(paths.stats().capacity_hits == 1);
}

TEST_CASE("paths over max_path_bytes and cgroups below max_depth are skipped and counted") {
    TempDir tree;
    ManualClock clock;
    tree.mkdirs("/" + std::string(200, 'x') + "/inside");
    tree.mkdirs("/a/b/c/d");
    CgroupPathsOptions options = options_for(tree, clock);
    options.max_path_bytes = 100;
    options.max_depth = 3;
    CgroupPaths paths(options);
    const CgroupPathsStats stats = paths.stats();
    CHECK(stats.too_long == 1);
    CHECK(stats.too_deep == 1); // /a/b/c is listed, /a/b/c/d is not entered
    CHECK(paths.path_of(tree.inode("/a/b/c")) == "/a/b/c");
    CHECK(stats.entries == 4);
}

TEST_CASE("id_of resolves plain paths below the root only") {
    TempDir tree;
    ManualClock clock;
    tree.mkdirs(kPod);
    tree.write("/file", "");
    CgroupPaths paths(options_for(tree, clock));
    CHECK(paths.id_of("/") == tree.inode("/"));
    CHECK(paths.id_of(kPod) == tree.inode(kPod));
    CHECK_FALSE(paths.id_of("/missing"));
    CHECK_FALSE(paths.id_of("/file"));
    CHECK_FALSE(paths.id_of("kubepods.slice"));
    CHECK_FALSE(paths.id_of("/../" + tree.path().filename().string()));
    CHECK_FALSE(paths.id_of("/kubepods.slice/./kubepods-pod1.slice"));
    CHECK_FALSE(paths.id_of(std::string("/kubepods.slice\0/x", 18)));
}

TEST_CASE("path_of_pid reads the v2 line of /proc/PID/cgroup") {
    TempDir tree;
    TempDir proc;
    ManualClock clock;
    proc.write("/42/cgroup", "1:cpu:/\n0::" + kPod + "\n");
    proc.write("/43/cgroup", "1:cpu:/\n");
    CgroupPathsOptions options = options_for(tree, clock);
    options.proc = proc.path().string();
    const CgroupPaths paths(options);
    CHECK(paths.path_of_pid(42) == kPod);
    CHECK_FALSE(paths.path_of_pid(43));
    CHECK_FALSE(paths.path_of_pid(44));
}

TEST_CASE("the root comes from mountinfo when not given") {
    TempDir tree;
    TempDir proc;
    proc.write("/self/mountinfo", "41 31 0:38 / " + tree.path().string() + " rw,relatime - cgroup2 cgroup2 rw\n");
    CgroupPathsOptions options;
    options.proc = proc.path().string();
    CHECK(CgroupPaths(options).root() == tree.path().string());
}

TEST_CASE("no cgroup2 mount, or an unopenable root, fails with one line naming it") {
    TempDir proc;
    proc.write("/self/mountinfo", "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n");
    CgroupPathsOptions options;
    options.proc = proc.path().string();
    CHECK_THROWS_WITH_AS(CgroupPaths{options},
                         ("no cgroup2 filesystem in " + proc.path().string() + "/self/mountinfo: a cgroup v1-only host?")
                             .c_str(),
                         IdentityError);
    options.root = proc.path().string() + "/missing";
    CHECK_THROWS_WITH_AS(CgroupPaths{options},
                         ("cannot open cgroup root " + options.root + ": No such file or directory").c_str(),
                         IdentityError);
}
