#include "tcpleak/http/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace tcpleak::http {

namespace {

bool is_sane(const Response& response) {
    const auto is_header_text = [](char c) { return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f; };
    return response.status >= 200 && response.status <= 599 && !response.content_type.empty() &&
           std::all_of(response.content_type.begin(), response.content_type.end(), is_header_text);
}

Response run_handler(const Handler& handler, const Request& request, std::uint64_t& handler_errors) {
    try {
        Response response = handler(request);
        if (is_sane(response))
            return response;
    } catch (...) {
        // Whatever it threw, the scraper gets a 500 and the agent sees
        // handler_errors go up; the server goes on.
    }
    ++handler_errors;
    return error_response(500);
}

} // namespace

void Router::add(std::string path, Handler handler) {
    if (!path.starts_with('/'))
        throw std::invalid_argument("route \"" + path + "\" must start with '/'");
    routes_.insert_or_assign(std::move(path), std::move(handler));
}

Response Router::respond(const Request& request, std::uint64_t& handler_errors) const {
    const auto route = routes_.find(request.path);
    if (route == routes_.end())
        return error_response(404);
    if (request.method != "GET" && request.method != "HEAD")
        return error_response(405);
    return run_handler(route->second, request, handler_errors);
}

} // namespace tcpleak::http
