// The census behind `tcpleak top` and the agent's metrics: a snapshot of the
// kernel's TCP table joined with a snapshot of the descriptor tables by
// socket cookie, counted per process and per state; and the change between
// two censuses (new connections per second, CLOSE_WAIT growth per minute).
// Pure: no I/O, every time passed in (CLOCK_MONOTONIC nanoseconds).
//
// Who counts a socket. Every socket is counted once:
//   - held by one or more processes: for its *first holder*, the holder with
//     the lowest pid (then the lowest fd). A socket shared after fork() is
//     usually its creator's: pids grow, so the parent that connected or
//     accepted it has the lower pid, and the common leak is the parent that
//     forgot its copy. The rule needs nothing but the snapshot, gives the same
//     answer whatever order the kernel walked the tables in, and keeps a
//     socket in the same row from one census to the next while its holders
//     stay, which the delta relies on. (A pid that wrapped around can make a
//     child the first holder; nothing is hidden either way: the other holders
//     count it in `also_held`.)
//   - held by nobody: in the unheld census, by kind (UnheldKind).
//
// Which snapshot wins when they disagree. The two snapshots are read one
// after the other, so a socket can change in between, but only one way: a
// connection is queued in a listener (no file), then held (accept() gave it a
// file), then orphaned (the last descriptor closed; a file never comes back).
// So:
//   - a time-wait or request socket, or a full socket with no file in a state
//     only close() reaches (FIN_WAIT1, FIN_WAIT2, LAST_ACK, CLOSING, CLOSE,
//     TIME_WAIT) is unheld whatever the descriptor snapshot says: a holder
//     record of it is stale (closed in between; counted in stale_holders);
//   - a full socket with no file in ESTABLISHED, SYN_RECV or CLOSE_WAIT that a
//     holder names was accepted in between: held;
//   - the same, with no holder: not accepted (yet) - in the listener's queue.
//   - a socket with a file that no holder names: NoDescriptor.
// The TCP table is the list of sockets: a holder whose cookie it lacks is
// stale (the socket closed in between) and counted, not invented - unless
// the holder's namespace was not walked at all (holders_not_walked).
#pragma once

#include "tcpleak/core/records.hpp"
#include "tcpleak/core/tcp_state.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace tcpleak {

// Sockets per kernel state number (tcp_state.hpp); states beyond the table
// are counted in slot 0.
struct StateCounts {
    std::array<std::uint32_t, kTcpStateSlots> by_state{};

    std::uint32_t operator[](std::uint8_t state) const { return state < by_state.size() ? by_state[state] : 0; }
    void add(std::uint8_t state, std::uint32_t n = 1) { by_state[state < by_state.size() ? state : 0] += n; }
    std::uint32_t total() const;
    // FIN_WAIT1 + FIN_WAIT2 + LAST_ACK + CLOSING + CLOSE_WAIT (is_closing_state).
    std::uint32_t closing() const;
    friend bool operator==(const StateCounts&, const StateCounts&) = default;
};

struct CensusProcess {
    std::uint32_t pid = 0;
    Comm comm{};              // as the first descriptor record of it says
    std::uint64_t cgroup = 0; // cgroup v2 id, for container and pod labels
    StateCounts sockets;      // counted for it: it is their first holder
    StateCounts also_held;    // held by it too, but counted for a lower pid
    // The age of its oldest CLOSE_WAIT socket at the census time, a lower
    // bound (from the last segment received); nullopt when it has none, or
    // none whose age the kernel knew.
    std::optional<std::uint64_t> oldest_close_wait_ns;

    std::uint32_t close_wait() const { return sockets[kTcpCloseWait]; }
    std::uint32_t total() const { return sockets.total(); }
};

// Why nobody holds a socket.
enum class UnheldKind : std::uint8_t {
    Orphaned,     // closed by its program, the kernel still finishes it: FIN_WAIT1, FIN_WAIT2, LAST_ACK, CLOSING
    TimeWait,     // a time-wait mini socket: TIME_WAIT, or FIN_WAIT2 for an orphan's tcp_fin_timeout
    Request,      // a connection request (SYN received, handshake not complete)
    NotAccepted,  // complete, in a listener's accept queue, never accept()ed: ESTABLISHED, CLOSE_WAIT, SYN_RECV
    NoDescriptor, // it has a file, but no process's descriptor table holds it: in flight over a unix socket,
                  // kept by io_uring or a kernel user (NFS, iSCSI), or accepted/closed during the scans
};
inline constexpr std::size_t kUnheldKinds = 5;
std::string_view unheld_kind_name(UnheldKind kind); // "orphaned", "time_wait", "request", "not_accepted", "no_descriptor"

struct UnheldCensus {
    std::array<StateCounts, kUnheldKinds> by_kind{}; // [UnheldKind] -> sockets per state (time-wait: substate)
    // The oldest CLOSE_WAIT still in a listener's queue (peer gone before
    // accept()), at the census time, a lower bound.
    std::optional<std::uint64_t> oldest_not_accepted_close_wait_ns;

    const StateCounts& operator[](UnheldKind kind) const { return by_kind[static_cast<std::size_t>(kind)]; }
    StateCounts& operator[](UnheldKind kind) { return by_kind[static_cast<std::size_t>(kind)]; }
    std::uint32_t total() const;
};

// The unheld sockets of one network namespace: the limits that govern them
// (tcp_max_tw_buckets, tcp_fin_timeout) are that namespace's.
struct NetnsUnheld {
    std::uint32_t netns = 0;
    UnheldCensus unheld; // oldest_not_accepted_close_wait_ns: only in Census::unheld
};

struct Census {
    static constexpr std::uint32_t kUnheldRow = 0xffffffffU;

    std::uint64_t taken_ns = 0; // the census time (after both snapshots were read)
    // Sorted: most CLOSE_WAIT first, then by pid. A process appears when it
    // holds at least one socket (counted for it or in also_held).
    std::vector<CensusProcess> processes;
    UnheldCensus unheld;
    std::vector<NetnsUnheld> unheld_by_netns; // the same sockets per namespace, by netns; only those with some
    StateCounts all; // every socket once, by the state ss shows (a time-wait socket by its substate)

    // What the snapshots got wrong, counted rather than guessed:
    std::uint64_t duplicate_sockets = 0; // a cookie the TCP walk met twice (the newer record counts)
    std::uint64_t stale_holders = 0;     // holder records of sockets the TCP table lacks or shows closed
    // Holder records in a network namespace the TCP snapshot has no socket
    // of (a walk of some namespaces only, with every process's descriptors):
    // ignored, not stale.
    std::uint64_t holders_not_walked = 0;
    std::uint64_t no_cookie = 0;         // records with cookie 0 (never a socket's), ignored

    // Every socket's cookie, the row of `processes` it is counted for
    // (kUnheldRow: unheld) and its state, in parallel arrays (13 bytes a
    // socket): what a CensusDelta needs of the previous census.
    std::vector<std::uint64_t> cookies;
    std::vector<std::uint32_t> rows;
    std::vector<std::uint8_t> states; // each cookie's state, for the delta (LISTEN is not a new connection)
    std::vector<std::uint32_t> by_pid; // indices of processes, ordered by pid (for find)

    std::size_t sockets() const { return cookies.size(); }
    // The process with this pid, or null. O(log processes).
    const CensusProcess* find(std::uint32_t pid) const;
};

// Of two records of one cookie in a TCP snapshot (the walk can meet a socket
// twice, e.g. a FIN_WAIT2 and the time-wait socket that replaced it under
// the walk, with the same cookie), whether `a` is the one that counts: the
// one read later, and on a tie the time-wait socket, the later stage.
bool supersedes(const TcpSocket& a, const TcpSocket& b);

// Joins the snapshots. `sockets` may concatenate several network namespaces'
// walks (cookies are unique host-wide). `holders`: every (socket, descriptor)
// pair of every process. now_ns: the census time, after both were read.
// Time and memory linear in sockets + holders.
Census take_census(std::span<const TcpSocket> sockets, std::span<const SocketHolder> holders, std::uint64_t now_ns);

// ---- the change between two censuses ----

struct ProcessDelta {
    std::uint32_t pid = 0;
    Comm comm{};
    std::uint64_t cgroup = 0;
    std::uint32_t row = 0; // its index in now.processes
    // Sockets counted for it now whose cookie the previous census did not
    // have at all (listeners excluded): new connections, a lower bound, since
    // one opened and closed between the two is seen by neither.
    std::uint32_t new_connections = 0;
    double new_per_second = 0;
    std::int64_t close_wait_change = 0; // its CLOSE_WAIT now minus before
    double close_wait_per_minute = 0;   // close_wait_change over the interval, per minute
    bool new_process = false;           // no row before (or its pid now has another cgroup: reused)

    bool growing() const { return close_wait_change > 0; }
};

struct CensusDelta {
    std::uint64_t interval_ns = 0; // now.taken_ns - before.taken_ns (0 when not later: no rates)
    // Every process of `now`, sorted for top: growing CLOSE_WAIT first (the
    // fastest first), then most CLOSE_WAIT, then most sockets, then by pid.
    std::vector<ProcessDelta> processes;
    std::uint32_t growing = 0;                 // processes whose CLOSE_WAIT grew
    std::uint32_t new_connections = 0;         // all of them, held or not (listeners excluded)
    double new_per_second = 0;
    std::uint32_t new_unheld = 0;              // of which nobody holds them (yet)
    std::int64_t unheld_close_wait_change = 0; // CLOSE_WAIT in listeners' queues and without a descriptor
    std::uint32_t processes_gone = 0;          // rows of before whose pid has none now
};

// Linear in both censuses' sockets (a transient index of before's cookies).
CensusDelta census_delta(const Census& before, const Census& now);

} // namespace tcpleak
