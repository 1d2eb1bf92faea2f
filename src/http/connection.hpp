// One client connection of the Server (internal): reads one request head,
// writes one response, drains what the client still sends, and is done.
//
//   reading --(head complete or rejected)--> writing --(all handed to the
//   kernel; shutdown(SHUT_WR))--> lingering --(EOF, drain cap, deadline)--> done
//
// Each phase has a deadline; past it the server calls on_deadline(). Memory:
// the request buffer (max_request_head_bytes, freed once the head is
// parsed), then the response.
#pragma once

#include "tcpleak/http/request_parser.hpp"
#include "tcpleak/http/router.hpp"
#include "tcpleak/http/server.hpp"
#include "tcpleak/sys/unique_fd.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace tcpleak::http {

class Connection {
public:
    Connection(UniqueFd fd, std::int64_t now_ns, const ServerLimits& limits, const Router& router,
               ServerCounters& counters);

    int fd() const { return fd_.get(); }
    // EPOLLIN or EPOLLOUT, depending on the phase.
    std::uint32_t wanted_events() const;
    bool finished() const { return phase_ == Phase::done; }
    std::int64_t deadline_ns() const { return deadline_ns_; }

    // The fd is ready (or may be): does what the phase needs, never blocks.
    void on_ready(std::int64_t now_ns);
    // The deadline passed: counts a timeout if the client was the cause.
    void on_deadline();

private:
    enum class Phase { reading, writing, lingering, done };

    void read_request(std::int64_t now_ns);
    void take_received(std::int64_t now_ns);
    void respond(std::int64_t now_ns, const Response& response, bool head_only);
    void write_response(std::int64_t now_ns);
    void drain();

    UniqueFd fd_;
    const ServerLimits& limits_;
    const Router& router_;
    ServerCounters& counters_;
    Phase phase_ = Phase::reading;
    std::int64_t deadline_ns_;
    std::vector<char> received_;
    std::size_t received_size_ = 0;
    RequestParser parser_;
    std::string response_;
    std::size_t sent_ = 0;
    std::size_t drained_ = 0;
};

} // namespace tcpleak::http
