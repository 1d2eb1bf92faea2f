// Counters the BPF side keeps (enum tl_counter), summed over CPUs.
#pragma once

#include <cstdint>

namespace tcpleak {

struct KernelCounters {
    std::uint64_t transitions = 0;              // seen, before filtering
    std::uint64_t sent = 0;                     // records handed to the ring buffer
    std::uint64_t lost = 0;                     // records dropped: ring buffer full
    std::uint64_t selected_full = 0;            // a selected socket not remembered (filters, run)
    std::uint64_t release_map_update_failed = 0; // fd release not remembered
    std::uint64_t pids_full = 0;                // forked child not tracked
    std::uint64_t recursion_misses = 0;         // program runs the kernel skipped (already running on that CPU)
};

} // namespace tcpleak
