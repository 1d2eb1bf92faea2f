#include "tcpleak/cli/duration.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <variant>

using namespace tcpleak;
using namespace std::chrono_literals;

namespace {
DurationError error_of(std::string_view text) {
    const auto parsed = parse_duration_or_error(text);
    REQUIRE(std::holds_alternative<DurationError>(parsed));
    return std::get<DurationError>(parsed);
}
} // namespace

TEST_CASE("durations take a unit from ns to h") {
    CHECK(parse_duration("250ns") == Duration(250ns));
    CHECK(parse_duration("250us") == Duration(250us));
    CHECK(parse_duration("500ms") == Duration(500ms));
    CHECK(parse_duration("5s") == Duration(5s));
    CHECK(parse_duration("2m") == Duration(2min));
    CHECK(parse_duration("1h") == Duration(1h));
}

TEST_CASE("a bare number is seconds") {
    CHECK(parse_duration("10") == Duration(10s));
    CHECK(parse_duration("0.5") == Duration(500ms));
    CHECK(parse_duration("007") == Duration(7s));
}

TEST_CASE("decimals are exact, rounded down to the nanosecond") {
    CHECK(parse_duration("1.5s") == Duration(1500ms));
    CHECK(parse_duration("0.25m") == Duration(15s));
    CHECK(parse_duration("1.5h") == Duration(90min));
    CHECK(parse_duration("0.001ms") == Duration(1us));
    CHECK(parse_duration("1.9ns") == Duration(1ns));
    CHECK(parse_duration("0.123456789123s") == Duration(123456789ns));
}

TEST_CASE("malformed durations are refused") {
    for (const char* text : {"", "s", "5x", "1e3", "5 s", " 5s", "5s ", "5ss", "5S", "+5", "5.", ".5", "1.2.3", "5sm",
                             "-", "--3", "0x10", "5,5s"}) {
        INFO("text: '" << text << "'");
        CHECK_FALSE(parse_duration(text));
        CHECK(error_of(text) == DurationError::Malformed);
    }
}

TEST_CASE("zero and negative durations are refused as not positive") {
    for (const char* text : {"0", "0s", "0.0ms", "-3", "-3s", "-0.5", "0.1ns"}) {
        INFO("text: " << text);
        CHECK_FALSE(parse_duration(text));
        CHECK(error_of(text) == DurationError::NotPositive);
    }
}

TEST_CASE("durations that do not fit are refused as too large") {
    CHECK(parse_duration("9223372036854775807ns") == Duration(9223372036854775807));
    for (const char* text : {"9223372036854775808ns", "2562048h", "99999999999999999999999s", "9223372036.9s"}) {
        INFO("text: " << text);
        CHECK_FALSE(parse_duration(text));
        CHECK(error_of(text) == DurationError::TooLarge);
    }
}

TEST_CASE("each refusal has a reason to print") {
    CHECK(describe_duration_error(DurationError::NotPositive) == "must be greater than zero");
    CHECK(describe_duration_error(DurationError::Malformed).find("500ms") != std::string_view::npos);
    CHECK_FALSE(describe_duration_error(DurationError::TooLarge).empty());
}

TEST_CASE("format_duration_option picks the largest exact unit") {
    CHECK(format_duration_option(5s) == "5s");
    CHECK(format_duration_option(500ms) == "500ms");
    CHECK(format_duration_option(2min) == "2m");
    CHECK(format_duration_option(120s) == "2m");
    CHECK(format_duration_option(90s) == "90s");
    CHECK(format_duration_option(1h) == "1h");
    CHECK(format_duration_option(1500ms) == "1500ms");
    CHECK(format_duration_option(250us) == "250us");
    CHECK(format_duration_option(7ns) == "7ns");
    CHECK(format_duration_option(0s) == "0s");
}

TEST_CASE("formatted durations parse back to the same value") {
    for (const Duration duration : {Duration(5s), Duration(500ms), Duration(2min), Duration(90s), Duration(3h),
                                    Duration(1234567ns)})
        CHECK(parse_duration(format_duration_option(duration)) == duration);
}
