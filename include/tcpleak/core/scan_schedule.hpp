// When to read the descriptor tables. A scan costs the same however many
// sockets it is for (it walks every descriptor on the machine: ~0.4 us each,
// 70-120 ms with 200,000), so scans are batched: one covers every socket due
// by then. Two limits keep their cost a small share of one core whatever
// the machine holds: a minimum gap between scans, and a gap of `duty_factor`
// times the last scan's own cost (14: scans take at most 1/15 of a core,
// leaving room under a tenth for the rest of tcpleak's work).
// A reconciliation after lost events is urgent: only the minimum gap holds
// it back (the longer it waits, the longer a leak could hide in the gap). A
// periodic reconciliation scan runs even when nothing is due.
#pragma once

#include "tcpleak/sys/clock.hpp" // Duration

#include <chrono>
#include <cstdint>

namespace tcpleak {

struct ScanPolicy {
    Duration min_gap = std::chrono::milliseconds(250);
    unsigned duty_factor = 14;
    Duration reconcile_every = std::chrono::seconds(10);
};

class ScanSchedule {
public:
    explicit ScanSchedule(ScanPolicy policy = {}) : policy_(policy) {}

    // The earliest time the next scan may start (UINT64 0: at once).
    std::uint64_t earliest(std::uint64_t now_ns) const;
    // Whether a scan should run now: sockets are due and the limits allow
    // it, a reconciliation is urgent and the minimum gap has passed, or the
    // periodic reconciliation is due.
    bool should_scan(std::uint64_t now_ns, bool work_due, bool urgent = false) const;
    // A scan read the tables from began_ns to read_ns (its cost: what
    // handling what it found takes is tcpleak's own work, not the scan's).
    void ran(std::uint64_t began_ns, std::uint64_t read_ns);

    std::uint64_t scans() const { return scans_; }
    std::uint64_t busy_ns() const { return busy_ns_; } // time spent scanning
    std::uint64_t last_cost_ns() const { return last_cost_ns_; }

private:
    ScanPolicy policy_;
    std::uint64_t last_end_ns_ = 0;
    std::uint64_t last_cost_ns_ = 0;
    std::uint64_t scans_ = 0;
    std::uint64_t busy_ns_ = 0;
};

} // namespace tcpleak
