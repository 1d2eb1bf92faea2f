#include "tcpleak/output/json_writer.hpp"

#include <cstring>

#include "tcpleak/output/text_format.hpp"

#include <array>
#include <cassert>

namespace tcpleak {

namespace {

// Bytes that go out as they are: printable ASCII except '"' and '\'.
constexpr std::array<bool, 256> kVerbatim = [] {
    std::array<bool, 256> table{};
    for (int c = 0x20; c < 0x7f; ++c)
        table[c] = c != '"' && c != '\\';
    return table;
}();

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD"; // U+FFFD

// Short plain texts are copied into a stack buffer and appended at once:
// one small append costs about as much as a push_back, several add up.
constexpr std::size_t kShortText = 48;
// Separator, quoted key, colon and a quoted short value or a number.
constexpr std::size_t kScratchSize = 2 * kShortText + 32;

bool is_short_plain(std::string_view text) {
    if (text.size() > kShortText)
        return false;
    for (char c : text)
        if (!kVerbatim[static_cast<unsigned char>(c)])
            return false;
    return true;
}

char* put_quoted(char* p, std::string_view plain) {
    *p++ = '"';
    for (char c : plain) // keys and names are a few bytes: cheaper than a memcpy call
        *p++ = c;
    *p++ = '"';
    return p;
}

void append_ascii_escape(std::string& out, unsigned char c) {
    switch (c) {
    case '"': out.append("\\\""); return;
    case '\\': out.append("\\\\"); return;
    case '\n': out.append("\\n"); return;
    case '\r': out.append("\\r"); return;
    case '\t': out.append("\\t"); return;
    case '\b': out.append("\\b"); return;
    case '\f': out.append("\\f"); return;
    default: break;
    }
    constexpr std::string_view hex = "0123456789abcdef";
    const char escape[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
    out.append(escape, sizeof(escape));
}

// \u0085, \u202e: a code point of the Basic Multilingual Plane as JSON's
// escape (display controls are all there), so that no viewer renders it.
void append_unicode_escape(std::string& out, char32_t cp) {
    constexpr std::string_view hex = "0123456789abcdef";
    const char escape[] = {'\\', 'u', hex[(cp >> 12) & 0xf], hex[(cp >> 8) & 0xf], hex[(cp >> 4) & 0xf], hex[cp & 0xf]};
    out.append(escape, sizeof(escape));
}

void append_escaped(std::string& out, std::string_view bytes) {
    const char* const end = bytes.data() + bytes.size();
    const char* run = bytes.data(); // start of bytes not yet copied
    const char* p = run;
    while (p != end) {
        const auto c = static_cast<unsigned char>(*p);
        if (kVerbatim[c]) {
            ++p;
            continue;
        }
        if (c >= 0x80) {
            const Utf8Sequence seq = next_utf8_sequence({p, static_cast<std::size_t>(end - p)});
            if (seq.valid && !is_display_control(seq.code_point)) { // stays in the verbatim run
                p += seq.length;
                continue;
            }
            append_range(out, run, p);
            if (seq.valid)
                append_unicode_escape(out, seq.code_point);
            else
                out.append(kReplacementCharacter);
            p += seq.length;
        } else {
            append_range(out, run, p);
            append_ascii_escape(out, c);
            ++p;
        }
        run = p;
    }
    append_range(out, run, p);
}

} // namespace

void append_json_string(std::string& out, std::string_view bytes) {
    if (is_short_plain(bytes)) {
        char quoted[kShortText + 2];
        append_range(out, quoted, put_quoted(quoted, bytes));
        return;
    }
    out.push_back('"');
    append_escaped(out, bytes);
    out.push_back('"');
}

char* put_json_string(char* p, std::string_view bytes) {
    if (is_short_plain(bytes))
        return put_quoted(p, bytes);
    std::string escaped; // hostile or long names: rare, so the slow path is fine
    append_json_string(escaped, bytes);
    std::memcpy(p, escaped.data(), escaped.size());
    return p + escaped.size();
}

char* JsonWriter::put_key(char* p, std::string_view name) {
    if (take_member())
        *p++ = ',';
    p = put_quoted(p, name);
    *p++ = ':';
    return p;
}

void JsonWriter::key(std::string_view name) {
    if (is_short_plain(name)) {
        char scratch[kScratchSize];
        append_range(out_, scratch, put_key(scratch, name));
    } else {
        if (take_member())
            out_.push_back(',');
        append_json_string(out_, name);
        out_.push_back(':');
    }
    after_key_ = true;
}

void JsonWriter::field(std::string_view name, std::string_view bytes) {
    if (!is_short_plain(name) || !is_short_plain(bytes)) {
        key(name);
        string(bytes);
        return;
    }
    char scratch[kScratchSize];
    char* p = put_key(scratch, name);
    append_range(out_, scratch, put_quoted(p, bytes));
}

template <typename Integer>
void JsonWriter::integer_field(std::string_view name, Integer n) {
    if (!is_short_plain(name)) {
        key(name);
        number(n);
        return;
    }
    char scratch[kScratchSize];
    char* p = put_key(scratch, name);
    append_range(out_, scratch, std::to_chars(p, scratch + sizeof(scratch), n).ptr);
}

void JsonWriter::unsigned_field(std::string_view name, std::uint64_t n) { integer_field(name, n); }
void JsonWriter::signed_field(std::string_view name, std::int64_t n) { integer_field(name, n); }

void JsonWriter::open(char bracket) {
    before_value();
    assert(depth_ < kMaxDepth && "JSON nested too deep");
    out_.push_back(bracket);
    ++depth_;
    has_members_ &= ~(std::uint32_t{1} << depth_);
}

void JsonWriter::close(char bracket) {
    assert(depth_ > 0 && "unbalanced JSON end");
    out_.push_back(bracket);
    --depth_;
}

} // namespace tcpleak
