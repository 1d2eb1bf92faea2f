// Durations on the command line: "500ms", "5s", "2m", "1h", "1.5s", "10" (seconds).
#pragma once

#include "tcpleak/sys/clock.hpp" // Duration

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace tcpleak {

// Why a duration was refused, so usage errors can say more than "invalid".
enum class DurationError : std::uint8_t {
    Malformed,   // "5x", "s", "1e3", "5 s", ""
    NotPositive, // "0", "-3", "0.0000000001s" (rounds to zero)
    TooLarge,    // does not fit in Duration (about 292 years)
};

// Number, optional fraction, optional unit: ns, us, ms, s, m, h. No unit
// means seconds. Only positive durations are accepted: every duration option
// is a timeout or a period, where zero or less makes no sense.
std::variant<Duration, DurationError> parse_duration_or_error(std::string_view text);

// Same, for callers that do not need the reason.
std::optional<Duration> parse_duration(std::string_view text);

// A short phrase for usage errors: "must be greater than zero".
std::string_view describe_duration_error(DurationError error);

// The shortest exact spelling parse_duration accepts back: 5s -> "5s",
// 500ms -> "500ms", 120s -> "2m", 90s -> "90s". Used for defaults in --help.
std::string format_duration_option(Duration duration);

} // namespace tcpleak
