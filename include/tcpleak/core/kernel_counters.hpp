// What the kernel side counted (enum tl_counter in bpf/tcpleak.h), summed
// over CPUs, with the counters' names: both come from the one list in
// bpf/tcpleak.h (TL_COUNTERS), so a new counter touches nothing here.
#pragma once

#include <linux/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" {
#include "tcpleak.h"
}

namespace tcpleak {

struct KernelCounters {
    std::array<std::uint64_t, TL_CNT_MAX> counts{}; // by enum tl_counter
    // Program runs the kernel skipped because the program was already
    // running on that CPU (a softirq interrupting it): read from the
    // programs' info, not counted by them.
    std::uint64_t recursion_misses = 0;

    std::uint64_t& operator[](tl_counter counter) { return counts[counter]; }
    std::uint64_t operator[](tl_counter counter) const { return counts[counter]; }
    std::uint64_t lost() const { return counts[TL_CNT_LOST]; } // records dropped: ring buffer full
};

// The JSON key of each counter, by enum tl_counter ("transitions_seen", ...).
inline constexpr std::array<std::string_view, TL_CNT_MAX> kKernelCounterNames = {
#define TL_COUNTER_NAME(name, key) #key,
    TL_COUNTERS(TL_COUNTER_NAME)
#undef TL_COUNTER_NAME
};
inline constexpr std::string_view kRecursionMissesName = "recursion_misses";

// Calls visit(name, value) for every counter, in the order of the JSON
// "kernel" objects: the kernel's counters, then recursion_misses.
template <typename Visit>
void for_each_kernel_counter(const KernelCounters& counters, Visit&& visit) {
    for (std::size_t i = 0; i < TL_CNT_MAX; ++i)
        visit(kKernelCounterNames[i], counters.counts[i]);
    visit(kRecursionMissesName, counters.recursion_misses);
}

} // namespace tcpleak
