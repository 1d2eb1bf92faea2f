#include "tcpleak/core/scan_schedule.hpp"

#include <algorithm>

namespace tcpleak {

std::uint64_t ScanSchedule::earliest(std::uint64_t) const {
    if (scans_ == 0)
        return 0;
    const std::uint64_t gap = std::max(nonnegative_ns(policy_.min_gap), last_cost_ns_ * policy_.duty_factor);
    return last_end_ns_ + gap;
}

bool ScanSchedule::should_scan(std::uint64_t now_ns, bool work_due, bool urgent) const {
    if (scans_ == 0)
        return true;
    if (urgent)
        return now_ns >= last_end_ns_ + nonnegative_ns(policy_.min_gap);
    if (now_ns < earliest(now_ns))
        return false;
    return work_due || now_ns >= last_end_ns_ + nonnegative_ns(policy_.reconcile_every);
}

void ScanSchedule::ran(std::uint64_t began_ns, std::uint64_t ended_ns) {
    last_cost_ns_ = ended_ns > began_ns ? ended_ns - began_ns : 0;
    last_end_ns_ = ended_ns;
    busy_ns_ += last_cost_ns_;
    ++scans_;
}

} // namespace tcpleak
