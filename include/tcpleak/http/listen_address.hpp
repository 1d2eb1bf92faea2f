// Where the agent listens, from a command-line string. Numeric addresses
// only, plus the literal "localhost" (127.0.0.1): resolving names would pull
// in glibc's NSS, which a static binary cannot load.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace tcpleak::http {

class ListenAddress {
public:
    ListenAddress() = default;
    // From a filled-in sockaddr_in or sockaddr_in6.
    ListenAddress(const sockaddr* address, socklen_t size);

    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage_); }
    socklen_t size() const { return size_; }
    int family() const { return storage_.ss_family; }
    std::uint16_t port() const;
    // "127.0.0.1:9464" or "[::1]:9464".
    std::string to_string() const;

private:
    sockaddr_storage storage_{};
    socklen_t size_ = 0;
};

// "127.0.0.1:9464", "0.0.0.0:9464", "[::1]:9464", "[::]:9464",
// "localhost:9464". Port 0 asks the kernel for a free port (see
// Server::local_address()). Anything else throws std::invalid_argument with
// a one-line message that names the problem.
ListenAddress parse_listen_address(std::string_view text);

} // namespace tcpleak::http
