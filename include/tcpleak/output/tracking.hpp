// What tcpleak could not see, as the outputs tell it: reconciliations with
// the kernel's socket tables after lost events, and whether tracking was
// complete (the exit status says it too: 4).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tcpleak {

struct ReconcileReport {
    std::int64_t unix_ns = 0;
    std::int64_t gap_start_unix_ns = 0; // events may have been lost from here
    std::uint64_t events_lost = 0;
    std::uint64_t found = 0;    // sockets in CLOSE_WAIT no event had announced
    std::uint64_t vanished = 0; // tracked ones that had left CLOSE_WAIT unseen
    bool covered = true;        // false: a leak may have begun and ended unseen
};

struct TrackingState {
    bool complete = true;
    std::vector<std::string> incomplete_reasons;
    std::uint64_t reconciliations = 0; // scans after lost events
    std::uint64_t found_by_scan = 0;   // sockets a scan found in CLOSE_WAIT before any event did
    std::uint64_t scans = 0;           // descriptor-table scans
    std::uint64_t scan_busy_ns = 0;    // wall time they took
};

} // namespace tcpleak
