// The leak tracker: which sockets stay in a watched state past a threshold —
// CLOSE_WAIT while a descriptor holds them (the leak), and with `leaks
// --state` the other closing states (FIN_WAIT1, FIN_WAIT2, LAST_ACK,
// CLOSING), held or orphaned. Pure logic: no I/O, no BPF, no clock of its own
// (every time is a CLOCK_MONOTONIC value passed in), so it is unit-tested with
// synthetic records and a fake clock.
//
// Two sources, as a controller pairs a watch with a relist:
//   - events, in ring-buffer order: on_transition (into and out of the
//     watched states, with the owner the kernel remembered) and
//     on_fd_release;
//   - snapshots of the kernel's state: on_scan, with every (socket in a
//     watched state, descriptor) pair of the descriptor tables, and the TCP
//     tables of the namespaces where sockets are due (they say which sockets
//     no descriptor holds: orphans). It confirms the sockets past the
//     threshold, and adopts the ones the events never announced (there
//     before tcpleak started, or their entry was lost): a leak is reported
//     whether or not its event arrived.
//
// A socket is timed per state: moving from one watched state to another
// ends a report of the first (resolved, state_change) and starts the clock
// again, keeping what is known of its owner and releases.
//
// CLOSE_WAIT held by nobody is never reported (never accept()ed, or in
// flight over a unix socket: looked at again, a late holder makes it a
// leak); the other states orphaned are (the program closed them, and the
// kernel may keep them for minutes, or for ever).
//
// Memory follows the sockets actually in the watched states (no bound that
// could hide a leak): a few hundred bytes each, measured in
// docs/performance.md.
//
// How an event loop drives it: records -> on_transition / on_fd_release;
// when next_deadline() has passed (or to reconcile): begin_scan(), read the
// descriptor tables, drain the ring buffer, on_scan().
#pragma once

#include "tcpleak/core/deadline_queue.hpp"
#include "tcpleak/core/leak.hpp"
#include "tcpleak/core/records.hpp"
#include "tcpleak/core/tcp_state.hpp"
#include "tcpleak/core/verdict.hpp"
#include "tcpleak/sys/clock.hpp" // Duration

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace tcpleak {

// Which leaks to report. Empty = everything. A process matches when its pid
// is in `pids` (if any) and its comm equals `comm` (if set), as the kernel's
// owner filter does; a leak matches when its owner, any holder or the
// process that closed a descriptor of it (closed_by) matches.
struct LeakFilter {
    std::vector<std::uint32_t> pids;
    std::optional<std::string> comm;
    // run: the traced tree (it grows as the run goes).
    std::function<bool(std::uint32_t pid)> in_scope;

    bool empty() const { return pids.empty() && !comm && !in_scope; }
    bool matches(std::uint32_t pid, const Comm& comm) const;
    bool selects(const Leak& leak) const;
};

struct LeakTrackerPolicy {
    // A socket past the threshold that no descriptor holds (a close racing
    // the scan, one in flight over a unix socket, one never accept()ed, or
    // accepted late) is looked at again after this, doubling up to
    // max_unheld_retry, for as long as it stays in CLOSE_WAIT: a holder that
    // turns up late still makes it a leak.
    Duration unheld_retry = std::chrono::milliseconds(100);
    Duration max_unheld_retry = std::chrono::seconds(2);
    // The states watched, a bit per state (1 << kTcpCloseWait by default).
    std::uint32_t states = 1U << kTcpCloseWait;
    // An orphaned FIN_WAIT2 lives on as a time-wait socket, which sends no
    // event when it goes (tcp_fin_timeout later): the TCP tables are read
    // this often to see whether it is still there.
    Duration time_wait_recheck = std::chrono::seconds(1);
    // false: no descriptor release is watched (the agent without --exact:
    // no syscall hook), so "no release seen" never means "never closed":
    // held sockets get Verdict::Held.
    bool releases_watched = true;
};

// The TCP tables a scan read (iter/tcp), for the sockets no descriptor
// holds: by cookie, and which network namespaces were read.
struct TcpTables {
    std::unordered_map<std::uint64_t, TcpSocket> sockets;
    std::unordered_set<std::uint32_t> namespaces;

    const TcpSocket* find(std::uint64_t cookie) const {
        const auto it = sockets.find(cookie);
        return it == sockets.end() ? nullptr : &it->second;
    }
    void add(std::uint32_t netns, std::span<const TcpSocket> table) {
        namespaces.insert(netns);
        for (const TcpSocket& socket : table)
            sockets.emplace(socket.cookie, socket);
    }
};

// What one scan changed.
struct ScanResult {
    std::vector<Leak> leaks;       // newly reported
    std::vector<LeakResolved> resolved; // orphaned FIN_WAIT2 time-wait sockets the tables no longer have
    std::uint64_t adopted = 0;     // sockets in a watched state the events had not announced
    std::uint64_t unheld = 0;      // CLOSE_WAIT past the threshold, no descriptor holds them (now)
};

class LeakTracker {
public:
    explicit LeakTracker(Duration threshold, LeakFilter filter = {}, LeakTrackerPolicy policy = {});

    // ---- events (in the order the ring buffer gives them) ----

    // Into a watched state: starts (or restarts) the socket's timer. Out of
    // it: forgets the socket (or times it in the next watched state), and
    // returns a resolution when it was reported, or when it spent at least
    // the threshold there while held (the exit has file_released or has_file)
    // without having been confirmed yet: then it is reported now,
    // `newly_reported` is set and the caller prints the leak, then the
    // resolution. Other transitions, and cookie 0 (never a socket cookie),
    // are ignored.
    std::optional<LeakResolved> on_transition(const Transition& t);

    // A descriptor went away while others keep the socket alive. Remembered on
    // a tracked socket that is not reported yet; the earliest release wins
    // (it is the close() that did not take effect). Unknown cookies are
    // ignored (the entry was lost, or the socket is in no watched state).
    void on_fd_release(const FdRelease& release);

    // Events were lost (noticed at noticed_ns): what is tracked now may have
    // missed a release, so a verdict of theirs can no longer say "never
    // closed" (Held instead).
    void on_events_lost(std::uint64_t noticed_ns);

    // ---- snapshots of the kernel's sockets ----

    // A descriptor-table scan starts now: sockets leaving their state from
    // now until on_scan() may still be in it, and must not be adopted back.
    void begin_scan();
    // Every (socket in a watched state, descriptor) pair, read after
    // begin_scan() and applied after the ring buffer was drained behind it;
    // holders in other states are ignored. `at_start`: the start-up scan
    // (adopted sockets are since_start, and their first holder is their
    // owner). owner_of: who connected or accepted a socket whose owner is not
    // known yet (adopted, or accepted after it entered its state), when the
    // kernel still remembers. tables: the TCP tables read with it (needed
    // for the states other than CLOSE_WAIT: they say which due sockets are
    // orphaned, and carry the details of every report), or null. now_ns:
    // after the read.
    using OwnerLookup = std::function<std::optional<SocketOwner>(std::uint64_t cookie)>;
    ScanResult on_scan(std::span<const SocketHolder> holders, std::uint64_t now_ns, bool at_start = false,
                       const OwnerLookup& owner_of = {}, const TcpTables* tables = nullptr);
    // Sockets tracked in a state that the kernel's TCP table no longer has
    // them in (their exit was lost): forgotten, a reported one resolved with
    // how = Unknown.
    std::vector<LeakResolved> on_vanished(std::span<const std::uint64_t> cookies, std::uint64_t now_ns);
    // Tracked sockets no scan has seen held since `since_ns` (candidates for
    // on_vanished after lost events), with their network namespaces and states.
    struct Unseen {
        std::uint64_t cookie = 0;
        std::uint32_t netns = 0;
        std::uint8_t state = 0;
    };
    std::vector<Unseen> unseen_since(std::uint64_t since_ns) const;

    // ---- time ----

    // Earliest mono_ns at which a scan has work (may be past); UINT64_MAX when
    // nothing is waiting.
    std::uint64_t next_deadline() const { return deadlines_.next(); }

    // Keeps the command line of a reported leak's process, so that active()
    // carries it. Unknown cookies are ignored.
    void set_cmdline(std::uint64_t cookie, std::string cmdline);

    // ---- results ----

    // Reported and still in their state, by report time then cookie.
    std::vector<Leak> active() const;
    // The states watched (a bit per state), and whether a scan needs the
    // TCP tables (a state other than CLOSE_WAIT is watched).
    std::uint32_t states() const { return policy_.states; }
    bool needs_tables() const { return (policy_.states & ~(1U << kTcpCloseWait)) != 0; }
    // The network namespaces of the sockets due by now_ns (whose TCP tables
    // a scan should read when needs_tables()).
    std::vector<std::uint32_t> due_namespaces(std::uint64_t now_ns) const;

    std::size_t tracked() const { return sockets_.size(); } // sockets in a watched state being timed
    std::uint64_t reported_total() const { return reported_total_; }
    std::uint64_t resolved_total() const { return resolved_total_; }
    std::uint64_t adopted_total() const { return adopted_total_; } // found by a scan, not an event
    std::size_t unheld_now() const { return unheld_now_; } // past the threshold, held by no descriptor
    std::uint64_t ever_unheld() const { return ever_unheld_; } // sockets that were, at some scan
    std::size_t schedule_slots() const { return deadlines_.slots(); } // diagnostics/tests

    Duration threshold() const { return Duration(threshold_ns_); }

private:
    enum class Phase : std::uint8_t { Waiting, Reported, Filtered };

    struct Socket {
        std::uint64_t cookie = 0;
        std::uint8_t state = kTcpCloseWait;
        std::uint64_t entered_ns = 0;
        Phase phase = Phase::Waiting;
        SeenBy seen_by = SeenBy::Transition;
        bool since_start = false;
        bool history_complete = true; // watched since it entered its state, nothing lost since
        bool unheld = false;          // past the threshold at the last scan, held by nobody
        // FIN_WAIT2 -> CLOSE with no file: it may live on as a time-wait
        // socket (substate FIN_WAIT2) that only the TCP tables show.
        bool time_wait = false;
        std::uint8_t unheld_checks = 0;
        std::uint64_t last_held_ns = 0; // last scan that found it held (0: none)
        std::optional<SocketOwner> owner;
        SocketAddress address;
        std::uint32_t rx_queue = 0;
        std::optional<FirstRelease> release;
        std::vector<Holder> holders; // as the last scan found them
        std::unique_ptr<Leak> leak;  // once reported
    };

    Socket* find(std::uint64_t cookie);
    Socket& track(std::uint64_t cookie);
    void forget(Socket& s);
    void set_unheld(Socket& s, bool unheld);
    bool watched(std::uint8_t state) const { return state < 32 && ((policy_.states >> state) & 1) != 0; }
    Socket& adopt(const SocketHolder& first, std::uint64_t now_ns, bool at_start, const OwnerLookup& owner_lookup);
    void adopt_orphans(const TcpTables& tables, std::uint64_t now_ns, bool at_start, ScanResult& result);
    void enter(const Transition& t, Socket* carried);
    std::optional<Leak> confirm(Socket& s, std::vector<Holder> holders, std::uint32_t rx_queue,
                                std::uint64_t now_ns, const TcpSocket* tcp);
    void look_at_unheld(Socket& s, std::uint64_t now_ns, const TcpTables* tables, ScanResult& result);
    bool became_time_wait(Socket& s, const Transition& t);
    std::optional<LeakResolved> held_leak_released(Socket& s, const Transition& t);
    void recheck_time_wait(Socket& s, std::uint64_t now_ns, const TcpTables& tables, ScanResult& result);
    LeakResolved resolution(const Socket& s, ResolvedHow how, std::uint64_t now_ns) const;
    void retry_unheld(Socket& s, std::uint64_t now_ns);
    std::optional<LeakResolved> leave(Socket& s, const Transition& t);
    Leak make_leak(const Socket& s, const VerdictResult& verdict) const;

    std::uint64_t threshold_ns_;
    LeakFilter filter_;
    LeakTrackerPolicy policy_;

    std::unordered_map<std::uint64_t, Socket> sockets_; // in a watched state, by cookie
    DeadlineQueue deadlines_;                           // Waiting sockets: when a scan should look at them
    std::unordered_set<std::uint64_t> left_during_scan_;
    bool scanning_ = false;
    std::uint64_t last_loss_noticed_ns_ = 0;

    std::uint64_t reported_total_ = 0;
    std::uint64_t resolved_total_ = 0;
    std::uint64_t adopted_total_ = 0;
    std::size_t unheld_now_ = 0;
    std::uint64_t ever_unheld_ = 0;
};

} // namespace tcpleak
