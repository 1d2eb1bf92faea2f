#include "tcpleak/metrics/text_escape.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace tcpleak::metrics;

namespace {

std::string label_value(std::string_view bytes) {
    std::string out;
    append_label_value(out, bytes);
    return out;
}

std::string help_text(std::string_view bytes) {
    std::string out;
    append_help_text(out, bytes);
    return out;
}

const std::string kFffd = "\xEF\xBF\xBD";

} // namespace

TEST_CASE("label values: plain text and UTF-8 pass through") {
    CHECK(label_value("") == "");
    CHECK(label_value("nginx: worker") == "nginx: worker");
    CHECK(label_value("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
    CHECK(label_value("\xF4\x8F\xBF\xBF") == "\xF4\x8F\xBF\xBF"); // U+10FFFF, the last code point
}

TEST_CASE("label values: the format's three escapes") {
    CHECK(label_value("a\"b") == "a\\\"b");
    CHECK(label_value("a\\b") == "a\\\\b");
    CHECK(label_value("a\nb") == "a\\nb");
    CHECK(label_value("\\n") == "\\\\n"); // a literal backslash-n stays two characters
    CHECK(label_value("\"} 1\nevil_metric 666") == "\\\"} 1\\nevil_metric 666");
}

TEST_CASE("label values: control characters become U+FFFD") {
    CHECK(label_value(std::string("a\0b", 3)) == "a" + kFffd + "b");
    CHECK(label_value("a\rb") == "a" + kFffd + "b");
    CHECK(label_value("\t\x1b[31m") == kFffd + kFffd + "[31m");
    CHECK(label_value("\x7f") == kFffd);
    CHECK(label_value("\xC2\x80\xC2\x9F") == kFffd + kFffd); // C1 controls, well-formed
    CHECK(label_value("\xC2\xA0") == "\xC2\xA0");             // U+00A0, just past C1
}

TEST_CASE("label values: each maximal ill-formed subpart becomes one U+FFFD") {
    CHECK(label_value("\x80") == kFffd);                           // stray continuation
    CHECK(label_value("\xC0\xAF") == kFffd + kFffd);               // overlong '/'
    CHECK(label_value("\xE0\x80\xAF") == kFffd + kFffd + kFffd);   // overlong, 3 bytes
    CHECK(label_value("\xED\xA0\x80") == kFffd + kFffd + kFffd);   // surrogate U+D800
    CHECK(label_value("\xF4\x90\x80\x80") == kFffd + kFffd + kFffd + kFffd); // > U+10FFFF
    CHECK(label_value("\xF5") == kFffd);
    CHECK(label_value("\xFF\xFE") == kFffd + kFffd);
    CHECK(label_value("ab\xE2\x82") == "ab" + kFffd);              // truncated at the end
    CHECK(label_value("\xE2\x82x") == kFffd + "x");                // truncated by ASCII
    CHECK(label_value("\xF0\x9F\x98\"") == kFffd + "\\\"");        // truncated by a quote
    CHECK(label_value("\xE2\x82\xE2\x82\xAC") == kFffd + "\xE2\x82\xAC");
}

TEST_CASE("HELP text escapes backslash and newline, not quotes") {
    CHECK(help_text("Sockets in \"CLOSE_WAIT\"") == "Sockets in \"CLOSE_WAIT\"");
    CHECK(help_text("a\\b\nc") == "a\\\\b\\nc");
    CHECK(help_text("bad \xFF\r") == "bad " + kFffd + kFffd);
}
