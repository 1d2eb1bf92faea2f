// Incremental parser of an HTTP/1.x request head (request line and header
// fields, RFC 9112), fed the bytes of one connection as they arrive. Each
// byte is looked at once, however the client splits its sends; a head that
// cannot become a valid request is rejected as soon as that is certain
// (binary junk at its first byte), so a hostile client wastes little.
//
// Only what a GET or HEAD needs is kept: method, target, version, whether a
// Host field came, whether a body was announced. Bare LF line ends are
// accepted (RFC 9112 section 2.2 allows it); bare CR, obsolete line folding,
// whitespace before a colon and control characters are rejected.
#pragma once

#include <cstddef>
#include <string_view>

namespace tcpleak::http {

// A complete request head. The views point into the bytes given to the
// parser: valid while they are.
struct Request {
    std::string_view method;  // case-sensitive, "GET"
    std::string_view target;  // as sent: "/metrics?x=1"
    std::string_view path;    // "/metrics" (from an absolute-form target too)
    std::string_view query;   // "x=1", empty without '?'
    int minor_version = 1;    // HTTP/1.0 or HTTP/1.1
};

enum class ParseStatus { incomplete, complete, rejected };

class RequestParser {
public:
    // A head longer than max_head_bytes is rejected: 414 if the request line
    // is not over by then, 431 otherwise.
    explicit RequestParser(std::size_t max_head_bytes) : max_head_bytes_(max_head_bytes) {}

    // received: every byte of the connection so far, in one buffer that
    // only grows between calls and stays where it is (the views in
    // request() point into it). Resumes where the last call stopped. After
    // complete or rejected, further calls change nothing.
    ParseStatus advance(std::string_view received);

    // After complete. Bytes past the head (a pipelined request) are ignored.
    const Request& request() const { return request_; }
    // After rejected: 400, 414, 431 or 505, and why in a few words.
    int error_status() const { return error_status_; }
    std::string_view error_reason() const { return error_reason_; }

private:
    ParseStatus reject(int status, std::string_view reason);
    ParseStatus take_byte(std::string_view received, std::size_t i);
    ParseStatus take_line(std::string_view line);
    ParseStatus take_request_line(std::string_view line);
    ParseStatus take_header_line(std::string_view line);
    ParseStatus finish();

    std::size_t max_head_bytes_;
    std::size_t scanned_ = 0;    // bytes looked at
    std::size_t line_start_ = 0; // of the line being received
    ParseStatus status_ = ParseStatus::incomplete;
    bool have_request_line_ = false;
    int host_fields_ = 0;
    bool body_announced_ = false;
    Request request_;
    int error_status_ = 0;
    std::string_view error_reason_;
};

} // namespace tcpleak::http
