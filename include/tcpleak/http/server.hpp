// A small, bounded HTTP/1.1 responder for the agent's /metrics: single
// threaded, non-blocking, one epoll set. It never blocks and never spawns
// anything; the agent's own event loop drives it:
//
//   Server server(parse_listen_address("127.0.0.1:9464"));
//   server.route("/metrics", [&](const Request&) { return Response{200, std::string(kPrometheusText), render()}; });
//   // in the loop, with server.poll_fd() among the polled fds:
//   server.service(monotonic_now_ns());
//
// GET and HEAD on exact paths (the query string is not part of the route);
// one response per connection, then Connection: close. What it refuses and
// why: docs/agent-http.md.
#pragma once

#include "tcpleak/http/listen_address.hpp"
#include "tcpleak/http/request_parser.hpp"
#include "tcpleak/http/response.hpp"
#include "tcpleak/http/router.hpp"
#include "tcpleak/sys/unique_fd.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace tcpleak::http {

struct ServerLimits {
    // Past it, a new connection gets a fixed 503 and is closed at once.
    std::size_t max_connections = 64;
    // Request line and header fields; memory per connection is this plus
    // the response being written.
    std::size_t max_request_head_bytes = 8 * 1024;
    // From accept to the end of the request head (slowloris).
    std::chrono::nanoseconds request_timeout = std::chrono::seconds(5);
    // From the end of the request head to the last byte of the response
    // handed to the kernel (a client that does not read).
    std::chrono::nanoseconds write_timeout = std::chrono::seconds(10);
    // After the response: how long unread client bytes are drained so that
    // closing does not reset the connection and destroy the response.
    std::chrono::nanoseconds linger_timeout = std::chrono::seconds(2);
};

// Running totals, for the agent to export.
struct ServerCounters {
    std::array<std::uint64_t, 6> responses_by_class{}; // [2] = 2xx ... [5] = 5xx
    std::uint64_t connections_accepted = 0;
    std::uint64_t connections_refused = 0; // over max_connections
    std::uint64_t request_timeouts = 0;    // no complete request head in time
    std::uint64_t write_timeouts = 0;      // response not taken in time
    std::uint64_t malformed_requests = 0;  // answered 400, 414, 431 or 505
    std::uint64_t client_aborts = 0;       // closed or reset before a complete request
    std::uint64_t handler_errors = 0;      // a handler threw or answered nonsense: 500
    std::uint64_t accept_errors = 0;       // out of fds or memory: accepting pauses briefly
};

class Connection;

class Server {
public:
    // Binds and listens (SO_REUSEADDR). Throws std::system_error with a
    // one-line what(), e.g. "cannot listen on 127.0.0.1:9464: Address
    // already in use".
    explicit Server(const ListenAddress& address, ServerLimits limits = {});
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Exact path, starting with '/'; a later route for the same path
    // replaces the earlier one. Handlers run inside service().
    void route(std::string path, Handler handler);

    // Readable whenever service() has something to do (an epoll fd).
    int poll_fd() const { return epoll_.get(); }

    // Handles what is ready, without blocking: a bounded number of events,
    // then the deadlines. now_ns: CLOCK_MONOTONIC nanoseconds, or any clock
    // that does not go back (tests pass made-up times). Call it when
    // poll_fd() is readable and at least every few hundred milliseconds, so
    // that deadlines are enforced on idle connections too.
    void service(std::int64_t now_ns);

    // The bound address, with the port the kernel chose for port 0.
    ListenAddress local_address() const;
    std::size_t open_connections() const { return connections_.size(); }
    const ServerCounters& counters() const { return counters_; }

private:
    void accept_ready(std::int64_t now_ns);
    void refuse(UniqueFd client);
    void pause_accepting(std::int64_t now_ns);
    void resume_accepting_if_due(std::int64_t now_ns);
    void add_connection(UniqueFd client, std::int64_t now_ns);
    void handle_event(std::uint64_t id, std::int64_t now_ns);
    void handle_ready(std::uint64_t id, Connection& connection, std::int64_t now_ns);
    void expire_deadlines(std::int64_t now_ns);

    ServerLimits limits_;
    UniqueFd listener_;
    UniqueFd epoll_;
    Router router_;
    // Keyed by an id that is never reused, so an event for a connection
    // closed earlier in the same batch cannot reach its fd's successor.
    std::map<std::uint64_t, std::unique_ptr<Connection>> connections_;
    std::uint64_t next_id_ = 1;
    std::int64_t accept_paused_until_ = -1; // -1: accepting
    ServerCounters counters_;
};

// CLOCK_MONOTONIC in nanoseconds, for callers without a clock of their own.
std::int64_t monotonic_now_ns();

} // namespace tcpleak::http
