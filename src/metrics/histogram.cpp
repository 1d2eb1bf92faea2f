#include "tcpleak/metrics/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace tcpleak::metrics {

namespace {

void require_valid_bounds(const std::vector<double>& bounds) {
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        if (!std::isfinite(bounds[i]))
            throw std::invalid_argument("histogram bucket bounds must be finite (+Inf is implicit)");
        if (i > 0 && bounds[i] <= bounds[i - 1])
            throw std::invalid_argument("histogram bucket bounds must be strictly increasing");
    }
}

} // namespace

Histogram::Histogram(std::vector<double> upper_bounds) : upper_bounds_(std::move(upper_bounds)) {
    require_valid_bounds(upper_bounds_);
    bucket_counts_.assign(upper_bounds_.size() + 1, 0);
}

void Histogram::observe(double value) {
    if (std::isnan(value))
        return;
    // The first bound >= value: buckets are "less than or equal".
    const auto bound = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
    ++bucket_counts_[static_cast<std::size_t>(bound - upper_bounds_.begin())];
    ++count_;
    sum_ += value;
}

std::vector<double> exponential_bounds(double start, double factor, std::size_t count) {
    if (!(start > 0) || !(factor > 1))
        throw std::invalid_argument("exponential bounds need start > 0 and factor > 1");
    std::vector<double> bounds;
    bounds.reserve(count);
    double bound = start;
    for (std::size_t i = 0; i < count; ++i, bound *= factor)
        bounds.push_back(bound);
    require_valid_bounds(bounds); // overflow to +Inf on absurd counts
    return bounds;
}

} // namespace tcpleak::metrics
