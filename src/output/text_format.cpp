#include "tcpleak/output/text_format.hpp"

#include "tcpleak/output/json_writer.hpp"
#include "tcpleak/core/duration_text.hpp"
#include "tcpleak/core/records.hpp"
#include "tcpleak/core/tcp_state.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>

namespace tcpleak {

namespace {

constexpr std::int64_t kNsPerSecond = 1'000'000'000;

// Splits Unix nanoseconds into whole seconds and the nanoseconds past them,
// rounding toward negative infinity so that times before 1970 stay ordered.
struct SplitTime {
    std::int64_t second;
    std::int64_t nanos; // 0..999'999'999
};
SplitTime split_time(std::int64_t unix_ns) {
    SplitTime split{unix_ns / kNsPerSecond, unix_ns % kNsPerSecond};
    if (split.nanos < 0) {
        split.second -= 1;
        split.nanos += kNsPerSecond;
    }
    return split;
}

// Writes value as exactly `digits` decimal digits (zero-padded, truncated to the low digits).
char* put_digits(char* p, std::uint64_t value, int digits) {
    for (int i = digits - 1; i >= 0; --i) {
        p[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
    return p + digits;
}

void append_digits(std::string& out, std::uint64_t value, int digits) {
    char buffer[20];
    append_range(out, buffer, put_digits(buffer, value, digits));
}

// "HH:MM:SS" for a broken-down time.
char* put_time_of_day(char* p, const std::tm& tm) {
    p = put_digits(p, tm.tm_hour, 2);
    *p++ = ':';
    p = put_digits(p, tm.tm_min, 2);
    *p++ = ':';
    return put_digits(p, tm.tm_sec, 2);
}

char* put_ipv4(char* p, const std::array<std::uint8_t, 16>& addr) {
    for (int i = 0; i < 4; ++i) {
        const unsigned octet = addr[i];
        if (i > 0)
            *p++ = '.';
        if (octet >= 100)
            *p++ = static_cast<char>('0' + octet / 100);
        if (octet >= 10)
            *p++ = static_cast<char>('0' + octet / 10 % 10);
        *p++ = static_cast<char>('0' + octet % 10);
    }
    return p;
}

char* put_ipv6(char* p, const std::array<std::uint8_t, 16>& addr) {
    static_assert(kMaxIpSize >= INET6_ADDRSTRLEN);
    if (inet_ntop(AF_INET6, addr.data(), p, INET6_ADDRSTRLEN) == nullptr) {
        *p = '?'; // cannot happen with a large enough buffer
        return p + 1;
    }
    return p + std::strlen(p);
}

// value is in thousandths of a unit, 1000..999'999: three significant digits.
void append_three_significant(std::string& out, std::uint64_t thousandths, std::string_view unit) {
    const std::uint64_t whole = thousandths / 1000;
    const std::uint64_t fraction = thousandths % 1000;
    append_decimal(out, whole);
    if (whole < 10) {
        out.push_back('.');
        append_digits(out, fraction / 10, 2);
    } else if (whole < 100) {
        out.push_back('.');
        append_digits(out, fraction / 100, 1);
    }
    out.append(unit);
}

} // namespace

void append_hex_escape(std::string& out, unsigned char c) {
    constexpr std::string_view hex = "0123456789abcdef";
    const char escape[] = {'\\', 'x', hex[c >> 4], hex[c & 0xf]};
    out.append(escape, sizeof(escape));
}

void Rfc3339Clock::append(std::string& out, std::int64_t unix_ns) {
    char text[kMaxSize];
    append_range(out, text, put(text, unix_ns));
}

char* Rfc3339Clock::put(char* out, std::int64_t unix_ns) {
    const SplitTime split = split_time(unix_ns);
    if (split.second != cached_second_) {
        const auto seconds = static_cast<std::time_t>(split.second);
        std::tm tm{};
        gmtime_r(&seconds, &tm);
        char* p = prefix_.data();
        const std::int64_t year = std::int64_t{tm.tm_year} + 1900;
        p = year >= 0 && year <= 9999 ? put_digits(p, year, 4) : std::to_chars(p, p + 12, year).ptr;
        *p++ = '-';
        p = put_digits(p, tm.tm_mon + 1, 2);
        *p++ = '-';
        p = put_digits(p, tm.tm_mday, 2);
        *p++ = 'T';
        p = put_time_of_day(p, tm);
        prefix_size_ = static_cast<std::size_t>(p - prefix_.data());
        cached_second_ = split.second;
    }
    std::memcpy(out, prefix_.data(), prefix_size_);
    out += prefix_size_;
    *out++ = '.';
    out = put_digits(out, static_cast<std::uint64_t>(split.nanos / 1000), 6);
    *out++ = 'Z';
    return out;
}

void LocalTimeClock::append(std::string& out, std::int64_t unix_ns) {
    const SplitTime split = split_time(unix_ns);
    if (split.second != cached_second_) {
        const auto seconds = static_cast<std::time_t>(split.second);
        std::tm tm{};
        localtime_r(&seconds, &tm);
        put_time_of_day(prefix_.data(), tm);
        cached_second_ = split.second;
    }
    out.append(prefix_.data(), prefix_.size());
    char fraction[4];
    fraction[0] = '.';
    put_digits(fraction + 1, static_cast<std::uint64_t>(split.nanos / 1'000'000), 3);
    out.append(fraction, sizeof(fraction));
}

std::string_view family_name(std::uint8_t family) {
    switch (family) {
    case kFamilyIpv4: return "ipv4";
    case kFamilyIpv6: return "ipv6";
    default: return "unknown";
    }
}

char* put_ip(char* p, std::uint8_t family, const std::array<std::uint8_t, 16>& addr) {
    if (family == kFamilyIpv4)
        return put_ipv4(p, addr);
    if (family == kFamilyIpv6)
        return put_ipv6(p, addr);
    *p = '?';
    return p + 1;
}

void append_ip(std::string& out, std::uint8_t family, const std::array<std::uint8_t, 16>& addr) {
    char text[kMaxIpSize];
    append_range(out, text, put_ip(text, family, addr));
}

void append_endpoint(std::string& out, std::uint8_t family, const std::array<std::uint8_t, 16>& addr,
                     std::uint16_t port) {
    const bool bracketed = family == kFamilyIpv6;
    if (bracketed)
        out.push_back('[');
    append_ip(out, family, addr);
    if (bracketed)
        out.push_back(']');
    out.push_back(':');
    append_decimal(out, port);
}

void append_duration_short(std::string& out, std::uint64_t ns) {
    constexpr std::uint64_t us = 1000, ms = 1000 * us, s = 1000 * ms, minute = 60 * s;
    if (ns < us) {
        append_decimal(out, ns);
        out.append("ns");
    } else if (ns < ms) {
        append_decimal(out, ns / us);
        out.append("us");
    } else if (ns < s) {
        append_three_significant(out, ns / us, "ms");
    } else if (ns < minute) {
        append_three_significant(out, ns / ms, "s");
    } else {
        append_minutes_and_up(out, ns, s);
    }
}

std::string format_duration_short(std::uint64_t ns) {
    std::string text;
    append_duration_short(text, ns);
    return text;
}

void append_bytes_iec(std::string& out, std::uint64_t bytes) {
    constexpr std::string_view units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) {
        append_decimal(out, bytes);
        out.append(" B");
        return;
    }
    std::size_t unit = 0;
    std::uint64_t scale = 1024; // bytes per unit
    while (unit + 1 < std::size(units) && bytes / scale >= 1024) {
        scale *= 1024;
        ++unit;
    }
    append_decimal(out, bytes / scale);
    out.push_back('.');
    // bytes % scale < scale <= 2^60, so the product cannot overflow.
    append_decimal(out, bytes % scale * 10 / scale);
    out.push_back(' ');
    out.append(units[unit]);
}

std::size_t append_printable(std::string& out, std::string_view bytes) {
    std::size_t columns = 0;
    std::size_t i = 0;
    while (i < bytes.size()) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        if (c >= 0x20 && c < 0x7f) {
            if (c == '\\') {
                out.append("\\\\");
                columns += 2;
            } else {
                out.push_back(static_cast<char>(c));
                columns += 1;
            }
            ++i;
            continue;
        }
        const Utf8Sequence seq = next_utf8_sequence(bytes.substr(i));
        if (c >= 0x80 && seq.valid && !is_display_control(seq.code_point)) {
            out.append(bytes.substr(i, seq.length));
            columns += 1;
        } else {
            for (std::size_t k = 0; k < seq.length; ++k)
                append_hex_escape(out, static_cast<unsigned char>(bytes[i + k]));
            columns += 4 * seq.length;
        }
        i += seq.length;
    }
    return columns;
}

void append_state(std::string& out, std::uint8_t state) {
    const std::string_view name = tcp_state_name(state);
    if (name.empty())
        append_decimal(out, state);
    else
        out.append(name);
}

void append_padding(std::string& out, std::size_t used, std::size_t width) {
    out.append(used < width ? width - used : 1, ' ');
}

void append_fixed(std::string& out, double value, int decimals) {
    if (!std::isfinite(value))
        value = 0;
    char digits[64];
    const auto result = std::to_chars(digits, digits + sizeof(digits), value, std::chars_format::fixed, decimals);
    if (result.ec != std::errc{})
        out.push_back('0'); // beyond 64 digits: no rate is that large
    else
        out.append(digits, result.ptr);
}

} // namespace tcpleak
