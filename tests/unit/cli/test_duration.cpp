#include "tcpleak/cli/duration.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <initializer_list>
#include <variant>

using namespace tcpleak;
using namespace std::chrono_literals;

namespace {
DurationError error_of(std::string_view text) {
    const auto parsed = parse_duration_or_error(text);
    REQUIRE(std::holds_alternative<DurationError>(parsed));
    return std::get<DurationError>(parsed);
}

struct Parsed {
    const char* text;
    Duration expected;
};

void check_parses(std::initializer_list<Parsed> cases) {
    for (const Parsed& c : cases) {
        INFO("text: '" << c.text << "'");
        CHECK(parse_duration(c.text) == c.expected);
    }
}

void check_refused(std::initializer_list<const char*> texts, DurationError error) {
    for (const char* text : texts) {
        INFO("text: '" << text << "'");
        CHECK_FALSE(parse_duration(text));
        CHECK(error_of(text) == error);
    }
}
} // namespace

TEST_CASE("durations take a unit from ns to h") {
    check_parses({{"250ns", 250ns}, {"250us", 250us}, {"500ms", 500ms}, {"5s", 5s}, {"2m", 2min}, {"1h", 1h}});
}

TEST_CASE("a bare number is seconds") {
    check_parses({{"10", 10s}, {"0.5", 500ms}, {"007", 7s}});
}

TEST_CASE("decimals are exact, rounded down to the nanosecond") {
    check_parses({{"1.5s", 1500ms}, {"0.25m", 15s}, {"1.5h", 90min}, {"0.001ms", 1us}, {"1.9ns", 1ns},
                  {"0.123456789123s", 123456789ns}});
}

TEST_CASE("malformed durations are refused") {
    check_refused({"", "s", "5x", "1e3", "5 s", " 5s", "5s ", "5ss", "5S", "+5", "5.", ".5", "1.2.3", "5sm", "-", "--3",
                   "0x10", "5,5s"},
                  DurationError::Malformed);
}

TEST_CASE("zero and negative durations are refused as not positive") {
    check_refused({"0", "0s", "0.0ms", "-3", "-3s", "-0.5", "0.1ns"}, DurationError::NotPositive);
}

TEST_CASE("durations that do not fit are refused as too large") {
    CHECK(parse_duration("9223372036854775807ns") == Duration(9223372036854775807));
    check_refused({"9223372036854775808ns", "2562048h", "99999999999999999999999s", "9223372036.9s"},
                  DurationError::TooLarge);
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
