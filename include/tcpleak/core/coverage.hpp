// What tcpleak could not see, and whether reconciling with the kernel's
// socket tables made up for it.
//
// Lost events (the ring buffer was full, or the kernel skipped a program run)
// leave a gap: from the last time nothing had been lost to when the loss was
// noticed. A reconciliation scan finds every socket still in CLOSE_WAIT, so
// the only leaks a gap can hide are sockets that entered CLOSE_WAIT in it and
// left before the scan. A socket that left before the scan spent less than
// (scan start - gap start) in CLOSE_WAIT: when that is at most the
// threshold, it was no leak, and the gap is covered. Otherwise tracking is
// incomplete: a leak may have gone unseen, which the exit status says (4).
//
// Bounds the kernel side hit (a full map of selected sockets or processes)
// hide events the same way but cannot be reconciled: incomplete at once.
#pragma once

#include "tcpleak/sys/clock.hpp" // Duration

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tcpleak {

struct LossGap {
    std::uint64_t start_ns = 0;   // nothing was lost before this
    std::uint64_t noticed_ns = 0; // the loss was seen here
    std::uint64_t events = 0;     // events lost in it
};

// The outcome of one reconciliation for the gaps it closed.
struct Reconciliation {
    std::uint64_t began_ns = 0;
    std::vector<LossGap> gaps; // the gaps it closed (empty: a periodic check)
    bool covered = true;       // every one of them was short enough
};

class Coverage {
public:
    explicit Coverage(Duration threshold);

    // `events` were lost between start_ns (the last check that found none)
    // and noticed_ns. Opens a gap, or widens the open one.
    void on_loss(std::uint64_t start_ns, std::uint64_t noticed_ns, std::uint64_t events);
    // A bound the kernel side hit: events of selected sockets or processes
    // were never produced. Incomplete for good.
    void on_unreconcilable(std::string reason);

    // Gaps wait for a reconciliation scan.
    bool reconcile_needed() const { return !open_.empty(); }
    // A reconciliation scan that began at began_ns closes the open gaps.
    Reconciliation on_reconciled(std::uint64_t began_ns);

    // Nothing that could hide a leak went uncovered.
    bool complete() const { return reasons_.empty(); }
    // Why not, one phrase each.
    const std::vector<std::string>& incomplete_reasons() const { return reasons_; }
    std::uint64_t events_lost() const { return events_lost_; }
    std::uint64_t gaps() const { return gaps_; }
    // From a gap's start to the reconciliation that closed it, the longest
    // of those that were not covered (0: none).
    std::uint64_t longest_uncovered_ns() const { return longest_uncovered_ns_; }

private:
    std::uint64_t threshold_ns_;
    std::vector<LossGap> open_;
    std::vector<std::string> reasons_;
    std::uint64_t events_lost_ = 0;
    std::uint64_t gaps_ = 0;
    std::uint64_t longest_uncovered_ns_ = 0;
};

} // namespace tcpleak
