// How often a cache may reload from disk after a miss: at most once per
// interval, so a stream of unknown ids costs one reload a second, not one each.
// The clock is injected so tests step time instead of sleeping.
#pragma once

#include <chrono>
#include <functional>
#include <optional>

namespace tcpleak::identity {

using TimePoint = std::chrono::steady_clock::time_point;
using Clock = std::function<TimePoint()>;

inline Clock steady_clock_now() {
    return [] { return std::chrono::steady_clock::now(); };
}

class RefreshLimit {
public:
    RefreshLimit(Clock clock, std::chrono::nanoseconds interval) : clock_(std::move(clock)), interval_(interval) {}

    // True, and a new interval starts, when the last refresh was at least one interval ago.
    bool try_start() {
        const TimePoint now = clock_();
        if (last_ && now - *last_ < interval_)
            return false;
        last_ = now;
        return true;
    }

    // A refresh that ran regardless (at start, or forced) also starts an interval.
    void started_now() { last_ = clock_(); }

    TimePoint now() const { return clock_(); }

private:
    Clock clock_;
    std::chrono::nanoseconds interval_;
    std::optional<TimePoint> last_;
};

} // namespace tcpleak::identity
