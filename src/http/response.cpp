#include "tcpleak/http/response.hpp"

namespace tcpleak::http {

std::string_view reason_phrase(int status) {
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: break;
    }
    return status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error" : "Server Error";
}

Response error_response(int status, std::string_view detail) {
    Response response{status, std::string(kTextPlain), std::to_string(status)};
    response.body.append(" ").append(reason_phrase(status));
    if (!detail.empty())
        response.body.append(": ").append(detail);
    response.body.push_back('\n');
    return response;
}

void serialize_response(std::string& out, const Response& response, bool head_only) {
    out.append("HTTP/1.1 ").append(std::to_string(response.status)).append(" ");
    out.append(reason_phrase(response.status)).append("\r\n");
    out.append("Content-Type: ").append(response.content_type).append("\r\n");
    out.append("Content-Length: ").append(std::to_string(response.body.size())).append("\r\n");
    if (response.status == 405)
        out.append("Allow: GET, HEAD\r\n");
    // The bodies carry names that processes chose: never let a browser
    // guess they are HTML.
    out.append("X-Content-Type-Options: nosniff\r\n");
    out.append("Connection: close\r\n\r\n");
    if (!head_only)
        out.append(response.body);
}

} // namespace tcpleak::http
