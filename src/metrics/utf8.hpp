// UTF-8 decoding for sanitizing untrusted label values (internal).
#pragma once

#include <cstddef>
#include <string_view>

namespace tcpleak::metrics::detail {

// One UTF-8 sequence at the start of a non-empty byte string. When the bytes
// are ill-formed, length covers the maximal ill-formed subpart (at least one
// byte, as Unicode's "substitution of maximal subparts" recommends), valid is
// false and code_point is U+FFFD.
struct Utf8Sequence {
    std::size_t length = 1;
    bool valid = false;
    char32_t code_point = 0xFFFD;
};
Utf8Sequence next_utf8_sequence(std::string_view bytes);

} // namespace tcpleak::metrics::detail
