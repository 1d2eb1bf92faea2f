// What a leak watch tells: the one interface of the leak record stream.
// `tcpleak leaks` prints it (output/leak_output.hpp), `tcpleak run` records
// it for its report (report/run_recorder.hpp), the agent counts it. Times
// are CLOCK_MONOTONIC, as the kernel stamps them; each output turns them
// into wall time itself.
#pragma once

#include "tcpleak/core/leak.hpp"
#include "tcpleak/core/records.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace tcpleak {

// A reconciliation after lost events: what it found.
struct ReconcileNotice {
    std::uint64_t mono_ns = 0;      // when it read the tables
    std::uint64_t gap_start_ns = 0; // the earliest time events may have been lost from
    std::uint64_t events_lost = 0;  // in the gaps it closed
    std::uint64_t found = 0;        // sockets in CLOSE_WAIT the events had not announced
    std::uint64_t vanished = 0;     // tracked sockets the kernel no longer has in CLOSE_WAIT
    bool covered = true;            // false: a leak may have begun and ended unseen
};

// What tcpleak could not see, at the end of a watch (the exit status says
// it too: 4).
struct TrackingState {
    bool complete = true;
    std::vector<std::string> incomplete_reasons;
    std::uint64_t reconciliations = 0; // scans after lost events
    std::uint64_t found_by_scan = 0;   // sockets a scan found in CLOSE_WAIT before any event did
    std::uint64_t scans = 0;           // descriptor-table scans
    std::uint64_t scan_busy_ns = 0;    // wall time they took
};

class LeakEvents {
public:
    virtual ~LeakEvents() = default;
    virtual void leak(const Leak& leak) = 0;                 // past the threshold while held
    virtual void resolved(const LeakResolved& resolved) = 0; // a reported leak left CLOSE_WAIT
    virtual void process(const ProcEvent&) {}                // run: the traced tree changed
    // count records newly lost (ring buffer full), total since start.
    virtual void lost(std::uint64_t count, std::uint64_t total, std::uint64_t mono_ns) = 0;
    virtual void reconciled(const ReconcileNotice& notice) = 0;
};

} // namespace tcpleak
