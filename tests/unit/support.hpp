// What several unit test files need alike: the sample instant, capturing an
// OutputBuffer, a pipe, a fixed time zone. Header-only; each test file keeps
// its own sample records, since its expected text is written from them.
#pragma once

#include "tcpleak/sys/clock.hpp"
#include "tcpleak/core/leak.hpp"
#include "tcpleak/core/records.hpp"
#include "tcpleak/output/output_buffer.hpp"

#include "support/tcp_sockets.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tcpleak::test {

inline constexpr std::int64_t kSample = 1'795'247'046'123'456'789; // 2026-11-21T07:44:06.123456789Z
inline constexpr std::uint64_t kMono = 1'000'000'000'000;           // CLOCK_MONOTONIC at kSample

// Maps kMono to kSample.
inline ClockMapping sample_clock() {
    ClockMapping clock;
    clock.offset_ns = kSample - static_cast<std::int64_t>(kMono);
    return clock;
}

// 127.0.0.1:sport -> 127.0.0.1:dport in the initial network namespace.
inline SocketAddress loopback(std::uint16_t sport, std::uint16_t dport) {
    SocketAddress a;
    on_loopback(a, sport, dport);
    return a;
}

// A socket of pid 1234 "server" (127.0.0.1:8080 -> 127.0.0.1:dport) held by
// its descriptor fd alone: what the sample leaks of the output and report
// tests start from.
inline Leak server_leak(std::uint64_t cookie, std::uint16_t dport, std::uint32_t fd, std::string cmdline,
                        Verdict verdict) {
    Leak leak;
    leak.cookie = cookie;
    leak.address = loopback(8080, dport);
    leak.pid = 1234;
    leak.comm = make_comm("server");
    leak.fd = fd;
    leak.holders = {{1234, make_comm("server"), fd}};
    leak.cmdline = std::move(cmdline);
    leak.verdict = verdict;
    return leak;
}

// An OutputBuffer that never flushes by itself, so tests read what was formatted.
class CapturedOutput {
public:
    CapturedOutput() : null_fd_(::open("/dev/null", O_WRONLY | O_CLOEXEC)), out_(null_fd_, 1 << 30) {}
    ~CapturedOutput() {
        out_.buffer().clear();
        ::close(null_fd_);
    }
    OutputBuffer& buffer() { return out_; }
    const std::string& text() { return out_.buffer(); }
    void clear() { out_.buffer().clear(); }

    std::vector<std::string> lines() {
        std::vector<std::string> result;
        std::size_t begin = 0;
        for (std::size_t end; (end = text().find('\n', begin)) != std::string::npos; begin = end + 1)
            result.push_back(text().substr(begin, end - begin));
        CHECK(begin == text().size()); // every record ends its line
        return result;
    }

private:
    int null_fd_;
    OutputBuffer out_;
};

// A pipe whose ends are closed at the end of the scope (or earlier, by hand).
struct Pipe {
    int read_end = -1;
    int write_end = -1;
    Pipe() {
        int fds[2];
        REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
        read_end = fds[0];
        write_end = fds[1];
    }
    ~Pipe() {
        close_read();
        if (write_end >= 0)
            ::close(write_end);
    }
    void close_read() {
        if (read_end >= 0)
            ::close(read_end);
        read_end = -1;
    }
    // Reads what is available right now (the pipe must not be empty).
    std::string read_some() const {
        char chunk[65536];
        const ssize_t n = ::read(read_end, chunk, sizeof(chunk));
        REQUIRE(n >= 0);
        return {chunk, static_cast<std::size_t>(n)};
    }
};

// Sets TZ for the lifetime of the object, then restores it.
class ScopedTimeZone {
public:
    explicit ScopedTimeZone(const char* tz) {
        if (const char* old = std::getenv("TZ"))
            previous_ = old;
        setenv("TZ", tz, 1);
        tzset();
    }
    ~ScopedTimeZone() {
        if (previous_)
            setenv("TZ", previous_->c_str(), 1);
        else
            unsetenv("TZ");
        tzset();
    }

private:
    std::optional<std::string> previous_;
};

// The keys of a JSON object line, in the order they were written.
inline std::vector<std::string> keys_in_order(const std::string& line) {
    std::vector<std::string> keys;
    const auto record = nlohmann::ordered_json::parse(line); // must outlive items()
    for (const auto& [key, value] : record.items())
        keys.push_back(key);
    return keys;
}

// How often needle occurs in haystack (overlapping occurrences count).
inline std::size_t count(std::string_view haystack, std::string_view needle) {
    std::size_t n = 0;
    for (std::size_t at = haystack.find(needle); at != std::string_view::npos; at = haystack.find(needle, at + 1))
        ++n;
    return n;
}

} // namespace tcpleak::test
