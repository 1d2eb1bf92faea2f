#include "utf8.hpp"

namespace tcpleak::metrics::detail {

namespace {

struct LeadByte {
    std::size_t length;           // of the whole sequence; 0: not a lead byte
    unsigned char second_min = 0x80; // the second byte's range is narrower for
    unsigned char second_max = 0xBF; // some leads: no overlongs, surrogates or > U+10FFFF
    char32_t bits = 0;               // payload of the lead byte
};

// Unicode 15, table 3-7 (well-formed UTF-8 byte sequences).
LeadByte classify(unsigned char b) {
    if (b >= 0xC2 && b <= 0xDF)
        return {2, 0x80, 0xBF, b & 0x1Fu};
    if (b == 0xE0)
        return {3, 0xA0, 0xBF, b & 0x0Fu};
    if (b == 0xED)
        return {3, 0x80, 0x9F, b & 0x0Fu};
    if (b >= 0xE1 && b <= 0xEF)
        return {3, 0x80, 0xBF, b & 0x0Fu};
    if (b == 0xF0)
        return {4, 0x90, 0xBF, b & 0x07u};
    if (b >= 0xF1 && b <= 0xF3)
        return {4, 0x80, 0xBF, b & 0x07u};
    if (b == 0xF4)
        return {4, 0x80, 0x8F, b & 0x07u};
    return {0}; // continuation byte, C0, C1 or F5..FF
}

} // namespace

Utf8Sequence next_utf8_sequence(std::string_view bytes) {
    const auto lead = static_cast<unsigned char>(bytes.front());
    if (lead < 0x80)
        return {1, true, lead};
    const LeadByte info = classify(lead);
    if (info.length == 0)
        return {};
    char32_t code_point = info.bits;
    for (std::size_t i = 1; i < info.length; ++i) {
        if (i >= bytes.size())
            return {i, false, 0xFFFD}; // truncated at the end of the input
        const auto b = static_cast<unsigned char>(bytes[i]);
        const unsigned char min = i == 1 ? info.second_min : 0x80;
        const unsigned char max = i == 1 ? info.second_max : 0xBF;
        if (b < min || b > max)
            return {i, false, 0xFFFD}; // b starts the next sequence
        code_point = (code_point << 6) | (b & 0x3Fu);
    }
    return {info.length, true, code_point};
}

} // namespace tcpleak::metrics::detail
