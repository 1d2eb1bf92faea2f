// A histogram with fixed buckets, as Prometheus exposes it: each bucket
// counts the observations <= its upper bound, and an implicit +Inf bucket
// counts them all. Not thread-safe: the agent observes and renders on one
// thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace tcpleak::metrics {

class Histogram {
public:
    // upper_bounds: finite and strictly increasing (std::invalid_argument
    // otherwise); may be empty, leaving the +Inf bucket alone.
    explicit Histogram(std::vector<double> upper_bounds);

    // O(log buckets). A NaN is ignored: it belongs to no bucket, and one
    // would turn _sum into NaN for the rest of the process's life.
    void observe(double value);

    std::span<const double> upper_bounds() const { return upper_bounds_; }
    // Per bucket, not cumulative: [i] counts observations in
    // (upper_bounds[i-1], upper_bounds[i]]; the last entry is the +Inf bucket
    // (above the last bound). Rendering accumulates them.
    std::span<const std::uint64_t> bucket_counts() const { return bucket_counts_; }
    std::uint64_t count() const { return count_; }
    double sum() const { return sum_; }

private:
    std::vector<double> upper_bounds_;
    std::vector<std::uint64_t> bucket_counts_; // upper_bounds_.size() + 1
    std::uint64_t count_ = 0;
    double sum_ = 0;
};

// start, start*factor, start*factor^2, ... (count bounds): e.g. durations
// from seconds to days. Needs start > 0 and factor > 1.
std::vector<double> exponential_bounds(double start, double factor, std::size_t count);

} // namespace tcpleak::metrics
