#include "tcpleak/sys/clock.hpp"

#include <ctime>

namespace tcpleak {

namespace {
std::int64_t read_clock(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
} // namespace

std::uint64_t monotonic_now_ns() { return static_cast<std::uint64_t>(read_clock(CLOCK_MONOTONIC)); }
std::int64_t realtime_now_ns() { return read_clock(CLOCK_REALTIME); }

ClockMapping ClockMapping::current() {
    // Bracket the realtime read between two monotonic reads to halve the skew.
    const std::int64_t before = read_clock(CLOCK_MONOTONIC);
    const std::int64_t real = read_clock(CLOCK_REALTIME);
    const std::int64_t after = read_clock(CLOCK_MONOTONIC);
    return ClockMapping{real - (before + (after - before) / 2)};
}

} // namespace tcpleak
