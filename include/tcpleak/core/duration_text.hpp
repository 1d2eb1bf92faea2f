// Long durations in words, as every text of tcpleak writes them: the
// outputs' durations (output/text_format.hpp) and the stuck-state hints
// (core/stuck.hpp) alike.
#pragma once

#include <cstdint>
#include <string>

namespace tcpleak {

// "2m03s", "1h02m", "3d04h": a duration of at least a minute in its two
// largest units, truncated. per_second: how many of value's unit make a
// second (1000 for milliseconds, 1'000'000'000 for nanoseconds).
void append_minutes_and_up(std::string& out, std::uint64_t value, std::uint64_t per_second);

} // namespace tcpleak
