#include "tcpleak/http/request_parser.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace tcpleak::http;

namespace {

constexpr std::size_t kLimit = 8192;

struct Outcome {
    ParseStatus status;
    int error_status;
    std::string reason;
};

// All bytes at once.
Outcome parse(std::string_view bytes, std::size_t limit = kLimit) {
    RequestParser parser(limit);
    const ParseStatus status = parser.advance(bytes);
    return {status, parser.error_status(), std::string(parser.error_reason())};
}

Outcome rejection(int status, std::string reason) {
    return {ParseStatus::rejected, status, std::move(reason)};
}

bool operator==(const Outcome& a, const Outcome& b) {
    return a.status == b.status && a.error_status == b.error_status && a.reason == b.reason;
}

doctest::String toString(const Outcome& o) {
    const char* names[] = {"incomplete", "complete", "rejected"};
    return (std::string(names[static_cast<int>(o.status)]) + " " + std::to_string(o.error_status) + " " + o.reason)
        .c_str();
}

const Outcome kComplete{ParseStatus::complete, 0, ""};
const Outcome kIncomplete{ParseStatus::incomplete, 0, ""};

} // namespace

TEST_CASE("a complete GET: method, target, path, query, version") {
    const std::string bytes = "GET /metrics?name[]=x&y HTTP/1.1\r\nHost: node:9464\r\nAccept: */*\r\n\r\n";
    RequestParser parser(kLimit);
    REQUIRE(parser.advance(bytes) == ParseStatus::complete);
    const Request& r = parser.request();
    CHECK(r.method == "GET");
    CHECK(r.target == "/metrics?name[]=x&y");
    CHECK(r.path == "/metrics");
    CHECK(r.query == "name[]=x&y");
    CHECK(r.minor_version == 1);
}

TEST_CASE("fed one byte at a time, the parser ends where the head ends") {
    const std::string bytes = "HEAD / HTTP/1.0\n\nGET /second HTTP/1.1\r\n\r\n"; // bare LF, then a pipelined request
    RequestParser parser(kLimit);
    std::size_t fed = 0;
    ParseStatus status = ParseStatus::incomplete;
    while (status == ParseStatus::incomplete && fed < bytes.size())
        status = parser.advance(std::string_view(bytes).substr(0, ++fed)); // same buffer, growing
    CHECK(status == ParseStatus::complete);
    CHECK(fed == 17);
    CHECK(parser.request().method == "HEAD");
    CHECK(parser.request().path == "/");
    CHECK(parser.request().minor_version == 0);
    CHECK(parser.advance(bytes) == ParseStatus::complete); // settled
}

TEST_CASE("what is not finished yet is incomplete") {
    CHECK(parse("") == kIncomplete);
    CHECK(parse("GET /metrics HTTP/1.1\r\nHost: a\r\n") == kIncomplete);
    CHECK(parse("\r\n\r\nGET / HTTP/1.0\r\n") == kIncomplete); // empty lines before the request line are skipped
    CHECK(parse("\r\n\r\nGET / HTTP/1.0\r\n\r\n") == kComplete);
}

TEST_CASE("other target forms") {
    RequestParser absolute(kLimit);
    REQUIRE(absolute.advance("GET HTTP://node:9464/metrics?a=1 HTTP/1.1\r\nHost: node\r\n\r\n") == ParseStatus::complete);
    CHECK(absolute.request().path == "/metrics");
    CHECK(absolute.request().query == "a=1");
    RequestParser bare_authority(kLimit);
    REQUIRE(bare_authority.advance("GET http://node HTTP/1.0\r\n\r\n") == ParseStatus::complete);
    CHECK(bare_authority.request().path == "/");
    RequestParser asterisk(kLimit);
    REQUIRE(asterisk.advance("OPTIONS * HTTP/1.0\r\n\r\n") == ParseStatus::complete);
    CHECK(asterisk.request().path == "*"); // no route: 404
    CHECK(parse("CONNECT node:443 HTTP/1.1\r\n") == rejection(400, "request target must be a path"));
}

TEST_CASE("malformed request lines are 400, other versions 505") {
    CHECK(parse("GET /\r\n") == rejection(400, "malformed request line")); // HTTP/0.9
    CHECK(parse("GET  / HTTP/1.1\r\n") == rejection(400, "malformed request line"));
    CHECK(parse("GET / HTTP/1.1 x\r\n") == rejection(400, "malformed request line"));
    CHECK(parse("G(T / HTTP/1.1\r\n") == rejection(400, "malformed method"));
    CHECK(parse("GET /\t HTTP/1.1\r\n") == rejection(400, "malformed request target"));
    CHECK(parse("GET / http/1.1\r\n") == rejection(400, "malformed HTTP version"));
    CHECK(parse("GET / HTTP/1.10\r\n") == rejection(400, "malformed HTTP version"));
    CHECK(parse("GET / HTTP/2.0\r\n") == rejection(505, "only HTTP/1.0 and HTTP/1.1 are supported"));
    CHECK(parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") == rejection(505, "only HTTP/1.0 and HTTP/1.1 are supported"));
    CHECK(parse("GET / HTTP/1.2\r\n") == rejection(505, "only HTTP/1.0 and HTTP/1.1 are supported"));
}

TEST_CASE("binary junk is rejected at its first bad byte, without waiting for a line end") {
    CHECK(parse(std::string("\x16\x03\x01\x02", 4)) == rejection(400, "control character in request")); // TLS hello
    CHECK(parse(std::string("GET /\0", 6)) == rejection(400, "control character in request"));
    CHECK(parse("GET /caf\xC3\xA9") == rejection(400, "non-ASCII byte in request line"));
    CHECK(parse("GET / HTTP/1.1\rHost: x\r\n") == rejection(400, "CR without LF"));
}

TEST_CASE("header fields") {
    CHECK(parse("GET / HTTP/1.1\r\nHost:x\r\nX-Utf8: caf\xC3\xA9\t\r\n\r\n") == kComplete); // obs-text in values
    CHECK(parse("GET / HTTP/1.1\r\nhOsT: x\r\nContent-Length: 000\r\n\r\n") == kComplete);
    CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n") == rejection(400, "obsolete line folding"));
    CHECK(parse("GET / HTTP/1.1\r\nHost x\r\n") == rejection(400, "header line without colon"));
    CHECK(parse("GET / HTTP/1.1\r\nHost : x\r\n") == rejection(400, "malformed header name"));
    CHECK(parse("GET / HTTP/1.1\r\n: x\r\n") == rejection(400, "malformed header name"));
    CHECK(parse("GET / HTTP/1.1\r\nX: a\x01\r\n") == rejection(400, "control character in request"));
}

TEST_CASE("Host is required in HTTP/1.1, once; a body is refused") {
    CHECK(parse("GET / HTTP/1.1\r\n\r\n") == rejection(400, "missing Host header"));
    CHECK(parse("GET / HTTP/1.0\r\n\r\n") == kComplete);
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == rejection(400, "more than one Host header"));
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello") ==
          rejection(400, "request body not supported"));
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") ==
          rejection(400, "request body not supported"));
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5x\r\n\r\n") == rejection(400, "malformed Content-Length"));
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n") ==
          rejection(400, "malformed Content-Length"));
}

TEST_CASE("the head limit: 414 inside the request line, 431 after it") {
    const std::string head = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"; // 27 bytes
    CHECK(parse(head, head.size()) == kComplete);                 // exactly at the limit
    CHECK(parse(head, head.size() - 1) == rejection(431, "request header fields too large"));
    CHECK(parse("GET /" + std::string(100, 'a'), 64) == rejection(414, "request line too long"));
    CHECK(parse("GET / HTTP/1.1\r\nX: " + std::string(100, 'a'), 64) ==
          rejection(431, "request header fields too large"));
    // Bytes past the limit are never looked at, even a valid head end.
    CHECK(parse("GET / HTTP/1.1\r\nX: " + std::string(100, 'a') + "\r\n\r\n", 64).error_status == 431);
}
