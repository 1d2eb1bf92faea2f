// Kernel timestamps are CLOCK_MONOTONIC; people and log pipelines want wall time.
#pragma once

#include <chrono>
#include <cstdint>

namespace tcpleak {

// Every duration option and threshold.
using Duration = std::chrono::nanoseconds;

std::uint64_t monotonic_now_ns();
std::int64_t realtime_now_ns();

// later - earlier, or 0 when "later" is not (times read on different CPUs,
// or an estimate that is a lower bound).
inline std::uint64_t sub_sat(std::uint64_t later, std::uint64_t earlier) {
    return later > earlier ? later - earlier : 0;
}

// a + b, or the largest value (never) when that does not fit: a deadline
// past the end of time.
inline std::uint64_t add_sat(std::uint64_t a, std::uint64_t b) {
    return b > UINT64_MAX - a ? UINT64_MAX : a + b;
}

// A duration option as nanoseconds, 0 for a negative one.
inline std::uint64_t nonnegative_ns(Duration d) { return d.count() > 0 ? static_cast<std::uint64_t>(d.count()) : 0; }

// Converts CLOCK_MONOTONIC nanoseconds to Unix-epoch nanoseconds.
struct ClockMapping {
    std::int64_t offset_ns = 0; // realtime - monotonic

    std::int64_t to_unix_ns(std::uint64_t mono_ns) const { return static_cast<std::int64_t>(mono_ns) + offset_ns; }
    // The other way (0 for a time before boot).
    std::uint64_t to_mono_ns(std::int64_t unix_ns) const {
        const std::int64_t mono = unix_ns - offset_ns;
        return mono > 0 ? static_cast<std::uint64_t>(mono) : 0;
    }
    static ClockMapping current(); // sampled now; refresh to follow clock steps
};

} // namespace tcpleak
