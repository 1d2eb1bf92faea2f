#include "tcpleak/http/listen_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace tcpleak::http {

namespace {

constexpr std::string_view kExample = " (expected HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464)";

// The user's text in an error message, kept on one line.
std::string quoted(std::string_view text) {
    std::string out = "\"";
    for (char c : text)
        out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
    out.push_back('"');
    return out;
}

[[noreturn]] void fail(std::string_view text, std::string_view problem) {
    throw std::invalid_argument("listen address " + quoted(text) + ": " + std::string(problem));
}

struct HostAndPort {
    std::string_view host;
    std::string_view port;
    bool bracketed = false;
};

HostAndPort split(std::string_view text) {
    if (text.empty())
        fail(text, "empty" + std::string(kExample));
    if (text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos)
            fail(text, "missing ']' after the IPv6 address");
        const std::string_view rest = text.substr(close + 1);
        if (rest.empty())
            fail(text, "missing port" + std::string(kExample));
        if (rest.front() != ':')
            fail(text, "expected ':' and a port after ']'");
        return {text.substr(1, close - 1), rest.substr(1), true};
    }
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
        fail(text, "missing port" + std::string(kExample));
    if (text.find(':') != colon)
        fail(text, "IPv6 addresses need brackets, e.g. [::1]:9464");
    if (colon == 0)
        fail(text, "missing host (0.0.0.0 listens on all IPv4 addresses, [::] on all)");
    return {text.substr(0, colon), text.substr(colon + 1), false};
}

std::uint16_t parse_port(std::string_view text, std::string_view port) {
    if (port.empty())
        fail(text, "missing port" + std::string(kExample));
    unsigned value = 0;
    const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (end != port.data() + port.size() || (error != std::errc{} && error != std::errc::result_out_of_range))
        fail(text, "port " + quoted(port) + " is not a number");
    if (error == std::errc::result_out_of_range || value > 65535)
        fail(text, "port " + std::string(port) + " is out of range 0-65535");
    return static_cast<std::uint16_t>(value);
}

ListenAddress ipv4(std::string_view text, std::string_view host, std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    const std::string host_z(host == "localhost" ? "127.0.0.1" : host);
    if (inet_pton(AF_INET, host_z.c_str(), &address.sin_addr) != 1)
        fail(text, quoted(host) + " is not a numeric IPv4 address (host names other than localhost are not resolved)");
    return {reinterpret_cast<const sockaddr*>(&address), sizeof(address)};
}

ListenAddress ipv6(std::string_view text, std::string_view host, std::uint16_t port) {
    if (host.find('%') != std::string_view::npos)
        fail(text, "IPv6 zone ids (%...) are not supported");
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_port = htons(port);
    const std::string host_z(host);
    if (inet_pton(AF_INET6, host_z.c_str(), &address.sin6_addr) != 1)
        fail(text, quoted(host) + " is not a numeric IPv6 address");
    return {reinterpret_cast<const sockaddr*>(&address), sizeof(address)};
}

} // namespace

ListenAddress::ListenAddress(const sockaddr* address, socklen_t size) : size_(size) {
    if (size > sizeof(storage_))
        throw std::invalid_argument("socket address too large");
    std::memcpy(&storage_, address, size);
}

std::uint16_t ListenAddress::port() const {
    if (family() == AF_INET)
        return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
    if (family() == AF_INET6)
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    return 0;
}

std::string ListenAddress::to_string() const {
    char host[INET6_ADDRSTRLEN] = "?";
    if (family() == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, host, sizeof(host));
    else if (family() == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, host, sizeof(host));
    std::string text;
    if (family() == AF_INET6)
        text.append("[").append(host).append("]");
    else
        text.append(host);
    return text.append(":").append(std::to_string(port()));
}

ListenAddress parse_listen_address(std::string_view text) {
    const HostAndPort parts = split(text);
    if (parts.host.empty())
        fail(text, "missing host");
    const std::uint16_t port = parse_port(text, parts.port);
    return parts.bracketed ? ipv6(text, parts.host, port) : ipv4(text, parts.host, port);
}

} // namespace tcpleak::http
