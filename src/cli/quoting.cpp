// Quoting the command line's words in usage errors: shown, quoted_word, printable_line.
#include "cli_internal.hpp"

#include "tcpleak/core/utf8.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace tcpleak::cli_detail {

namespace {

// Words from the command line are echoed in usage errors, and they can hold
// anything: a newline ("-p $'1\n2'" would split the error over two lines),
// terminal escapes, bytes of broken UTF-8, bidi controls. They are shown as
// the user would retype them, and always as one printable line:
//   bare         plain text:               -p abc
//   '...'        with spaces or '"':       --duration '5 s'
//   $'...'       anything else, escaped:   -p $'1\n2', -c $'caf\xc3', $'it\'s'
// ($'...' is bash's and zsh's ANSI-C quoting; POSIX sh has it since 2024.)
enum class Quoting : std::uint8_t { Bare, Single, AnsiC };

Quoting quoting_for(std::string_view value) {
    Quoting quoting = value.empty() ? Quoting::Single : Quoting::Bare;
    for (std::size_t i = 0; i < value.size();) {
        const auto c = static_cast<unsigned char>(value[i]);
        if (c >= 0x80) {
            const Utf8Sequence seq = next_utf8_sequence(value.substr(i));
            if (!seq.valid || is_display_control(seq.code_point))
                return Quoting::AnsiC;
            i += seq.length;
            continue;
        }
        if (c < 0x20 || c == 0x7f || c == '\'')
            return Quoting::AnsiC;
        if (c == ' ' || c == '"')
            quoting = Quoting::Single;
        ++i;
    }
    return quoting;
}

void append_hex_byte(std::string& out, std::string_view prefix, unsigned value, int digits) {
    constexpr std::string_view hex = "0123456789abcdef";
    out += prefix;
    for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4)
        out += hex[(value >> shift) & 0xf];
}

std::string ansi_c_quoted(std::string_view value) {
    std::string out = "$'";
    for (std::size_t i = 0; i < value.size();) {
        const auto c = static_cast<unsigned char>(value[i]);
        if (c >= 0x80) {
            const Utf8Sequence seq = next_utf8_sequence(value.substr(i));
            if (seq.valid && is_display_control(seq.code_point))
                append_hex_byte(out, "\\u", seq.code_point, 4);
            else if (seq.valid)
                out.append(value.substr(i, seq.length));
            else
                for (std::size_t k = 0; k < seq.length; ++k)
                    append_hex_byte(out, "\\x", static_cast<unsigned char>(value[i + k]), 2);
            i += seq.length;
            continue;
        }
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '\'': out += "\\'"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        case 0x1b: out += "\\e"; break;
        default:
            if (c < 0x20 || c == 0x7f)
                append_hex_byte(out, "\\x", c, 2);
            else
                out += static_cast<char>(c);
        }
        ++i;
    }
    out += '\'';
    return out;
}

} // namespace

// A value as the user would retype it: quoted when the shell would need it.
std::string shown(std::string_view value) {
    switch (quoting_for(value)) {
    case Quoting::Bare: return std::string(value);
    case Quoting::Single: return concat({"'", value, "'"});
    case Quoting::AnsiC: break;
    }
    return ansi_c_quoted(value);
}

// The same, always quoted: "'x' is not a process ID".
std::string quoted_word(std::string_view value) {
    return quoting_for(value) == Quoting::AnsiC ? ansi_c_quoted(value) : concat({"'", value, "'"});
}

// The last line of defence for text that did not go through shown() (CLI11's
// own messages quote what they were given): control bytes, broken UTF-8 and
// display controls become "\xNN", so a usage error is always one printable
// line. Leaves shown()'s output as it is.
std::string printable_line(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        const Utf8Sequence seq = next_utf8_sequence(text.substr(i));
        const bool safe = c >= 0x80 ? seq.valid && !is_display_control(seq.code_point) : c >= 0x20 && c != 0x7f;
        if (safe)
            out.append(text.substr(i, seq.length));
        else
            for (std::size_t k = 0; k < seq.length; ++k)
                append_hex_byte(out, "\\x", static_cast<unsigned char>(text[i + k]), 2);
        i += seq.length;
    }
    return out;
}

} // namespace tcpleak::cli_detail
