// What `tcpleak leaks` and `tcpleak run` report: plain values shared by the
// leak tracker (leak_tracker.hpp) and the leak outputs (leak_output.hpp).
#pragma once

#include "tcpleak/core/explanation.hpp"
#include "tcpleak/core/records.hpp"
#include "tcpleak/core/tcp_state.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tcpleak {

// A descriptor that holds a socket.
struct Holder {
    std::uint32_t pid = 0;
    Comm comm{};
    std::uint32_t fd = 0;
    friend bool operator==(const Holder&, const Holder&) = default;
};

struct SocketAddress {
    std::uint8_t family = kFamilyIpv4;
    std::array<std::uint8_t, 16> saddr{};
    std::uint16_t sport = 0;
    std::array<std::uint8_t, 16> daddr{};
    std::uint16_t dport = 0;
    std::uint32_t netns = 0;
};

enum class Verdict : std::uint8_t {
    NeverClosed,           // no descriptor of it was released while tcpleak watched all of its CLOSE_WAIT
    ClosedStillReferenced, // a descriptor was released (close, exit...) but another holds it
    Held,                  // held, and tcpleak did not see all of its time in CLOSE_WAIT (it was there
                           // before tcpleak started, or events were lost): whether a descriptor of it was
                           // closed is not known
    Orphaned,              // a closing state other than CLOSE_WAIT, and no descriptor holds it: the
                           // program closed it, the kernel finishes it alone
};
// "never_closed", "closed_still_referenced", "held", "orphaned"
std::string_view verdict_name(Verdict v);
// "never closed", "closed, still referenced", "held (not watched since it entered CLOSE_WAIT)",
// "orphaned (no descriptor holds it)"
std::string_view verdict_label(Verdict v);

// How tcpleak learned that a socket is in CLOSE_WAIT.
enum class SeenBy : std::uint8_t {
    Transition,  // the kernel's state-change event
    SocketTable, // a scan of the kernel's sockets: at start-up, or reconciling after lost events
};
std::string_view seen_by_name(SeenBy s); // "transition", "socket_table"

// How a socket left CLOSE_WAIT.
enum class ResolvedHow : std::uint8_t {
    Close,
    Shutdown,
    Exit,
    Reset,
    Unknown,     // its event was lost: a later scan found it gone
    StateChange, // a stuck state other than CLOSE_WAIT moved on (LeakResolved::to_state)
};
// "close", "shutdown", "exit", "reset", "unknown", "state_change"
std::string_view resolved_how_name(ResolvedHow how);

// The other end of a connection, when it is a socket of this host
// (loopback, or another network namespace here): core/peers.hpp finds it.
struct LeakPeer {
    std::uint64_t cookie = 0;
    std::uint8_t state = 0;
    std::uint32_t netns = 0;
    std::optional<Holder> holder; // the process holding it (its first holder); nullopt: no descriptor
};

// Who released a descriptor of the socket while others kept it alive.
struct ClosedBy {
    std::uint32_t pid = 0;
    Comm comm{};
    std::optional<std::uint32_t> fd;   // the released descriptor, when known
    ReleaseVia via = ReleaseVia::Close; // how it went away
};

// Who a process is beyond its pid, for fleets: its cgroup v2 path and what
// that names (identity/workload.hpp), with pod names from the kubelet's log
// directories. Filled in by the agent and leaks; an empty string: not known
// (or not in a container, pod or unit).
struct Workload {
    std::string cgroup;
    std::string container_id;
    std::string container; // the container's name (Kubernetes containers with a log link)
    std::string pod_uid;
    std::string pod;
    std::string namespace_name;
    std::string unit; // systemd unit
    friend bool operator==(const Workload&, const Workload&) = default;
};

// A socket in a watched state past the threshold: in CLOSE_WAIT while a
// descriptor still holds it (the leak), or stuck in another closing state
// (`leaks --state`), held or orphaned.
struct Leak {
    std::uint64_t cookie = 0;
    SocketAddress address;
    std::uint8_t state = kTcpCloseWait;
    // The process expected to close it: the owner when it still holds the
    // socket, else the first holder (orphaned: the owner, when known, else 0).
    std::uint32_t pid = 0;
    Comm comm{};
    std::optional<std::uint32_t> fd;
    std::vector<Holder> holders;          // every descriptor holding it, by pid then fd
    std::string cmdline;                  // of pid, filled in by the command (space-separated argv)
    std::optional<std::uint32_t> owner_pid; // who created/accepted it, when known
    Comm owner_comm{};
    Verdict verdict = Verdict::NeverClosed;
    std::optional<ClosedBy> closed_by;
    std::uint64_t entered_mono_ns = 0;    // entered CLOSE_WAIT (SocketTable: at the latest then)
    std::uint64_t reported_mono_ns = 0;   // crossed the threshold (when it was reported)
    std::uint32_t rx_queue = 0;           // unread bytes, as of the report
    bool since_start = false;             // already in its state when tcpleak started
    SeenBy seen_by = SeenBy::Transition;
    // Filled in when reported, from the kernel's tables of that moment:
    std::optional<TcpSocket> tcp;                 // the TCP table's record of it (queues, window, timers)
    std::optional<LeakPeer> peer;                 // the other end, when on this host
    std::optional<StuckExplanation> explanation;  // why, and what to do
    std::optional<Workload> workload;             // its process's identity, when the command resolves it
};

// A reported leak that left CLOSE_WAIT.
struct LeakResolved {
    Leak leak;
    ResolvedHow how = ResolvedHow::Close;
    std::optional<std::uint32_t> by_pid; // the task that closed it (close/exit), when known
    Comm by_comm{};
    std::uint64_t resolved_mono_ns = 0;
    std::uint64_t in_state_ns = 0;       // total time it spent in its state (leak.state)
    std::optional<std::uint8_t> to_state; // where it went (the transition's new state); nullopt: it
                                          // vanished from the tables (reaped by the kernel's timer)
    // The leak was not reported before: it crossed the threshold but left
    // CLOSE_WAIT before it was confirmed. Print the leak, then this.
    bool newly_reported = false;
};

} // namespace tcpleak
