#include "tcpleak/output/json_writer.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>

using namespace tcpleak;

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD"; // U+FFFD

std::string json_string(std::string_view bytes) {
    std::string out;
    append_json_string(out, bytes);
    return out;
}

// The decoded value of a JSON string literal; fails the test if it is not valid JSON.
std::string parsed(const std::string& json) {
    const auto value = nlohmann::json::parse(json); // throws on invalid JSON or UTF-8
    REQUIRE(value.is_string());
    return value.get<std::string>();
}

std::string repeat(std::string_view text, int times) {
    std::string out;
    for (int i = 0; i < times; ++i)
        out.append(text);
    return out;
}

} // namespace

TEST_CASE("plain ASCII is copied between quotes") {
    CHECK(json_string("") == R"("")");
    CHECK(json_string("server") == R"("server")");
    CHECK(json_string("a b~{}") == R"("a b~{}")");
}

TEST_CASE("quotes and backslashes are escaped") {
    CHECK(json_string(R"(a"b\c)") == R"("a\"b\\c")");
    CHECK(parsed(json_string(R"(a"b\c)")) == R"(a"b\c)");
}

TEST_CASE("every control character is escaped and round-trips") {
    for (int c = 0; c < 0x20; ++c) {
        const std::string input(1, static_cast<char>(c));
        const std::string out = json_string(input);
        CAPTURE(c);
        for (char byte : out)
            CHECK(static_cast<unsigned char>(byte) >= 0x20);
        CHECK(parsed(out) == input);
    }
    CHECK(json_string("\n\r\t\b\f") == R"("\n\r\t\b\f")");
    CHECK(json_string(std::string_view("\0", 1)) == R"("\u0000")");
    CHECK(json_string("\x01\x1b\x1f") == R"("\u0001\u001b\u001f")");
}

TEST_CASE("DEL is escaped so no raw control byte reaches the stream") {
    CHECK(json_string("a\x7f") == R"("a\u007f")");
    CHECK(parsed(json_string("\x7f")) == "\x7f");
}

TEST_CASE("well-formed multi-byte UTF-8 passes through unchanged") {
    for (std::string_view text : {"\xC3\xA9t\xC3\xA9",        // été (2-byte)
                                  "\xE2\x82\xAC 5",           // € (3-byte)
                                  "\xF0\x9F\x98\x80",         // 😀 (4-byte)
                                  "\xC2\xA0\xDF\xBF",         // U+00A0 (past C1) and the end of the 2-byte range
                                  "\xE0\xA0\x80\xEF\xBF\xBF", // ends of the 3-byte range
                                  "\xED\x9F\xBF\xEE\x80\x80", // around the surrogates
                                  "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF"}) { // U+10000, U+10FFFF
        CAPTURE(text);
        CHECK(json_string(text) == "\"" + std::string(text) + "\"");
        CHECK(parsed(json_string(text)) == text);
    }
}

namespace {

// The UTF-8 bytes of a code point.
std::string utf8(char32_t cp) {
    std::string out;
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    return out;
}

// "\u202e" for U+202E.
std::string escape_of(char32_t cp) {
    char text[8];
    std::snprintf(text, sizeof(text), "\\u%04x", static_cast<unsigned>(cp));
    return text;
}

// Every code point of [first, last] is written as \uXXXX, alone and inside
// plain text, in values and in keys, and decodes back to itself; no byte of
// its UTF-8 form reaches the output.
void check_escaped_range(char32_t first, char32_t last) {
    for (char32_t cp = first; cp <= last; ++cp) {
        CAPTURE(static_cast<unsigned>(cp));
        const std::string raw = utf8(cp);
        CHECK(json_string(raw) == "\"" + escape_of(cp) + "\"");
        const std::string inside = "name" + raw + "tail";
        CHECK(json_string(inside) == "\"name" + escape_of(cp) + "tail\"");
        CHECK(parsed(json_string(inside)) == inside);

        std::string record;
        JsonWriter json(record);
        json.begin_object();
        json.field(inside, inside);
        json.end_object();
        CHECK(record.find(raw) == std::string::npos);
        CHECK(nlohmann::json::parse(record).begin().key() == inside);

        char buffer[64];
        CHECK(std::string(buffer, put_json_string(buffer, inside)) == json_string(inside));
    }
}

} // namespace

TEST_CASE("C1 controls U+0080..U+009F are escaped, never raw") {
    check_escaped_range(0x80, 0x9F);
    CHECK(json_string("\xC2\x9B[2J") == R"("\u009b[2J")"); // a terminal's CSI, then "clear screen"
}

TEST_CASE("bidi embeddings and overrides U+202A..U+202E are escaped") {
    check_escaped_range(0x202A, 0x202E);
    // "Trojan source": U+202E would show "exe.txt" as "txt.exe".
    CHECK(json_string("report\xE2\x80\xAEtxt.exe") == R"("report\u202etxt.exe")");
}

TEST_CASE("bidi isolates U+2066..U+2069 are escaped") { check_escaped_range(0x2066, 0x2069); }

TEST_CASE("line and paragraph separators U+2028/U+2029 are escaped (they end JavaScript strings)") {
    check_escaped_range(0x2028, 0x2029);
}

TEST_CASE("the neighbours of the escaped ranges pass through unchanged") {
    for (char32_t cp : {0xA0U, 0xA9U, 0xFFU, 0x2027U, 0x202FU, 0x2065U, 0x206AU, 0x200EU, 0x200FU, 0xFEFFU}) {
        CAPTURE(static_cast<unsigned>(cp));
        const std::string raw = utf8(cp);
        CHECK(json_string(raw) == "\"" + raw + "\"");
    }
}

TEST_CASE("ill-formed UTF-8 becomes U+FFFD per maximal subpart") {
    const auto expect = [](std::string_view input, const std::string& decoded) {
        CAPTURE(input);
        CHECK(parsed(json_string(input)) == decoded);
    };
    const std::string r(kReplacement);
    expect("ab\xE2\x82", "ab" + r);                  // 3-byte character cut after 2 bytes
    expect("\xE2\x82x", r + "x");                    // cut in the middle, then ASCII
    expect("\xF0\x9F\x98", r);                       // 4-byte character cut after 3 bytes
    expect("\x80", r);                               // lone continuation bytes
    expect("a\x80\xBF" "b", "a" + r + r + "b");
    expect("\xFF", r);                               // never valid
    expect("\xFE\xF5", r + r);
    expect("\xC0\xAF", r + r);                       // overlong '/'
    expect("\xC1\xBF", r + r);                       // overlong
    expect("\xE0\x80\xAF", r + r + r);               // overlong 3-byte
    expect("\xF0\x80\x80\xAF", repeat(r, 4));        // overlong 4-byte
    expect("\xED\xA0\x80", r + r + r);               // encoded surrogate U+D800
    expect("\xED\xBF\xBF", r + r + r);               // encoded surrogate U+DFFF
    expect("\xF4\x90\x80\x80", repeat(r, 4));        // U+110000
    expect("\xC3" "A", r + "A");                     // lead byte without continuation
    expect("\xC3\xC3\xA9", r + "\xC3\xA9");          // a valid character after a broken one
}

TEST_CASE("any short byte string gives valid JSON") {
    std::string input;
    for (int a = 0; a < 256; ++a) {
        for (int b = 0; b < 256; ++b) {
            input.assign({static_cast<char>(a), static_cast<char>(b)});
            const std::string out = json_string(input);
            if (!nlohmann::json::accept(out))
                FAIL("invalid JSON for bytes " << a << " " << b << ": " << out);
        }
    }
    std::mt19937 random(42);
    std::uniform_int_distribution<int> byte(0, 255);
    for (int i = 0; i < 20000; ++i) {
        input.clear();
        for (int k = 0; k < 16; ++k) // like a comm, biased toward UTF-8 lead and continuation bytes
            input.push_back(static_cast<char>(k % 3 == 0 ? byte(random) : 0x80 | (byte(random) & 0x7f)));
        const std::string out = json_string(input);
        if (!nlohmann::json::accept(out))
            FAIL("invalid JSON for a random string: " << out);
    }
}

TEST_CASE("the writer places commas and colons") {
    std::string out = "prefix ";
    JsonWriter json(out);
    json.begin_object();
    json.field("a", 1);
    json.key("list");
    json.begin_array();
    json.number(std::numeric_limits<std::uint64_t>::max());
    json.number(std::numeric_limits<std::int64_t>::min());
    json.begin_object();
    json.end_object();
    json.begin_array();
    json.end_array();
    json.boolean(true);
    json.null();
    json.string("x");
    json.end_array();
    json.field("empty", std::string_view{});
    json.end_object();
    json.end_line();
    CHECK(out == R"(prefix {"a":1,"list":[18446744073709551615,-9223372036854775808,{},[],true,null,"x"],"empty":""})"
                 "\n");
}

TEST_CASE("field picks the JSON type from the C++ type") {
    std::string out;
    JsonWriter json(out);
    json.begin_object();
    json.field("literal", "text");
    json.field("view", std::string_view("v"));
    json.field("u8", std::uint8_t{200});
    json.field("u16", std::uint16_t{65535});
    json.field("u32", std::uint32_t{4026531840u});
    json.field("i", -5);
    json.field("yes", true);
    json.field("some", std::optional<std::uint64_t>(7));
    json.field("none", std::optional<std::uint64_t>());
    json.field("nothing", std::nullopt);
    json.end_object();
    CHECK(out == R"({"literal":"text","view":"v","u8":200,"u16":65535,"u32":4026531840,"i":-5,"yes":true,)"
                 R"("some":7,"none":null,"nothing":null})");
    CHECK(nlohmann::json::accept(out));
}

TEST_CASE("keys are escaped like values and consecutive top-level records are independent") {
    std::string out;
    for (int i = 0; i < 2; ++i) {
        JsonWriter json(out);
        json.begin_object();
        json.field("a\"b", i);
        json.field("raw", 0);
        json.end_object();
        json.end_line();
    }
    CHECK(out == "{\"a\\\"b\":0,\"raw\":0}\n{\"a\\\"b\":1,\"raw\":0}\n");
}

TEST_CASE("long or escaped keys and values leave the fast path but not the format") {
    const std::string long_text(100, 'k');
    std::string out;
    JsonWriter json(out);
    json.begin_object();
    json.field(long_text, long_text);
    json.field(long_text, 1u);
    json.field(long_text, -1);
    json.field("k", "tab\there");
    json.field("k\n", "x");
    json.end_object();
    const auto parsed_object = nlohmann::ordered_json::parse(out);
    CHECK(parsed_object.size() == 3); // the long key repeats
    CHECK(out == "{\"" + long_text + "\":\"" + long_text + "\",\"" + long_text + "\":1,\"" + long_text +
                     "\":-1,\"k\":\"tab\\there\",\"k\\n\":\"x\"}");
}

TEST_CASE("raw values get their separator") {
    std::string out;
    JsonWriter json(out);
    json.begin_array();
    json.raw_value().append("\"t\"");
    json.raw_value().append("1.5");
    json.end_array();
    CHECK(out == R"(["t",1.5])");
}
