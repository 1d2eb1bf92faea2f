#include "tcpleak/core/utf8.hpp"

namespace tcpleak {

Utf8Sequence next_utf8_sequence(std::string_view bytes) {
    const auto lead = static_cast<unsigned char>(bytes[0]);
    if (lead < 0x80)
        return {1, true, lead};

    // Well-formed sequences (Unicode table 3-7): the second byte's range
    // depends on the lead byte; that excludes overlongs, surrogates and
    // values past U+10FFFF.
    std::size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    char32_t cp = 0;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2, cp = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3, cp = lead & 0x0F;
        low = lead == 0xE0 ? 0xA0 : 0x80;
        high = lead == 0xED ? 0x9F : 0xBF;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4, cp = lead & 0x07;
        low = lead == 0xF0 ? 0x90 : 0x80;
        high = lead == 0xF4 ? 0x8F : 0xBF;
    } else {
        return {}; // continuation byte, C0/C1 (overlong) or F5..FF
    }

    for (std::size_t i = 1; i < length; ++i) {
        const auto c = i < bytes.size() ? static_cast<unsigned char>(bytes[i]) : 0;
        if (i >= bytes.size() || c < low || c > high)
            return {i, false, 0xFFFD};
        cp = (cp << 6) | (c & 0x3F);
        low = 0x80;
        high = 0xBF;
    }
    return {length, true, cp};
}

} // namespace tcpleak
