// Nanoseconds, the unit of CLOCK_MONOTONIC values in records, in the
// multiples the tests write them in.
#pragma once

#include <cstdint>

namespace tcpleak::test {

inline constexpr std::uint64_t kMs = 1'000'000;
inline constexpr std::uint64_t kSec = 1000 * kMs;

} // namespace tcpleak::test
