// What a handler returns, and how it goes on the wire. Every response ends
// the connection (Connection: close): one request per connection keeps the
// server's state machine small, and a scraper reconnects at no real cost.
#pragma once

#include <string>
#include <string_view>

namespace tcpleak::http {

inline constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";
inline constexpr std::string_view kPrometheusText = "text/plain; version=0.0.4; charset=utf-8";

struct Response {
    int status = 200;
    std::string content_type = std::string(kTextPlain);
    std::string body;
};

// "404 Not Found\n" and the like, with detail after a colon if given.
Response error_response(int status, std::string_view detail = {});

std::string_view reason_phrase(int status);

// Status line, Content-Type, Content-Length, Connection: close (and
// Allow: GET, HEAD on a 405), then the body unless head_only, into out.
void serialize_response(std::string& out, const Response& response, bool head_only);

} // namespace tcpleak::http
