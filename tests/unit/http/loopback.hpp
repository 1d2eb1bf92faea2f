// Real loopback sockets for the server tests: a Server on 127.0.0.1 with a
// fake clock, and blocking clients. Waits are on readiness (poll with a
// generous timeout that only a bug reaches), never sleeps.
#pragma once

#include "tcpleak/http/server.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace tcpleak::http::test {

inline constexpr std::int64_t kSecondNs = 1'000'000'000;
// How long a wait may take before the test calls it a hang.
inline constexpr int kHangMs = 2000;

struct TestServer {
    explicit TestServer(ServerLimits limits = {}) : server(parse_listen_address("127.0.0.1:0"), limits) {}

    std::uint16_t port() const { return server.local_address().port(); }
    const ServerCounters& counters() const { return server.counters(); }

    // Services the server whenever its epoll fd is readable, until done()
    // holds; fails if nothing becomes ready for kHangMs.
    void pump_until(const std::function<bool()>& done) {
        server.service(now);
        while (!done()) {
            pollfd ready{server.poll_fd(), POLLIN, 0};
            REQUIRE_MESSAGE(::poll(&ready, 1, kHangMs) == 1, "server made no progress");
            server.service(now);
        }
    }

    // Services until nothing is ready right now.
    void settle() {
        pollfd ready{server.poll_fd(), POLLIN, 0};
        do
            server.service(now);
        while (::poll(&ready, 1, 0) == 1);
    }

    Server server;
    std::int64_t now = 1000 * kSecondNs; // the fake monotonic clock
};

class Client {
public:
    // Connects (blocking; on loopback the handshake completes without the
    // server accepting). receive_buffer > 0 shrinks SO_RCVBUF first.
    explicit Client(std::uint16_t port, int receive_buffer = 0) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        REQUIRE(fd_);
        if (receive_buffer > 0)
            REQUIRE(::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer)) == 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
    }

    int fd() const { return fd_.get(); }

    void send(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
            REQUIRE(n > 0);
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    void close() { fd_.reset(); }

    // Reads without blocking; false once the server has closed (EOF or reset).
    bool read_available() {
        char buffer[65536];
        for (;;) {
            const ssize_t n = ::recv(fd_.get(), buffer, sizeof(buffer), MSG_DONTWAIT);
            if (n > 0) {
                received.append(buffer, static_cast<std::size_t>(n));
            } else if (n == 0) {
                return false;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return true;
            } else {
                reset = errno == ECONNRESET;
                return false;
            }
        }
    }

    std::string received;
    bool reset = false;

private:
    UniqueFd fd_;
};

// Drives the server until the client sees the connection closed; returns
// what the client received.
inline std::string read_until_closed(TestServer& ts, Client& client) {
    ts.server.service(ts.now);
    for (;;) {
        pollfd fds[2] = {{ts.server.poll_fd(), POLLIN, 0}, {client.fd(), POLLIN, 0}};
        REQUIRE_MESSAGE(::poll(fds, 2, kHangMs) > 0, "neither the server nor the client made progress");
        if (fds[0].revents != 0)
            ts.server.service(ts.now);
        if (fds[1].revents != 0 && !client.read_available())
            return client.received;
    }
}

inline std::string round_trip(TestServer& ts, std::string_view request) {
    Client client(ts.port());
    client.send(request);
    return read_until_closed(ts, client);
}

// Raises the soft fd limit toward want; returns how many fds are allowed.
inline rlim_t raise_fd_limit(rlim_t want) {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < want) {
        limit.rlim_cur = limit.rlim_max == RLIM_INFINITY || limit.rlim_max >= want ? want : limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
    return limit.rlim_cur;
}

} // namespace tcpleak::http::test
