#include "tcpleak/core/duration_text.hpp"

namespace tcpleak {

namespace {

// "2m03s": value in big units, then the rest in small units on two digits.
void append_two_units(std::string& out, std::uint64_t value, std::uint64_t big, char big_unit, std::uint64_t small,
                      char small_unit) {
    out += std::to_string(value / big);
    out += big_unit;
    const std::uint64_t rest = value % big / small;
    if (rest < 10)
        out += '0';
    out += std::to_string(rest);
    out += small_unit;
}

} // namespace

void append_minutes_and_up(std::string& out, std::uint64_t value, std::uint64_t per_second) {
    const std::uint64_t s = per_second, minute = 60 * s, hour = 60 * minute, day = 24 * hour;
    if (value < hour)
        append_two_units(out, value, minute, 'm', s, 's');
    else if (value < day)
        append_two_units(out, value, hour, 'h', minute, 'm');
    else
        append_two_units(out, value, day, 'd', hour, 'h');
}

} // namespace tcpleak
