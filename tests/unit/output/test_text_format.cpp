#include "tcpleak/output/text_format.hpp"

#include "tcpleak/core/records.hpp"
#include "tcpleak/core/tcp_state.hpp"

#include "support.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace tcpleak;
using namespace tcpleak::test;

namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

std::string rfc3339(Rfc3339Clock& clock, std::int64_t unix_ns) {
    std::string out;
    clock.append(out, unix_ns);
    return out;
}

std::string local_time(LocalTimeClock& clock, std::int64_t unix_ns) {
    std::string out;
    clock.append(out, unix_ns);
    return out;
}

std::array<std::uint8_t, 16> ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return {a, b, c, d};
}

std::string ip(std::uint8_t family, const std::array<std::uint8_t, 16>& addr) {
    std::string out;
    append_ip(out, family, addr);
    return out;
}

std::string printable(std::string_view bytes) {
    std::string out;
    append_printable(out, bytes);
    return out;
}

std::string bytes_iec(std::uint64_t bytes) {
    std::string out;
    append_bytes_iec(out, bytes);
    return out;
}

} // namespace

TEST_CASE("RFC 3339 UTC time with microseconds") {
    Rfc3339Clock clock;
    CHECK(rfc3339(clock, kSample) == "2026-11-21T07:44:06.123456Z");
    CHECK(rfc3339(clock, kSample + 1000) == "2026-11-21T07:44:06.123457Z"); // cached second
    CHECK(rfc3339(clock, kSample - 123'456'789) == "2026-11-21T07:44:06.000000Z");
    CHECK(rfc3339(clock, kSample + kSecond) == "2026-11-21T07:44:07.123456Z"); // next second
    CHECK(rfc3339(clock, 1'798'761'599 * kSecond + 999'999'999) == "2026-12-31T23:59:59.999999Z");
    CHECK(rfc3339(clock, 1'798'761'600 * kSecond) == "2027-01-01T00:00:00.000000Z");
    CHECK(rfc3339(clock, 0) == "1970-01-01T00:00:00.000000Z");
    CHECK(rfc3339(clock, -1000) == "1969-12-31T23:59:59.999999Z"); // floors, not truncates
}

TEST_CASE("local time of day with milliseconds") {
    {
        ScopedTimeZone utc("UTC");
        LocalTimeClock clock;
        CHECK(local_time(clock, kSample) == "07:44:06.123");
        CHECK(local_time(clock, kSample + 876'000'000) == "07:44:06.999");
        CHECK(local_time(clock, kSample + 877'000'000) == "07:44:07.000");
    }
    {
        ScopedTimeZone plus_two("XXX-2"); // POSIX TZ: two hours east of UTC
        LocalTimeClock clock;
        CHECK(local_time(clock, kSample) == "09:44:06.123");
    }
}

TEST_CASE("IPv4 addresses without inet_ntop") {
    CHECK(ip(kFamilyIpv4, ipv4(127, 0, 0, 1)) == "127.0.0.1");
    CHECK(ip(kFamilyIpv4, ipv4(0, 0, 0, 0)) == "0.0.0.0");
    CHECK(ip(kFamilyIpv4, ipv4(255, 255, 255, 255)) == "255.255.255.255");
    CHECK(ip(kFamilyIpv4, ipv4(10, 9, 99, 100)) == "10.9.99.100");
}

TEST_CASE("IPv6 addresses in RFC 5952 form") {
    std::array<std::uint8_t, 16> addr{};
    CHECK(ip(kFamilyIpv6, addr) == "::");
    addr[15] = 1;
    CHECK(ip(kFamilyIpv6, addr) == "::1");
    addr = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
    CHECK(ip(kFamilyIpv6, addr) == "2001:db8::1");
    addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1};
    CHECK(ip(kFamilyIpv6, addr) == "::ffff:10.0.0.1");
    addr = {0xfe, 0x80, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc};
    CHECK(ip(kFamilyIpv6, addr) == "fe80:1234:5678:9abc:def0:1234:5678:9abc");
    CHECK(ip(99, addr) == "?");
}

TEST_CASE("endpoints bracket IPv6") {
    std::string out;
    append_endpoint(out, kFamilyIpv4, ipv4(127, 0, 0, 1), 80);
    CHECK(out == "127.0.0.1:80");
    std::array<std::uint8_t, 16> loopback{};
    loopback[15] = 1;
    out.clear();
    append_endpoint(out, kFamilyIpv6, loopback, 65535);
    CHECK(out == "[::1]:65535");
}

TEST_CASE("family names") {
    CHECK(family_name(kFamilyIpv4) == "ipv4");
    CHECK(family_name(kFamilyIpv6) == "ipv6");
    CHECK(family_name(1) == "unknown");
}

TEST_CASE("short durations keep three significant digits and truncate") {
    constexpr std::uint64_t us = 1000, ms = 1000 * us, s = 1000 * ms, minute = 60 * s, hour = 60 * minute,
                            day = 24 * hour;
    CHECK(format_duration_short(0) == "0ns");
    CHECK(format_duration_short(999) == "999ns");
    CHECK(format_duration_short(us) == "1us");
    CHECK(format_duration_short(850 * us + 999) == "850us");
    CHECK(format_duration_short(ms) == "1.00ms");
    CHECK(format_duration_short(1'234'567) == "1.23ms");
    CHECK(format_duration_short(12'399 * us) == "12.3ms");
    CHECK(format_duration_short(999'999'999) == "999ms");
    CHECK(format_duration_short(s) == "1.00s");
    CHECK(format_duration_short(1'259 * ms) == "1.25s");
    CHECK(format_duration_short(10'299 * ms) == "10.2s");
    CHECK(format_duration_short(minute - 1) == "59.9s");
    CHECK(format_duration_short(minute) == "1m00s");
    CHECK(format_duration_short(2 * minute + 3 * s + 999 * ms) == "2m03s");
    CHECK(format_duration_short(hour - 1) == "59m59s");
    CHECK(format_duration_short(hour + 2 * minute + 59 * s) == "1h02m");
    CHECK(format_duration_short(day - 1) == "23h59m");
    CHECK(format_duration_short(3 * day + 4 * hour + 59 * minute) == "3d04h");
    CHECK(format_duration_short(400 * day) == "400d00h");
    CHECK(format_duration_short(UINT64_MAX) == "213503d23h");
}

TEST_CASE("byte counts in IEC units") {
    CHECK(bytes_iec(0) == "0 B");
    CHECK(bytes_iec(1023) == "1023 B");
    CHECK(bytes_iec(1024) == "1.0 KiB");
    CHECK(bytes_iec(1536) == "1.5 KiB");
    CHECK(bytes_iec(9'542'042) == "9.1 MiB");
    CHECK(bytes_iec(1024 * 1024 - 1) == "1023.9 KiB");
    CHECK(bytes_iec(3ull << 30) == "3.0 GiB");
    CHECK(bytes_iec(UINT64_MAX) == "15.9 EiB");
}

TEST_CASE("untrusted names are made safe for a terminal") {
    CHECK(printable("nginx: worker") == "nginx: worker");
    CHECK(printable("\x1b[31mred") == "\\x1b[31mred");      // no escape sequence reaches the terminal
    CHECK(printable("a\x01\n\x7f") == "a\\x01\\x0a\\x7f");  // control bytes and DEL
    CHECK(printable("a\\x41") == "a\\\\x41");               // a literal backslash cannot fake an escape
    CHECK(printable("\xC3\xA9t\xC3\xA9") == "\xC3\xA9t\xC3\xA9"); // well-formed UTF-8 passes
    CHECK(printable("\xF0\x9F\x98\x80") == "\xF0\x9F\x98\x80");
    CHECK(printable("\xff") == "\\xff");
    CHECK(printable("ab\xE2\x82") == "ab\\xe2\\x82"); // truncated character
    CHECK(printable("\xC0\xAF") == "\\xc0\\xaf");     // overlong
    CHECK(printable("\xED\xA0\x80") == "\\xed\\xa0\\x80"); // surrogate
    CHECK(printable("\xC2\x9B" "31m") == "\\xc2\\x9b31m"); // C1 CSI
    CHECK(printable("evil\xE2\x80\xAEtxt") == "evil\\xe2\\x80\\xaetxt"); // right-to-left override
}

TEST_CASE("append_printable counts terminal columns") {
    std::string out;
    CHECK(append_printable(out, "server") == 6);
    CHECK(append_printable(out, "\xC3\xA9t\xC3\xA9") == 3);
    CHECK(append_printable(out, "\x1b") == 4);
    CHECK(append_printable(out, "\\") == 2);
}

TEST_CASE("states print as names, unknown ones as numbers") {
    std::string out;
    append_state(out, kTcpCloseWait);
    out.push_back(' ');
    append_state(out, 13);
    out.push_back(' ');
    append_state(out, 0);
    CHECK(out == "CLOSE_WAIT 13 0");
}

TEST_CASE("padding fills a column and keeps overlong cells apart") {
    std::string out = "abc";
    append_padding(out, 3, 6);
    CHECK(out == "abc   ");
    out = "abcdef";
    append_padding(out, 6, 6);
    CHECK(out == "abcdef ");
}
