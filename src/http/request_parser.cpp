#include "tcpleak/http/request_parser.hpp"

#include <algorithm>

namespace tcpleak::http {

namespace {

// RFC 9110 token characters: method and field names.
bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), is_tchar);
}

bool is_visible_ascii(char c) {
    return c > 0x20 && c < 0x7f;
}

bool is_control(unsigned char c) {
    return (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
               return lower(x) == lower(y);
           });
}

std::string_view trim_whitespace(std::string_view text) {
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string_view::npos)
        return {};
    return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

// "/p?q" -> "/p"; "http://host:1/p?q" -> "/p"; "http://host" -> "/".
// Empty when the target is neither origin-form, absolute-form nor "*".
std::string_view path_of(std::string_view target) {
    const std::string_view before_query = target.substr(0, target.find('?'));
    if (target.front() == '/' || target == "*")
        return before_query;
    for (std::string_view scheme : {"http://", "https://"}) {
        if (target.size() > scheme.size() && equals_ignoring_case(target.substr(0, scheme.size()), scheme)) {
            const std::string_view rest = before_query.substr(scheme.size());
            const auto slash = rest.find('/');
            return slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
        }
    }
    return {};
}

std::string_view query_of(std::string_view target) {
    const auto question = target.find('?');
    return question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
}

} // namespace

ParseStatus RequestParser::reject(int status, std::string_view reason) {
    error_status_ = status;
    error_reason_ = reason;
    return ParseStatus::rejected;
}

ParseStatus RequestParser::advance(std::string_view received) {
    const std::size_t end = std::min(received.size(), max_head_bytes_);
    while (status_ == ParseStatus::incomplete && scanned_ < end)
        status_ = take_byte(received, scanned_++);
    if (status_ == ParseStatus::incomplete && received.size() >= max_head_bytes_)
        status_ = have_request_line_ ? reject(431, "request header fields too large")
                                     : reject(414, "request line too long");
    return status_;
}

ParseStatus RequestParser::take_byte(std::string_view received, std::size_t i) {
    const auto c = static_cast<unsigned char>(received[i]);
    if (c == '\n') {
        std::string_view line = received.substr(line_start_, i - line_start_);
        if (line.ends_with('\r'))
            line.remove_suffix(1);
        line_start_ = i + 1;
        return take_line(line);
    }
    // Rejected at once, not at the end of the line: binary junk costs a byte.
    if (is_control(c))
        return reject(400, "control character in request");
    if (c >= 0x80 && !have_request_line_)
        return reject(400, "non-ASCII byte in request line");
    return ParseStatus::incomplete;
}

ParseStatus RequestParser::take_line(std::string_view line) {
    if (line.find('\r') != std::string_view::npos)
        return reject(400, "CR without LF");
    if (!have_request_line_)
        // RFC 9112 2.2: empty lines before the request line are ignored.
        return line.empty() ? ParseStatus::incomplete : take_request_line(line);
    return line.empty() ? finish() : take_header_line(line);
}

ParseStatus RequestParser::take_request_line(std::string_view line) {
    have_request_line_ = true;
    const auto first_space = line.find(' ');
    const auto second_space = line.find(' ', first_space + 1);
    if (first_space == std::string_view::npos || second_space == std::string_view::npos ||
        line.find(' ', second_space + 1) != std::string_view::npos)
        return reject(400, "malformed request line");
    const std::string_view method = line.substr(0, first_space);
    const std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
    const std::string_view version = line.substr(second_space + 1);
    if (!is_token(method))
        return reject(400, "malformed method");
    if (target.empty() || !std::all_of(target.begin(), target.end(), is_visible_ascii))
        return reject(400, "malformed request target");
    if (version.size() != 8 || !version.starts_with("HTTP/") || version[6] != '.' || version[5] < '0' ||
        version[5] > '9' || version[7] < '0' || version[7] > '9')
        return reject(400, "malformed HTTP version");
    if (version != "HTTP/1.1" && version != "HTTP/1.0")
        return reject(505, "only HTTP/1.0 and HTTP/1.1 are supported");
    const std::string_view path = path_of(target);
    if (path.empty())
        return reject(400, "request target must be a path");
    request_ = {method, target, path, query_of(target), version[7] - '0'};
    return ParseStatus::incomplete;
}

ParseStatus RequestParser::take_header_line(std::string_view line) {
    if (line.front() == ' ' || line.front() == '\t')
        return reject(400, "obsolete line folding");
    const auto colon = line.find(':');
    if (colon == std::string_view::npos)
        return reject(400, "header line without colon");
    const std::string_view name = line.substr(0, colon);
    if (!is_token(name)) // also catches "Host : x", which RFC 9112 5.1 says to reject
        return reject(400, "malformed header name");
    const std::string_view value = trim_whitespace(line.substr(colon + 1));
    if (equals_ignoring_case(name, "Host")) {
        ++host_fields_;
    } else if (equals_ignoring_case(name, "Content-Length")) {
        if (value.empty() || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return reject(400, "malformed Content-Length");
        body_announced_ |= value.find_first_not_of('0') != std::string_view::npos;
    } else if (equals_ignoring_case(name, "Transfer-Encoding")) {
        body_announced_ = true;
    }
    return ParseStatus::incomplete;
}

ParseStatus RequestParser::finish() {
    if (request_.minor_version == 1 && host_fields_ == 0)
        return reject(400, "missing Host header");
    if (host_fields_ > 1)
        return reject(400, "more than one Host header");
    // A GET or HEAD has no use for a body, and not reading one keeps the
    // connection simple: a client that sends one is confused or probing.
    if (body_announced_)
        return reject(400, "request body not supported");
    return ParseStatus::complete;
}

} // namespace tcpleak::http
