#include "tcpleak/sys/sysctl.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

using namespace tcpleak;

namespace {

// A directory shaped like /proc/sys/net/ipv4, removed at the end of the scope.
class SysctlDir {
public:
    SysctlDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "tcpleak-sysctl-XXXXXX").string();
        if (!::mkdtemp(pattern.data()))
            throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~SysctlDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    SysctlDir(const SysctlDir&) = delete;
    SysctlDir& operator=(const SysctlDir&) = delete;

    void write(const std::string& name, const std::string& text) const {
        std::ofstream(path_ / name, std::ios::binary) << text;
    }
    std::string path() const { return path_.string(); }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

// The values of this machine's initial namespace (Debian 12, kernel 6.18), as
// the kernel prints them: a number and a newline.
void write_defaults(const SysctlDir& dir) {
    dir.write("tcp_fin_timeout", "60\n");
    dir.write("tcp_orphan_retries", "0\n");
    dir.write("tcp_retries2", "15\n");
    dir.write("tcp_tw_reuse", "2\n");
    dir.write("tcp_max_tw_buckets", "131072\n");
    dir.write("tcp_synack_retries", "5\n");
    dir.write("tcp_max_syn_backlog", "2048\n");
    dir.write("tcp_syncookies", "1\n");
    dir.write("tcp_max_orphans", "131072\n");
}

} // namespace

TEST_CASE("sysctl: every TCP sysctl of a namespace, as the kernel prints them") {
    SysctlDir dir;
    write_defaults(dir);
    const TcpSysctls s = read_tcp_sysctls(dir.path());
    CHECK(s.fin_timeout_s == 60u);
    CHECK(s.orphan_retries == 0u);
    CHECK(s.retries2 == 15u);
    CHECK(s.tw_reuse == 2u);
    CHECK(s.max_tw_buckets == 131072u);
    CHECK(s.synack_retries == 5u);
    CHECK(s.max_syn_backlog == 2048u);
    CHECK(s.syncookies == 1u);
    CHECK(s.max_orphans == 131072u);
}

TEST_CASE("sysctl: a namespace other than the initial one has no tcp_max_orphans; an old kernel lacks others") {
    SysctlDir dir;
    write_defaults(dir);
    std::filesystem::remove(dir.file("tcp_max_orphans"));
    std::filesystem::remove(dir.file("tcp_syncookies"));
    const TcpSysctls s = read_tcp_sysctls(dir.path());
    CHECK_FALSE(s.max_orphans.has_value());
    CHECK_FALSE(s.syncookies.has_value());
    CHECK(s.fin_timeout_s == 60u); // the others are still read
    CHECK(s.max_tw_buckets == 131072u);
}

TEST_CASE("sysctl: a bad file is nullopt and spoils nothing else") {
    SysctlDir dir;
    write_defaults(dir);
    dir.write("tcp_fin_timeout", "");               // empty
    dir.write("tcp_orphan_retries", "-1\n");        // negative
    dir.write("tcp_retries2", "fifteen\n");         // not a number
    dir.write("tcp_tw_reuse", "2 3\n");             // two numbers
    dir.write("tcp_max_tw_buckets", "4294967296\n"); // beyond 32 bits
    dir.write("tcp_synack_retries", std::string(100, '7')); // far too long for a sysctl
    std::filesystem::remove(dir.file("tcp_max_syn_backlog"));
    std::filesystem::create_directory(dir.file("tcp_max_syn_backlog")); // a directory: read() fails
    const TcpSysctls s = read_tcp_sysctls(dir.path());
    CHECK_FALSE(s.fin_timeout_s.has_value());
    CHECK_FALSE(s.orphan_retries.has_value());
    CHECK_FALSE(s.retries2.has_value());
    CHECK_FALSE(s.tw_reuse.has_value());
    CHECK_FALSE(s.max_tw_buckets.has_value());
    CHECK_FALSE(s.synack_retries.has_value());
    CHECK_FALSE(s.max_syn_backlog.has_value());
    CHECK(s.syncookies == 1u);
    CHECK(s.max_orphans == 131072u);
}

TEST_CASE("sysctl: surrounding white space is accepted, the largest 32-bit value too") {
    SysctlDir dir;
    dir.write("a", "  30\t\n");
    dir.write("b", "4294967295\n");
    dir.write("c", "\n");
    CHECK(read_sysctl_u32(dir.file("a")) == 30u);
    CHECK(read_sysctl_u32(dir.file("b")) == 4294967295u);
    CHECK_FALSE(read_sysctl_u32(dir.file("c")).has_value());
    CHECK_FALSE(read_sysctl_u32(dir.file("missing")).has_value());
}

TEST_CASE("sysctl: a directory that does not exist gives nothing at all") {
    const TcpSysctls s = read_tcp_sysctls("/nonexistent/tcpleak/sysctl");
    CHECK_FALSE(s.fin_timeout_s.has_value());
    CHECK_FALSE(s.max_orphans.has_value());
}

TEST_CASE("sysctl: an unreadable file is nullopt (as a user other than root)") {
    if (::geteuid() == 0)
        return; // root reads a mode 000 file anyway
    SysctlDir dir;
    dir.write("tcp_fin_timeout", "60\n");
    ::chmod(dir.file("tcp_fin_timeout").c_str(), 0);
    CHECK_FALSE(read_tcp_sysctls(dir.path()).fin_timeout_s.has_value());
}

TEST_CASE("sysctl: this machine's own namespace has the per-namespace ones") {
    const TcpSysctls s = read_tcp_sysctls();
    CHECK(s.fin_timeout_s.has_value());
    CHECK(s.retries2.has_value());
    CHECK(s.orphan_retries.has_value());
}
