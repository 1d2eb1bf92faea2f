#include "tcpleak/session/event_loop.hpp"

#include "tcpleak/sys/clock.hpp"
#include "tcpleak/sys/signals.hpp"

#include <algorithm>

namespace tcpleak {

void run_event_loop(RingReader& reader, std::optional<std::uint64_t> deadline_mono_ns,
                    const std::function<bool(std::uint64_t)>& tick, OnStopSignal on_signal) {
    while (on_signal == OnStopSignal::Continue || stop_signal() == 0) {
        auto timeout = kPollInterval;
        if (deadline_mono_ns) {
            const std::uint64_t now = monotonic_now_ns();
            if (now >= *deadline_mono_ns)
                return;
            const auto left = std::chrono::nanoseconds(*deadline_mono_ns - now);
            timeout = std::min(timeout, std::chrono::ceil<std::chrono::milliseconds>(left));
        }
        reader.poll(timeout);
        if (!tick(monotonic_now_ns()))
            return;
    }
}

std::uint64_t LostEvents::poll(std::uint64_t now_mono_ns) {
    constexpr std::uint64_t kCheckEveryNs = 100'000'000;
    if (now_mono_ns - last_check_ns_ < kCheckEveryNs)
        return 0;
    last_check_ns_ = now_mono_ns;
    const std::uint64_t lost = session_.read_counters().lost();
    const std::uint64_t fresh = lost > reported_ ? lost - reported_ : 0;
    reported_ = std::max(reported_, lost);
    return fresh;
}

std::optional<std::uint64_t> deadline_after(const std::optional<std::chrono::nanoseconds>& duration) {
    if (!duration)
        return std::nullopt;
    return monotonic_now_ns() + static_cast<std::uint64_t>(duration->count());
}

} // namespace tcpleak
