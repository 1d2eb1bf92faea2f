#include "tcpleak/core/coverage.hpp"

#include <algorithm>

namespace tcpleak {


Coverage::Coverage(Duration threshold)
    : threshold_ns_(nonnegative_ns(threshold)) {}

void Coverage::on_loss(std::uint64_t start_ns, std::uint64_t noticed_ns, std::uint64_t events) {
    if (events == 0)
        return;
    events_lost_ += events;
    if (!open_.empty() && start_ns <= open_.back().noticed_ns) {
        LossGap& gap = open_.back(); // the same stretch of trouble
        gap.start_ns = std::min(gap.start_ns, start_ns);
        gap.noticed_ns = std::max(gap.noticed_ns, noticed_ns);
        gap.events += events;
        return;
    }
    open_.push_back({start_ns, noticed_ns, events});
    ++gaps_;
}

void Coverage::on_unreconcilable(std::string reason) {
    if (std::find(reasons_.begin(), reasons_.end(), reason) == reasons_.end())
        reasons_.push_back(std::move(reason));
}

Reconciliation Coverage::on_reconciled(std::uint64_t began_ns) {
    Reconciliation result;
    result.began_ns = began_ns;
    result.gaps = std::move(open_);
    open_.clear();
    for (const LossGap& gap : result.gaps) {
        const std::uint64_t span = began_ns > gap.start_ns ? began_ns - gap.start_ns : 0;
        if (span <= threshold_ns_)
            continue;
        result.covered = false;
        longest_uncovered_ns_ = std::max(longest_uncovered_ns_, span);
        on_unreconcilable("events were lost, and the kernel's socket tables were read longer than the threshold "
                          "after the loss began: a leak that began and ended in between may be missed");
    }
    return result;
}

} // namespace tcpleak
