// What every command's start and summary records carry, whatever it
// watches: the command, its times, the kernel's counters and BPF memory.
#pragma once

#include "tcpleak/core/kernel_counters.hpp"

#include <cstdint>
#include <string_view>

namespace tcpleak {

struct StartInfo {
    std::string_view mode; // "trace", "leaks"
    std::int64_t unix_ns = 0;
    std::string_view version;
};

// The part of a summary every command has; TraceSummary and LeakSummary add
// what they watched.
struct SummaryBase {
    std::int64_t start_unix_ns = 0;
    std::int64_t end_unix_ns = 0;
    KernelCounters kernel;           // kernel.lost: records lost, all told before the summary
    std::uint64_t bpf_map_bytes = 0; // memory of all BPF maps, fixed at start
};

} // namespace tcpleak
