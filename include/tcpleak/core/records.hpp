// What the kernel reports, as plain C++ values: independent of libbpf and of
// the raw record layout (kernel/decode.hpp turns records into these), so
// that attribution, leak tracking and formatting are testable without root.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace tcpleak {

// A kernel task name: up to 16 bytes, NUL-padded, attacker-controlled.
using Comm = std::array<char, 16>;

// The bytes of a comm up to its first NUL.
std::string_view comm_view(const Comm& comm);
Comm make_comm(std::string_view name);

inline constexpr std::uint8_t kFamilyIpv4 = 2;  // AF_INET
inline constexpr std::uint8_t kFamilyIpv6 = 10; // AF_INET6

// How the owner of a socket was learned. User space alone attributes: the
// kernel only marks the moments it runs in the owner's context.
enum class OwnerVia : std::uint8_t {
    None = 0,     // unknown
    Connect = 1,  // connect(): CLOSE -> SYN_SENT in the owner's context
    Listen = 2,   // listen(): CLOSE -> LISTEN in the owner's context
    Accept = 3,   // accept()/accept4() returned it
    Listener = 4, // not accepted (yet): the listening socket's owner
    FdTable = 5,  // existed before start: found in a descriptor table
};
std::string_view owner_via_name(OwnerVia via); // "connect", "listen", ...

struct Transition {
    std::uint64_t mono_ns = 0; // CLOCK_MONOTONIC
    std::uint64_t cookie = 0;  // socket cookie (ss -e "sk:")
    std::uint8_t family = kFamilyIpv4;
    std::uint8_t old_state = 0;
    std::uint8_t new_state = 0;
    std::uint16_t sport = 0;
    std::uint16_t dport = 0;
    std::array<std::uint8_t, 16> saddr{}; // IPv4 in the first 4 bytes
    std::array<std::uint8_t, 16> daddr{};

    std::uint32_t ctx_pid = 0; // the task that happened to be on the CPU
    Comm ctx_comm{};           // its thread name
    // connect()/listen(): the task on the CPU is the owner; its process name
    // and cgroup come with it.
    bool owner_context = false;
    Comm ctx_process_comm{};
    std::uint64_t ctx_cgroup = 0;
    bool context_only = false; // sent for attribution or timing: not to print

    std::uint32_t uid = 0;
    std::uint32_t netns = 0;
    std::uint32_t rx_queue = 0;

    // leaks/run, entering CLOSE_WAIT: who connected or accepted it, as the
    // kernel's owners LRU remembered it (nullopt: it did not).
    std::optional<std::uint32_t> known_owner_pid;
    Comm known_owner_comm{};
    // trace, LISTEN -> SYN_RECV: the listener's file has several references
    // (forked workers, a dup) or is unknown: no single owner until accept().
    bool listener_shared = false;

    bool task_exiting = false;  // on-CPU task is exiting
    bool has_file = false;      // a descriptor still references the socket
    bool file_released = false; // the last reference is being closed right now
};

// accept()/accept4() returned fd for the socket with this cookie.
struct Accept {
    std::uint64_t mono_ns = 0;
    std::uint64_t cookie = 0;
    std::uint32_t pid = 0;
    std::uint32_t fd = 0;
    Comm comm{}; // process name
    std::uint64_t cgroup = 0;
};

enum class ReleaseVia : std::uint8_t { Close = 1, CloseRange = 2, Dup2 = 3, Dup3 = 4, Exit = 5, Exec = 6 };
std::string_view release_via_name(ReleaseVia via); // "close", "close_range", "dup2", "dup3", "exit", "exec"

// A descriptor of a socket went away while other references keep it alive.
struct FdRelease {
    std::uint64_t mono_ns = 0;
    std::uint64_t cookie = 0;
    std::uint32_t pid = 0;
    std::uint32_t fd = 0;
    std::uint32_t other_refs = 0;
    std::uint8_t state = 0; // socket state at the time
    ReleaseVia via = ReleaseVia::Close;
    Comm comm{};
};

enum class ProcEventKind : std::uint8_t { Fork = 1, Exec = 2, Exit = 3 };

struct ProcEvent {
    ProcEventKind kind = ProcEventKind::Fork;
    std::uint64_t mono_ns = 0;
    std::uint32_t pid = 0;
    std::uint32_t ppid = 0;
    std::int32_t exit_status = 0; // wait(2) encoding, for Exit
    Comm comm{};
    std::string args; // argv joined by NUL, for Exec (may be truncated)
};

// One (socket, descriptor) pair from the descriptor-table iterator.
struct SocketHolder {
    std::uint64_t cookie = 0;
    std::uint8_t family = kFamilyIpv4;
    std::uint8_t state = 0;
    std::uint16_t sport = 0;
    std::uint16_t dport = 0;
    std::array<std::uint8_t, 16> saddr{};
    std::array<std::uint8_t, 16> daddr{};
    std::uint32_t pid = 0; // holder
    std::uint32_t fd = 0;
    Comm comm{};           // holder's process name
    std::uint64_t cgroup = 0;
    std::uint32_t rx_queue = 0;
    std::uint32_t uid = 0;
    std::uint32_t netns = 0;
    std::optional<std::uint64_t> close_wait_age_ns; // lower bound of the time in CLOSE_WAIT, as of read_mono_ns
    std::uint64_t read_mono_ns = 0;                 // when the kernel read it (CLOCK_MONOTONIC)
};

// What a socket of the TCP table is waiting for.
enum class TcpTimer : std::uint8_t { None = 0, Retransmit = 1, Probe = 2, Keepalive = 3, TimeWait = 4, SynAck = 5 };

// One socket of the kernel's TCP table (iter/tcp, one network namespace):
// full sockets, and the time-wait and request mini sockets.
struct TcpSocket {
    std::uint64_t cookie = 0;
    std::uint8_t family = kFamilyIpv4;
    std::uint8_t state = 0; // a time-wait socket's substate (FIN_WAIT2 of an orphan)
    bool orphan = false;    // no file references it: no descriptor holds it
    bool time_wait = false; // a time-wait mini socket
    bool request = false;   // a connection request (NEW_SYN_RECV)
    std::uint16_t sport = 0;
    std::uint16_t dport = 0;
    std::array<std::uint8_t, 16> saddr{};
    std::array<std::uint8_t, 16> daddr{};
    std::uint32_t netns = 0;
    std::uint32_t uid = 0;
    std::uint32_t rx_queue = 0;
    std::uint32_t tx_queue = 0;  // sent or queued, not yet acknowledged
    std::uint32_t snd_wnd = 0;   // the peer's window
    std::uint32_t total_retrans = 0;
    TcpTimer timer = TcpTimer::None;
    std::uint32_t timer_left_ms = 0;
    std::uint8_t retransmits = 0; // unanswered, of the current segment (or SYN-ACK)
    std::uint8_t probes_out = 0;
    std::uint8_t backoff = 0;
    std::uint64_t read_mono_ns = 0;
    std::optional<std::uint64_t> age_ns; // CLOSE_WAIT: lower bound of the time there; request: since the SYN-ACK
};

} // namespace tcpleak
