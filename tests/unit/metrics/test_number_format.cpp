#include "tcpleak/metrics/number_format.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>

using namespace tcpleak::metrics;

namespace {

template <typename T>
std::string value(T v) {
    std::string out;
    append_value(out, v);
    return out;
}

} // namespace

TEST_CASE("integers are written exactly") {
    CHECK(value(std::uint64_t{0}) == "0");
    CHECK(value(std::numeric_limits<std::uint64_t>::max()) == "18446744073709551615");
    CHECK(value(std::numeric_limits<std::int64_t>::min()) == "-9223372036854775808");
    CHECK(value(std::int64_t{-1}) == "-1");
}

TEST_CASE("doubles are written in their shortest round-trip form") {
    CHECK(value(0.0) == "0");
    CHECK(value(-0.0) == "-0");
    CHECK(value(1.0) == "1");
    CHECK(value(0.1) == "0.1");
    CHECK(value(0.005) == "0.005");
    CHECK(value(2.5) == "2.5");
    CHECK(value(123456789012.0) == "123456789012");
    CHECK(value(1e21) == "1e+21");
    CHECK(value(1e-7) == "1e-07");
    CHECK(value(1.0 / 3) == "0.3333333333333333");
    CHECK(value(std::numeric_limits<double>::max()) == "1.7976931348623157e+308");
    CHECK(value(std::numeric_limits<double>::denorm_min()) == "5e-324");
}

TEST_CASE("special values are spelled as Prometheus does") {
    CHECK(value(std::numeric_limits<double>::infinity()) == "+Inf");
    CHECK(value(-std::numeric_limits<double>::infinity()) == "-Inf");
    CHECK(value(std::numeric_limits<double>::quiet_NaN()) == "NaN");
    CHECK(value(-std::numeric_limits<double>::quiet_NaN()) == "NaN");
}
