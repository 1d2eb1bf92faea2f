#include "tcpleak/core/utf8.hpp"

#include <doctest/doctest.h>

using namespace tcpleak;

TEST_CASE("UTF-8 sequences decode with their code points") {
    const Utf8Sequence ascii = next_utf8_sequence("A");
    CHECK(ascii.valid);
    CHECK(ascii.length == 1);
    CHECK(ascii.code_point == U'A');
    const Utf8Sequence euro = next_utf8_sequence("\xE2\x82\xAC!");
    CHECK(euro.valid);
    CHECK(euro.length == 3);
    CHECK(euro.code_point == U'\u20AC');
    const Utf8Sequence max = next_utf8_sequence("\xF4\x8F\xBF\xBF");
    CHECK(max.valid);
    CHECK(max.code_point == U'\U0010FFFF');
    const Utf8Sequence cut = next_utf8_sequence("\xF0\x9F\x98");
    CHECK_FALSE(cut.valid);
    CHECK(cut.length == 3);
    const Utf8Sequence surrogate = next_utf8_sequence("\xED\xA0\x80");
    CHECK_FALSE(surrogate.valid);
    CHECK(surrogate.length == 1);
}

TEST_CASE("display controls: C1, bidi embeddings/overrides/isolates, line and paragraph separators") {
    for (char32_t cp = 0x80; cp <= 0x9F; ++cp)
        CHECK(is_display_control(cp));
    for (char32_t cp = 0x202A; cp <= 0x202E; ++cp)
        CHECK(is_display_control(cp));
    for (char32_t cp = 0x2066; cp <= 0x2069; ++cp)
        CHECK(is_display_control(cp));
    CHECK(is_display_control(0x2028));
    CHECK(is_display_control(0x2029));
    // Their neighbours are ordinary text.
    for (char32_t cp : {0x7EU, 0xA0U, 0xE9U, 0x2027U, 0x202FU, 0x2065U, 0x206AU, 0x20ACU, 0x1F600U})
        CHECK_FALSE(is_display_control(cp));
}
