// Kernel timestamps are CLOCK_MONOTONIC; people and log pipelines want wall time.
#pragma once

#include <chrono>
#include <cstdint>

namespace tcpleak {

// Every duration option and threshold.
using Duration = std::chrono::nanoseconds;

std::uint64_t monotonic_now_ns();
std::int64_t realtime_now_ns();

// Converts CLOCK_MONOTONIC nanoseconds to Unix-epoch nanoseconds.
struct ClockMapping {
    std::int64_t offset_ns = 0; // realtime - monotonic

    std::int64_t to_unix_ns(std::uint64_t mono_ns) const { return static_cast<std::int64_t>(mono_ns) + offset_ns; }
    static ClockMapping current(); // sampled now; refresh to follow clock steps
};

} // namespace tcpleak
