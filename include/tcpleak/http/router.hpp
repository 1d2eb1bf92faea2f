// Which handler answers a request: exact paths, GET and HEAD only.
#pragma once

#include "tcpleak/http/request_parser.hpp"
#include "tcpleak/http/response.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace tcpleak::http {

// Runs inside Server::service(): keep it short (render and return).
using Handler = std::function<Response(const Request&)>;

class Router {
public:
    // path must start with '/' (std::invalid_argument otherwise); a later
    // handler for the same path replaces the earlier one.
    void add(std::string path, Handler handler);

    // 404 for an unknown path (any method), 405 for a known path with a
    // method other than GET or HEAD, else the handler's response. A handler
    // that throws, or answers a status outside 200..599 or a Content-Type
    // that could split the header, gets a 500 instead and adds one to
    // handler_errors. HEAD runs the handler as GET does: the caller drops
    // the body and keeps its Content-Length.
    Response respond(const Request& request, std::uint64_t& handler_errors) const;

private:
    std::map<std::string, Handler, std::less<>> routes_;
};

} // namespace tcpleak::http
