#include "tcpleak/metrics/histogram.hpp"

#include <doctest/doctest.h>

#include <limits>
#include <stdexcept>
#include <vector>

using namespace tcpleak::metrics;

namespace {

std::vector<std::uint64_t> counts(const Histogram& h) {
    return {h.bucket_counts().begin(), h.bucket_counts().end()};
}

} // namespace

TEST_CASE("an observation lands in the first bucket whose bound is >= it") {
    Histogram h({1, 2, 4});
    h.observe(-5);  // below every bound: first bucket
    h.observe(1);   // on a bound: that bucket (le means <=)
    h.observe(1.5);
    h.observe(4);
    h.observe(4.0000001); // above the last bound: +Inf bucket
    h.observe(std::numeric_limits<double>::infinity());
    CHECK(counts(h) == std::vector<std::uint64_t>{2, 1, 1, 2});
    CHECK(h.count() == 6);
    CHECK(h.sum() == std::numeric_limits<double>::infinity());
}

TEST_CASE("sum and count; NaN is ignored") {
    Histogram h({10});
    h.observe(0.5);
    h.observe(2.25);
    h.observe(std::numeric_limits<double>::quiet_NaN());
    CHECK(h.count() == 2);
    CHECK(h.sum() == 2.75);
    CHECK(counts(h) == std::vector<std::uint64_t>{2, 0});
}

TEST_CASE("no bounds: only the +Inf bucket") {
    Histogram h({});
    h.observe(3);
    CHECK(h.upper_bounds().empty());
    CHECK(counts(h) == std::vector<std::uint64_t>{1});
}

TEST_CASE("bounds must be finite and strictly increasing") {
    CHECK_THROWS_AS(Histogram({1, 1}), std::invalid_argument);
    CHECK_THROWS_AS(Histogram({2, 1}), std::invalid_argument);
    CHECK_THROWS_AS(Histogram({1, std::numeric_limits<double>::infinity()}), std::invalid_argument);
    CHECK_THROWS_AS(Histogram({std::numeric_limits<double>::quiet_NaN()}), std::invalid_argument);
}

TEST_CASE("exponential bounds") {
    CHECK(exponential_bounds(1, 4, 4) == std::vector<double>{1, 4, 16, 64});
    CHECK(exponential_bounds(0.5, 2, 0).empty());
    CHECK_THROWS_AS(exponential_bounds(0, 2, 3), std::invalid_argument);
    CHECK_THROWS_AS(exponential_bounds(1, 1, 3), std::invalid_argument);
    CHECK_THROWS_AS(exponential_bounds(1, 1e300, 3), std::invalid_argument); // overflows to +Inf
}

TEST_CASE("many buckets: each observation finds its bucket") {
    const std::vector<double> bounds = exponential_bounds(1, 2, 40);
    Histogram h(bounds);
    for (std::size_t i = 0; i < bounds.size(); ++i)
        h.observe(bounds[i]); // exactly on each bound
    std::vector<std::uint64_t> expected(bounds.size(), 1);
    expected.push_back(0); // nothing above the last bound
    CHECK(counts(h) == expected);
}
