// UTF-8 as untrusted bytes (process names, command lines, option values):
// decoding one sequence at a time, and which well-formed code points must
// still never reach a terminal, a log viewer or a JSON consumer raw. Shared
// by every output that escapes such text (JSON, tables, XML, usage errors).
#pragma once

#include <cstddef>
#include <string_view>

namespace tcpleak {

// One UTF-8 sequence at the start of a non-empty byte string. When the bytes
// are ill-formed, length covers the maximal ill-formed subpart (at least one
// byte), valid is false and code_point is U+FFFD.
struct Utf8Sequence {
    std::size_t length = 1;
    bool valid = false;
    char32_t code_point = 0xFFFD;
};
Utf8Sequence next_utf8_sequence(std::string_view bytes);

// Well-formed code points that change how the text around them is shown:
// C1 controls (U+0080..U+009F; 0x9B is a terminal's CSI), the bidi
// embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069: they
// reorder what follows, "Trojan source"), and the line and paragraph
// separators U+2028/U+2029 (line breaks to some viewers, and not allowed
// raw in JavaScript strings before ES2019).
constexpr bool is_display_control(char32_t cp) {
    return (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
           cp == 0x2028 || cp == 0x2029;
}

} // namespace tcpleak
