// Formatting of times, addresses, durations and untrusted names, appended to
// a caller-owned string (no allocation in steady state): shared by the JSON
// and the human-readable outputs.
#pragma once

#include "tcpleak/core/utf8.hpp" // next_utf8_sequence, is_display_control

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tcpleak {

// Unix time -> "2026-11-21T07:44:06.123456Z" (UTC, always 6 fraction
// digits, truncated). The date and time of day are cached per second, so
// gmtime_r runs only when the second changes.
class Rfc3339Clock {
public:
    static constexpr std::size_t kMaxSize = 40;
    void append(std::string& out, std::int64_t unix_ns);
    // Writes at p (room for kMaxSize); returns the end.
    char* put(char* p, std::int64_t unix_ns);

private:
    std::int64_t cached_second_ = INT64_MIN;
    std::array<char, 32> prefix_{}; // "YYYY-MM-DDTHH:MM:SS"
    std::size_t prefix_size_ = 0;
};

// Unix time -> local time of day "07:44:06.123" (milliseconds, truncated),
// for the human table. Cached per second like Rfc3339Clock (UTC offsets
// change on whole seconds). Follows TZ as of the last tzset(): glibc's
// localtime_r does not re-read TZ by itself.
class LocalTimeClock {
public:
    void append(std::string& out, std::int64_t unix_ns);

private:
    std::int64_t cached_second_ = INT64_MIN;
    std::array<char, 8> prefix_{}; // "HH:MM:SS"
};

// "ipv4" (AF_INET), "ipv6" (AF_INET6), else "unknown". The kernel side only
// ever reports these two families.
std::string_view family_name(std::uint8_t family);

// IPv4 from the first 4 bytes (network order) as dotted quad; IPv6 in RFC 5952
// form ("::1", "::ffff:10.0.0.1"); "?" for another family.
void append_ip(std::string& out, std::uint8_t family, const std::array<std::uint8_t, 16>& addr);
// The same, written at p (room for kMaxIpSize); returns the end.
inline constexpr std::size_t kMaxIpSize = 48;
char* put_ip(char* p, std::uint8_t family, const std::array<std::uint8_t, 16>& addr);

// "127.0.0.1:80" or "[::1]:80". port is in host order.
void append_endpoint(std::string& out, std::uint8_t family, const std::array<std::uint8_t, 16>& addr,
                     std::uint16_t port);

// Compact duration for people. Always truncated (never rounded up, so a value
// is never shown as the next unit or as longer than it was):
//   < 1us  "850ns"      < 1ms "850us"
//   < 1s   three significant digits: "1.23ms", "12.3ms", "123ms"
//   < 1min three significant digits: "1.25s", "12.3s"
//   < 1h   "2m03s"      < 1d  "1h02m"       else "3d04h"
void append_duration_short(std::string& out, std::uint64_t ns);
std::string format_duration_short(std::uint64_t ns);

// A rate or fraction with `decimals` digits after the point ("12.50"),
// rounded; valid JSON as well (non-finite values become 0).
void append_fixed(std::string& out, double value, int decimals);

// Byte count for people: "512 B", "9.1 KiB", "9.1 MiB", "1.5 GiB" (one
// decimal, truncated).
void append_bytes_iec(std::string& out, std::uint64_t bytes);

// "\x1b": a byte as append_printable shows one it cannot print.
void append_hex_escape(std::string& out, unsigned char c);

// Appends untrusted bytes (process names) for a terminal: printable ASCII
// passes; '\' becomes "\\" so escapes stay unambiguous; control bytes, DEL
// and bytes of ill-formed UTF-8 become "\xNN" (no terminal escape injection).
// Well-formed UTF-8 passes, except C1 controls (U+0080..U+009F), bidi
// embedding/override/isolate controls and U+2028/U+2029, whose bytes are
// written as "\xNN" too. Returns the number of terminal columns used,
// counting one per code point (wide and combining characters are rare in
// process names; alignment is best effort for them).
std::size_t append_printable(std::string& out, std::string_view bytes);

// The kernel name of a TCP state, or its number when it has none.
void append_state(std::string& out, std::uint8_t state);

// Pads with spaces so that a cell that used `used` columns fills `width`;
// always at least one space, so an overlong cell stays apart from the next.
void append_padding(std::string& out, std::size_t used, std::size_t width);

} // namespace tcpleak
