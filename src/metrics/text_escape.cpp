#include "tcpleak/metrics/text_escape.hpp"

#include "utf8.hpp"

namespace tcpleak::metrics {

namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD"; // U+FFFD

bool is_control(char32_t code_point) {
    return code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F);
}

// Printable ASCII that needs no escape: the common case, copied in runs.
bool is_verbatim_ascii(unsigned char c, bool in_label_value) {
    return c >= 0x20 && c < 0x7F && c != '\\' && !(in_label_value && c == '"');
}

// What replaces the one character at the start of bytes, or nothing if its
// bytes go out as they are. Sets length to the bytes it covers.
std::string_view replacement(std::string_view bytes, bool in_label_value, std::size_t& length) {
    const detail::Utf8Sequence seq = detail::next_utf8_sequence(bytes);
    length = seq.length;
    if (!seq.valid)
        return kReplacementCharacter;
    switch (seq.code_point) {
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '"': return in_label_value ? "\\\"" : std::string_view{};
    default: break;
    }
    return is_control(seq.code_point) ? kReplacementCharacter : std::string_view{};
}

void append_escaped(std::string& out, std::string_view bytes, bool in_label_value) {
    std::size_t run = 0; // start of bytes not yet copied
    std::size_t i = 0;
    while (i < bytes.size()) {
        if (is_verbatim_ascii(static_cast<unsigned char>(bytes[i]), in_label_value)) {
            ++i;
            continue;
        }
        std::size_t length = 1;
        const std::string_view escaped = replacement(bytes.substr(i), in_label_value, length);
        if (!escaped.empty()) {
            out.append(bytes.substr(run, i - run));
            out.append(escaped);
            run = i + length;
        }
        i += length;
    }
    out.append(bytes.substr(run));
}

} // namespace

void append_label_value(std::string& out, std::string_view bytes) {
    append_escaped(out, bytes, true);
}

void append_help_text(std::string& out, std::string_view bytes) {
    append_escaped(out, bytes, false);
}

} // namespace tcpleak::metrics
