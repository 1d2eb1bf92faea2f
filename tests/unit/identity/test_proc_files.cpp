#include "tcpleak/identity/proc_files.hpp"

#include <doctest/doctest.h>

using namespace tcpleak::identity;

TEST_CASE("the cgroup2 mount of a hybrid host is /sys/fs/cgroup/unified") {
    const char* mountinfo = "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
                            "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
                            "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
                            "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
                            "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
    CHECK(find_cgroup2_mount(mountinfo) == "/sys/fs/cgroup/unified");
}

TEST_CASE("the cgroup2 mount of a v2-only host, optional fields and all") {
    const char* mountinfo =
        "26 1 252:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        "30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 master:2 - cgroup2 cgroup2 "
        "rw,nsdelegate,memory_recursiveprot\n";
    CHECK(find_cgroup2_mount(mountinfo) == "/sys/fs/cgroup");
}

TEST_CASE("a mount point with escaped spaces, the first cgroup2 wins") {
    const char* mountinfo = "700 600 0:26 / /host/sys/fs/my\\040cgroup ro - cgroup2 cgroup2 rw\n"
                            "701 600 0:26 / /sys/fs/cgroup ro - cgroup2 cgroup2 rw";
    CHECK(find_cgroup2_mount(mountinfo) == "/host/sys/fs/my cgroup");
}

TEST_CASE("no cgroup2 mount: a v1-only host, or junk") {
    CHECK_FALSE(find_cgroup2_mount("32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"));
    CHECK_FALSE(find_cgroup2_mount(""));
    CHECK_FALSE(find_cgroup2_mount("cgroup2\n- cgroup2\n1 2 3 4 5 6 -\n"));
    // "cgroup2" as a mount point or source is not the type.
    CHECK_FALSE(find_cgroup2_mount("41 31 0:38 / /cgroup2 rw - tmpfs cgroup2 rw\n"));
}

TEST_CASE("the v2 path of /proc/PID/cgroup on a hybrid host is the 0:: line") {
    const char* hybrid = "9:name=systemd:/\n"
                         "4:memory:/process_api/3dae87b324f050a5088f672bd16406d0\n"
                         "1:cpu:/\n"
                         "0::/kubepods.slice/kubepods-pod1.slice\n";
    CHECK(cgroup2_path_in_proc_cgroup(hybrid) == "/kubepods.slice/kubepods-pod1.slice");
}

TEST_CASE("the v2 path of /proc/PID/cgroup on a v2-only host") {
    CHECK(cgroup2_path_in_proc_cgroup("0::/system.slice/nginx.service\n") == "/system.slice/nginx.service");
    CHECK(cgroup2_path_in_proc_cgroup("0::/\n") == "/");
    CHECK(cgroup2_path_in_proc_cgroup("0::/init.scope") == "/init.scope");
    CHECK(cgroup2_path_in_proc_cgroup("0::/../../kubepods.slice\n") == "/../../kubepods.slice");
}

TEST_CASE("a cgroup name with a newline is kept whole, not cut into a forged line") {
    CHECK(cgroup2_path_in_proc_cgroup("0::/user.slice/x\n0::/kubepods.slice\n") ==
          "/user.slice/x\n0::/kubepods.slice");
}

TEST_CASE("no v2 line, or not a path") {
    CHECK_FALSE(cgroup2_path_in_proc_cgroup("1:cpu:/\n2:memory:/docker/abc\n"));
    CHECK_FALSE(cgroup2_path_in_proc_cgroup(""));
    CHECK_FALSE(cgroup2_path_in_proc_cgroup("10::/x\n"));
    CHECK_FALSE(cgroup2_path_in_proc_cgroup("0::\n"));
    CHECK_FALSE(cgroup2_path_in_proc_cgroup("0::relative\n"));
}
