// The leak tracker: which sockets stay in CLOSE_WAIT past a threshold while a
// descriptor still holds them. Pure logic: no I/O, no BPF, no clock of its own
// (every time is a CLOCK_MONOTONIC value passed in), so it is unit-tested with
// synthetic records and a fake clock.
//
// How an event loop drives it:
//   records from the ring buffer -> on_transition / on_fd_release
//   start-up descriptor-table scan -> on_existing_socket
//   sleep until next_deadline(); then for due(now): look up the holders of
//   those cookies (descriptor-table scan) and confirm() each one.
//   on_transition's result: print leak (if newly_reported) and resolution.
#pragma once

#include "tcpleak/core/leak.hpp"
#include "tcpleak/sys/clock.hpp" // Duration
#include "tcpleak/core/records.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tcpleak {

// Which leaks to report. Empty = everything. A process matches when its pid
// is in `pids` (if any) and its comm equals `comm` (if set), as the kernel's
// owner filter does; a leak matches when its owner or any holder matches.
struct LeakFilter {
    std::vector<std::uint32_t> pids;
    std::optional<std::string> comm;

    bool empty() const { return pids.empty() && !comm; }
    bool matches(std::uint32_t pid, const Comm& comm) const;
};

struct LeakTrackerLimits {
    // Sockets watched at once (in CLOSE_WAIT: waiting, reported or filtered).
    // A bound on memory under a flood of CLOSE_WAIT sockets; past it new
    // sockets are not tracked (the oldest ones are the likeliest leaks and the
    // nearest to being reported) and evictions() counts them.
    std::size_t max_tracked = 65536;
    // Resolved leaks kept for reported()/resolved(); the oldest go first
    // (also counted by evictions()).
    std::size_t max_history = 65536;
    // confirm() calls that found no holder before the socket is dropped
    // (dropped_unheld() counts them): the close may be racing the scan, or the
    // socket is in flight over a unix socket, or it was never accept()ed.
    unsigned max_unheld_confirms = 3;
    // After a confirm() that found no holder, the socket is due again this
    // much later, so the loop does not rescan in a tight loop.
    Duration unheld_retry = std::chrono::milliseconds(100);
};

class LeakTracker {
public:
    explicit LeakTracker(Duration threshold, LeakFilter filter = {}, LeakTrackerLimits limits = {});

    // ---- kernel records (in the order the ring buffer gives them) ----

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

    // One record of the start-up descriptor-table scan (state must be
    // CLOSE_WAIT, else ignored). Entered = now - age estimate (now if
    // unknown), since_start = true. Several records per socket accumulate.
    // A later CLOSE_WAIT-entry transition for it replaces the estimate.
    void on_existing_socket(const SocketHolder& holder, std::uint64_t now_mono_ns);

    // ---- time ----

    // Earliest mono_ns at which due() becomes non-empty (may be in the past);
    // UINT64_MAX when nothing is waiting.
    std::uint64_t next_deadline() const;

    // Cookies of sockets past the threshold, not yet reported or filtered, and
    // not waiting out an unheld retry, earliest first.
    std::vector<std::uint64_t> due(std::uint64_t now_mono_ns) const;

    // Decides a due socket with its current holders (records for other cookies
    // and records of sockets no longer in CLOSE_WAIT are ignored). Returns the
    // leak the first time it is held past the threshold and passes the
    // filter; nullopt otherwise (not tracked, not due yet, already reported,
    // filtered out, or no holder: retried after unheld_retry, dropped after
    // max_unheld_confirms).
    std::optional<Leak> confirm(std::uint64_t cookie, std::span<const SocketHolder> holders,
                                std::uint64_t now_mono_ns);

    // Keeps the command line of a reported leak's process (read by the caller
    // when it got the leak from confirm() or on_transition()), so that
    // active(), reported() and resolved() carry it: on the leak still in
    // CLOSE_WAIT, else on its latest resolution. Unknown cookies are ignored.
    void set_cmdline(std::uint64_t cookie, std::string cmdline);

    // ---- results ----

    // Reported and still in CLOSE_WAIT, by report time then cookie.
    std::vector<Leak> active() const;
    // Every leak reported so far (resolved ones first, in resolution order,
    // then the active ones), within max_history.
    std::vector<Leak> reported() const;
    // Reported leaks that left CLOSE_WAIT, in resolution order (max_history).
    const std::deque<LeakResolved>& resolved() const { return history_; }

    // ---- counters ----
    std::size_t tracked() const { return sockets_.size(); } // sockets in CLOSE_WAIT being watched
    std::uint64_t reported_total() const { return reported_total_; } // leaks ever reported
    std::uint64_t evictions() const { return evictions_; }  // dropped because a bound was hit
    std::uint64_t dropped_unheld() const { return dropped_unheld_; } // no holder after N confirms
    std::size_t schedule_size() const { return queue_.size() + late_.size(); } // diagnostics/tests

    Duration threshold() const { return Duration(threshold_ns_); }

private:
    enum class Phase : std::uint8_t { Waiting, Reported, Filtered };

    struct Release {
        std::uint64_t mono_ns = 0;
        std::uint32_t pid = 0;
        std::uint32_t fd = 0;
        ReleaseVia via = ReleaseVia::Close;
        Comm comm{};
    };

    struct Socket {
        std::uint64_t cookie = 0;
        std::uint64_t entered_ns = 0;
        std::uint64_t due_ns = 0; // when it is due (Waiting only)
        std::uint64_t ticket = 0; // of its live entry in queue_; 0: none
        bool in_late = false;     // it is in late_ instead
        Phase phase = Phase::Waiting;
        bool since_start = false;
        std::uint8_t unheld = 0;  // confirms that found no holder
        bool owner_known = false;
        OwnerVia owner_via = OwnerVia::None;
        std::uint32_t owner_pid = 0;
        Comm owner_comm{};
        SocketAddress address;
        std::uint32_t rx_queue = 0;
        std::optional<Release> release;
        std::vector<Holder> start_holders; // from the start-up scan
        std::unique_ptr<Leak> leak;        // once reported
    };

    // An entry of queue_: live while its socket still holds its ticket. (Not
    // (due_ns, cookie): a socket rescheduled to the same time, or a cookie
    // that leaves and comes back, would revive its dead entries.)
    struct Scheduled {
        std::uint64_t due_ns = 0;
        std::uint64_t cookie = 0;
        std::uint64_t ticket = 0;
    };

    Socket* find(std::uint64_t cookie);
    Socket* track(std::uint64_t cookie, bool& created); // nullptr when full
    void forget(Socket& s);
    void schedule(Socket& s, std::uint64_t due_ns);
    void unschedule(Socket& s);
    bool live(const Scheduled& entry) const;
    void tidy();
    void remember(LeakResolved resolved);
    bool leak_selected(const Leak& leak) const;
    std::optional<LeakResolved> leave(Socket& s, const Transition& t);

    std::uint64_t threshold_ns_;
    LeakFilter filter_;
    LeakTrackerLimits limits_;

    std::unordered_map<std::uint64_t, Socket> sockets_; // in CLOSE_WAIT, by cookie
    // Waiting sockets by due time. Sockets enter CLOSE_WAIT in time order, so
    // queue_ is a FIFO with lazy deletion (a socket that leaves or is
    // rescheduled just drops its ticket; dead entries are popped from the
    // front): O(1) per event. Due times that would break its order (start-up
    // estimates, retries, records slightly out of order) go to late_, which
    // is exact.
    std::deque<Scheduled> queue_;
    std::uint64_t next_ticket_ = 1; // 0 is no ticket
    std::set<std::pair<std::uint64_t, std::uint64_t>> late_; // (due_ns, cookie)

    std::deque<LeakResolved> history_;
    std::uint64_t reported_total_ = 0;
    std::uint64_t evictions_ = 0;
    std::uint64_t dropped_unheld_ = 0;
};

} // namespace tcpleak
