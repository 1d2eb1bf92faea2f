#include "tcpleak/cli/duration.hpp"

#include <array>
#include <cstdint>

namespace tcpleak {

namespace {

struct Unit {
    std::string_view suffix;
    std::int64_t nanoseconds;
};

// Largest first: format_duration_option picks the first unit that divides
// exactly. The empty suffix (bare number) is handled by unit_for_suffix.
constexpr std::array<Unit, 6> kUnits = {{
    {"h", 3'600'000'000'000},
    {"m", 60'000'000'000},
    {"s", 1'000'000'000},
    {"ms", 1'000'000},
    {"us", 1'000},
    {"ns", 1},
}};

constexpr std::int64_t kNanosecondsPerSecond = 1'000'000'000;

std::optional<std::int64_t> unit_for_suffix(std::string_view suffix) {
    if (suffix.empty())
        return kNanosecondsPerSecond;
    for (const Unit& unit : kUnits)
        if (unit.suffix == suffix)
            return unit.nanoseconds;
    return std::nullopt;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Leading run of digits, removed from text.
std::string_view take_digits(std::string_view& text) {
    std::size_t count = 0;
    while (count < text.size() && is_digit(text[count]))
        ++count;
    const std::string_view digits = text.substr(0, count);
    text.remove_prefix(count);
    return digits;
}

// whole * unit, or nullopt on overflow.
std::optional<std::int64_t> scale_whole(std::string_view digits, std::int64_t unit) {
    std::int64_t whole = 0;
    for (char digit : digits)
        if (__builtin_mul_overflow(whole, 10, &whole) || __builtin_add_overflow(whole, digit - '0', &whole))
            return std::nullopt;
    std::int64_t scaled = 0;
    if (__builtin_mul_overflow(whole, unit, &scaled))
        return std::nullopt;
    return scaled;
}

// 0.<digits> * unit, rounded down, exactly: Horner's rule from the last digit
// keeps every intermediate below 10 * unit, so neither overflow nor floating
// point rounding can creep in however many digits are given.
std::int64_t scale_fraction(std::string_view digits, std::int64_t unit) {
    std::int64_t scaled = 0;
    for (auto it = digits.rbegin(); it != digits.rend(); ++it)
        scaled = ((*it - '0') * unit + scaled) / 10;
    return scaled;
}

// Parses an unsigned "<digits>[.<digits>][unit]".
std::variant<Duration, DurationError> parse_unsigned(std::string_view text) {
    const std::string_view whole_digits = take_digits(text);
    if (whole_digits.empty())
        return DurationError::Malformed;
    std::string_view fraction_digits;
    if (!text.empty() && text.front() == '.') {
        text.remove_prefix(1);
        fraction_digits = take_digits(text);
        if (fraction_digits.empty())
            return DurationError::Malformed; // "5." or "5.s": likely a typo
    }
    const std::optional<std::int64_t> unit = unit_for_suffix(text);
    if (!unit)
        return DurationError::Malformed;

    const std::optional<std::int64_t> whole = scale_whole(whole_digits, *unit);
    std::int64_t total = 0;
    if (!whole || __builtin_add_overflow(*whole, scale_fraction(fraction_digits, *unit), &total))
        return DurationError::TooLarge;
    if (total == 0)
        return DurationError::NotPositive;
    return Duration{total};
}

} // namespace

std::variant<Duration, DurationError> parse_duration_or_error(std::string_view text) {
    if (!text.empty() && text.front() == '-') {
        // "-3" is a well-formed but negative duration; "-x" is just junk.
        const auto magnitude = parse_unsigned(text.substr(1));
        return std::holds_alternative<DurationError>(magnitude) &&
                       std::get<DurationError>(magnitude) == DurationError::Malformed
                   ? DurationError::Malformed
                   : DurationError::NotPositive;
    }
    return parse_unsigned(text);
}

std::optional<Duration> parse_duration(std::string_view text) {
    const auto parsed = parse_duration_or_error(text);
    if (const Duration* duration = std::get_if<Duration>(&parsed))
        return *duration;
    return std::nullopt;
}

std::string_view describe_duration_error(DurationError error) {
    switch (error) {
    case DurationError::Malformed:
        return "not a duration (use e.g. 500ms, 5s, 2m, 1h, or plain seconds)";
    case DurationError::NotPositive:
        return "must be greater than zero";
    case DurationError::TooLarge:
        return "too large";
    }
    return "invalid duration";
}

std::string format_duration_option(Duration duration) {
    const std::int64_t nanoseconds = duration.count();
    if (nanoseconds == 0)
        return "0s";
    for (const Unit& unit : kUnits)
        if (nanoseconds % unit.nanoseconds == 0)
            return std::to_string(nanoseconds / unit.nanoseconds) + std::string(unit.suffix);
    return std::to_string(nanoseconds) + "ns"; // unreachable: ns divides everything
}

} // namespace tcpleak
