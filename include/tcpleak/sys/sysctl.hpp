// The TCP sysctls that decide how long a closing socket may stay, read from
// /proc/sys/net/ipv4/. Most of them are per network namespace: /proc/sys/net
// shows the namespace of the thread that reads it, so the caller reads them
// on a thread that entered the socket's namespace (setns) and this just reads
// files. A file that is missing (an older kernel, or a global sysctl in a
// namespace other than the initial one) or unreadable gives nullopt; one bad
// file never spoils the others, and nothing here throws for a bad file.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tcpleak {

inline constexpr const char* kProcSysNetIpv4 = "/proc/sys/net/ipv4";

struct TcpSysctls {
    // Per network namespace:
    std::optional<std::uint32_t> fin_timeout_s;    // tcp_fin_timeout: an orphaned FIN_WAIT2's lifetime (default 60)
    std::optional<std::uint32_t> orphan_retries;   // tcp_orphan_retries: 0 means 8 in the kernel (default 0)
    std::optional<std::uint32_t> retries2;         // tcp_retries2: retransmissions before giving up (default 15)
    std::optional<std::uint32_t> tw_reuse;         // tcp_tw_reuse: 0 off, 1 on, 2 loopback only (default 2)
    std::optional<std::uint32_t> max_tw_buckets;   // tcp_max_tw_buckets: time-wait sockets at most
    std::optional<std::uint32_t> synack_retries;   // tcp_synack_retries: SYN-ACKs sent for a request (default 5)
    std::optional<std::uint32_t> max_syn_backlog;  // tcp_max_syn_backlog: requests per listener at most
    std::optional<std::uint32_t> syncookies;       // tcp_syncookies: 0 off, 1 when the backlog overflows, 2 always
    // Global: the file exists only in the initial network namespace (it is
    // nullopt when read from any other one; read it from the initial one).
    std::optional<std::uint32_t> max_orphans;      // tcp_max_orphans: orphaned sockets at most, host-wide
};
// Each member of TcpSysctls with the name of its file: the one list of them.
struct TcpSysctlFile {
    std::string_view name;
    std::optional<std::uint32_t> TcpSysctls::*member;
};
inline constexpr std::array<TcpSysctlFile, 9> kTcpSysctlFiles = {{
    {"tcp_fin_timeout", &TcpSysctls::fin_timeout_s},
    {"tcp_orphan_retries", &TcpSysctls::orphan_retries},
    {"tcp_retries2", &TcpSysctls::retries2},
    {"tcp_tw_reuse", &TcpSysctls::tw_reuse},
    {"tcp_max_tw_buckets", &TcpSysctls::max_tw_buckets},
    {"tcp_synack_retries", &TcpSysctls::synack_retries},
    {"tcp_max_syn_backlog", &TcpSysctls::max_syn_backlog},
    {"tcp_syncookies", &TcpSysctls::syncookies},
    {"tcp_max_orphans", &TcpSysctls::max_orphans},
}};

// The value of the sysctl of that file name, or nullopt (not read, or not
// one of TcpSysctls).
std::optional<std::uint32_t> tcp_sysctl(const TcpSysctls& sysctls, std::string_view name);

// One sysctl file: a non-negative decimal integer and a newline. nullopt
// when the file is missing, unreadable, empty, negative, too large for 32
// bits or not a number.
std::optional<std::uint32_t> read_sysctl_u32(const std::string& path);

// The sysctls above from `directory` (/proc/sys/net/ipv4, or a test's
// directory of the same files).
TcpSysctls read_tcp_sysctls(const std::string& directory = kProcSysNetIpv4);

} // namespace tcpleak
