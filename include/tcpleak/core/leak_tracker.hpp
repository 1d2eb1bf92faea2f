// The leak tracker: which sockets stay in CLOSE_WAIT past a threshold while a
// descriptor holds them. Pure logic: no I/O, no BPF, no clock of its own
// (every time is a CLOCK_MONOTONIC value passed in), so it is unit-tested with
// synthetic records and a fake clock.
//
// Two sources, as a controller pairs a watch with a relist:
//   - events, in ring-buffer order: on_transition (into and out of
//     CLOSE_WAIT, with the owner the kernel remembered) and on_fd_release;
//   - snapshots of the kernel's state: on_scan, with every (CLOSE_WAIT
//     socket, descriptor) pair of the descriptor tables. It confirms the
//     sockets past the threshold with their holders, and adopts the ones the
//     events never announced (in CLOSE_WAIT before tcpleak started, or their
//     entry was lost): a leak is reported whether or not its event arrived.
//
// Memory follows the sockets actually in CLOSE_WAIT (no bound that could
// hide a leak): a few hundred bytes each, measured in docs/performance.md.
//
// How an event loop drives it: records -> on_transition / on_fd_release;
// when next_deadline() has passed (or to reconcile): begin_scan(), read the
// descriptor tables, drain the ring buffer, on_scan().
#pragma once

#include "tcpleak/core/deadline_queue.hpp"
#include "tcpleak/core/leak.hpp"
#include "tcpleak/core/records.hpp"
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

    bool empty() const { return pids.empty() && !comm; }
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
};

// What one scan changed.
struct ScanResult {
    std::vector<Leak> leaks;       // newly reported
    std::uint64_t adopted = 0;     // sockets in CLOSE_WAIT the events had not announced
    std::uint64_t unheld = 0;      // past the threshold, no descriptor holds them (now)
};

class LeakTracker {
public:
    explicit LeakTracker(Duration threshold, LeakFilter filter = {}, LeakTrackerPolicy policy = {});

    // ---- events (in the order the ring buffer gives them) ----

    // Into CLOSE_WAIT: starts (or restarts) the socket's timer. Out of it:
    // forgets the socket, and returns a resolution when it was reported, or
    // when it spent at least the threshold in CLOSE_WAIT while held (the exit
    // has file_released or has_file) without having been confirmed yet: then
    // it is reported now, `newly_reported` is set and the caller prints the
    // leak, then the resolution. Other transitions, and cookie 0 (never a
    // socket cookie), are ignored.
    std::optional<LeakResolved> on_transition(const Transition& t);

    // A descriptor went away while others keep the socket alive. Remembered on
    // a socket in CLOSE_WAIT that is not reported yet; the earliest release
    // wins (it is the close() that did not take effect). Unknown cookies are
    // ignored (CLOSE_WAIT entry lost, or the socket is not in CLOSE_WAIT).
    void on_fd_release(const FdRelease& release);

    // Events were lost (noticed at noticed_ns): what is tracked now may have
    // missed a release, so a verdict of theirs can no longer say "never
    // closed" (Held instead).
    void on_events_lost(std::uint64_t noticed_ns);

    // ---- snapshots of the kernel's sockets ----

    // A descriptor-table scan starts now: sockets leaving CLOSE_WAIT from now
    // until on_scan() may still be in it, and must not be adopted back.
    void begin_scan();
    // Every (CLOSE_WAIT socket, descriptor) pair, read after begin_scan() and
    // applied after the ring buffer was drained behind it. `at_start`: the
    // start-up scan (adopted sockets are since_start, and their first holder
    // is their owner). owner_of: who connected or accepted a socket whose
    // owner is not known yet (adopted, or accepted after it entered
    // CLOSE_WAIT), when the kernel still remembers. now_ns: after the read.
    using OwnerLookup = std::function<std::optional<SocketOwner>(std::uint64_t cookie)>;
    ScanResult on_scan(std::span<const SocketHolder> close_wait, std::uint64_t now_ns, bool at_start = false,
                       const OwnerLookup& owner_of = {});
    // Sockets tracked as in CLOSE_WAIT that the kernel's TCP table no longer
    // has (their exit was lost): forgotten, a reported one resolved with
    // how = Unknown.
    std::vector<LeakResolved> on_vanished(std::span<const std::uint64_t> cookies, std::uint64_t now_ns);
    // Tracked sockets no scan has seen held since `since_ns` (candidates for
    // on_vanished after lost events), with their network namespaces.
    std::vector<std::pair<std::uint64_t, std::uint32_t>> unseen_since(std::uint64_t since_ns) const;

    // ---- time ----

    // Earliest mono_ns at which a scan has work (may be past); UINT64_MAX when
    // nothing is waiting.
    std::uint64_t next_deadline() const { return deadlines_.next(); }

    // Keeps the command line of a reported leak's process, so that active()
    // carries it. Unknown cookies are ignored.
    void set_cmdline(std::uint64_t cookie, std::string cmdline);

    // ---- results ----

    // Reported and still in CLOSE_WAIT, by report time then cookie.
    std::vector<Leak> active() const;

    std::size_t tracked() const { return sockets_.size(); } // sockets in CLOSE_WAIT being watched
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
        std::uint64_t entered_ns = 0;
        Phase phase = Phase::Waiting;
        SeenBy seen_by = SeenBy::Transition;
        bool since_start = false;
        bool history_complete = true; // watched since it entered CLOSE_WAIT, nothing lost since
        bool unheld = false;          // past the threshold at the last scan, held by nobody
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
    Socket& adopt(const SocketHolder& first, std::uint64_t now_ns, bool at_start, const OwnerLookup& owner_lookup);
    std::optional<Leak> confirm(Socket& s, std::vector<Holder> holders, std::uint32_t rx_queue,
                                std::uint64_t now_ns);
    void retry_unheld(Socket& s, std::uint64_t now_ns);
    std::optional<LeakResolved> leave(Socket& s, const Transition& t);
    Leak make_leak(const Socket& s, const VerdictResult& verdict) const;

    std::uint64_t threshold_ns_;
    LeakFilter filter_;
    LeakTrackerPolicy policy_;

    std::unordered_map<std::uint64_t, Socket> sockets_; // in CLOSE_WAIT, by cookie
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
