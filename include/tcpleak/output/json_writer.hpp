// Streaming JSON writer: appends text straight into a caller-owned string, so
// formatting an event costs no allocation once the string has grown.
#pragma once

#include <charconv>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tcpleak {

// Appends bytes as a quoted JSON string. The result is always valid JSON and
// valid UTF-8, whatever the input:
//  - '"' and '\' are escaped; U+0000..U+001F become \n \r \t \b \f or \u00XX,
//    and DEL becomes \u007f (keeps raw control bytes out of the stream);
//  - well-formed UTF-8 passes through unchanged, except the display
//    controls of core/utf8.hpp (C1 U+0080..U+009F, bidi U+202A..U+202E and
//    U+2066..U+2069, U+2028/U+2029), written as \u0085 etc.: a log viewer
//    would otherwise render them (reordering text, breaking lines) and raw
//    U+2028/U+2029 end a JavaScript string literal;
//  - each maximal ill-formed subpart (stray continuation byte, truncated
//    sequence, overlong form, surrogate, > U+10FFFF) becomes one U+FFFD, as
//    Unicode recommends (e.g. C0 AF -> two U+FFFD, E2 82 at the end -> one).
void append_json_string(std::string& out, std::string_view bytes);

// The same, written at p, which must have room for 6 * bytes.size() + 2
// (every byte escaped as \u00XX); returns the end.
char* put_json_string(char* p, std::string_view bytes);

// Appends [begin, end). std::string::append(first, last) would take the
// generic iterator path, which is several times slower for short pieces.
inline void append_range(std::string& out, const char* begin, const char* end) {
    out.append(begin, static_cast<std::size_t>(end - begin));
}

// Appends an integer in decimal.
template <std::integral T>
void append_decimal(std::string& out, T value) {
    char digits[24];
    append_range(out, digits, std::to_chars(digits, digits + sizeof(digits), value).ptr);
}

// Writes one JSON value (usually an object) at a time. Keeps only a small
// stack of "has members" flags; nesting is limited to kMaxDepth levels.
// Misuse (a value without a key inside an object, unbalanced ends) is only
// asserted: the callers are a handful of fixed record formatters.
//
// Keys are escaped like values, so any key gives valid JSON; short plain
// keys (the usual constants) take a fast path that writes the separator,
// key and a short value with a single append.
class JsonWriter {
public:
    static constexpr int kMaxDepth = 31; // one bit per level, below the top

    explicit JsonWriter(std::string& out) : out_(out) {}

    void begin_object() { open('{'); }
    void end_object() { close('}'); }
    void begin_array() { open('['); }
    void end_array() { close(']'); }

    void key(std::string_view name);

    void string(std::string_view bytes) {
        before_value();
        append_json_string(out_, bytes);
    }
    template <std::integral T>
        requires(!std::same_as<T, bool>)
    void number(T n) {
        before_value();
        append_decimal(out_, n);
    }
    void boolean(bool b) {
        before_value();
        out_.append(b ? "true" : "false");
    }
    void null() {
        before_value();
        out_.append("null");
    }

    // field(key, value): the JSON type follows the C++ type; an empty
    // optional or nullopt becomes null.
    void field(std::string_view name, std::string_view bytes);
    void field(std::string_view name, const char* bytes) { field(name, std::string_view(bytes)); }
    template <std::integral T>
        requires(!std::same_as<T, bool>)
    void field(std::string_view name, T n) {
        if constexpr (std::is_signed_v<T>)
            signed_field(name, n);
        else
            unsigned_field(name, n);
    }
    template <std::same_as<bool> T>
    void field(std::string_view name, T b) {
        key(name);
        boolean(b);
    }
    void field(std::string_view name, std::nullopt_t) {
        key(name);
        null();
    }
    template <typename T>
    void field(std::string_view name, const std::optional<T>& maybe) {
        if (maybe)
            field(name, *maybe);
        else
            field(name, std::nullopt);
    }

    // For values formatted elsewhere (times, addresses): writes the separator
    // and returns the output, to which the caller appends exactly one
    // complete, valid JSON value.
    std::string& raw_value() {
        before_value();
        return out_;
    }

    // Ends a top-level value: one record per line (NDJSON).
    void end_line() { out_.push_back('\n'); }

private:
    void open(char bracket);
    void close(char bracket);
    void unsigned_field(std::string_view name, std::uint64_t n);
    void signed_field(std::string_view name, std::int64_t n);
    template <typename Integer>
    void integer_field(std::string_view name, Integer n); // the body of both; defined in json_writer.cpp

    // Writes `,"name":` (the comma only when needed) to p; name must be short and plain.
    char* put_key(char* p, std::string_view name);

    // Writes the comma between members, unless a key was just written.
    void before_value() {
        if (after_key_)
            after_key_ = false;
        else if (take_member())
            out_.push_back(',');
    }
    // Counts a new member of the current container; true when it needs a comma.
    bool take_member() {
        const std::uint32_t bit = std::uint32_t{1} << depth_;
        const bool comma = depth_ > 0 && (has_members_ & bit);
        has_members_ |= bit;
        return comma;
    }

    std::string& out_;
    std::uint32_t has_members_ = 0; // bit d: the container at depth d has a member
    int depth_ = 0;
    bool after_key_ = false;
};

} // namespace tcpleak
