#include "connection.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace tcpleak::http {

namespace {

// Bytes a lingering connection may still send us before we stop listening.
constexpr std::size_t kMaxDrainBytes = 64 * 1024;

bool would_block() {
    return errno == EAGAIN || errno == EWOULDBLOCK;
}

} // namespace

Connection::Connection(UniqueFd fd, std::int64_t now_ns, const ServerLimits& limits, const Router& router,
                       ServerCounters& counters)
    : fd_(std::move(fd)), limits_(limits), router_(router), counters_(counters),
      deadline_ns_(now_ns + limits.request_timeout.count()), received_(limits.max_request_head_bytes),
      parser_(limits.max_request_head_bytes) {}

std::uint32_t Connection::wanted_events() const {
    return phase_ == Phase::writing ? EPOLLOUT : EPOLLIN;
}

void Connection::on_ready(std::int64_t now_ns) {
    switch (phase_) {
    case Phase::reading: read_request(now_ns); return;
    case Phase::writing: write_response(now_ns); return;
    case Phase::lingering: drain(); return;
    case Phase::done: return;
    }
}

void Connection::on_deadline() {
    if (phase_ == Phase::reading)
        ++counters_.request_timeouts;
    else if (phase_ == Phase::writing)
        ++counters_.write_timeouts;
    phase_ = Phase::done; // lingering past its deadline is normal: the client kept the connection
}

void Connection::read_request(std::int64_t now_ns) {
    while (phase_ == Phase::reading && received_size_ < received_.size()) {
        const ssize_t n = ::recv(fd_.get(), received_.data() + received_size_, received_.size() - received_size_, 0);
        if (n > 0) {
            received_size_ += static_cast<std::size_t>(n);
            take_received(now_ns);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && would_block()) {
            return;
        } else { // EOF or reset before a whole request head
            ++counters_.client_aborts;
            phase_ = Phase::done;
        }
    }
}

void Connection::take_received(std::int64_t now_ns) {
    switch (parser_.advance({received_.data(), received_size_})) {
    case ParseStatus::incomplete: return;
    case ParseStatus::complete: {
        const Request& request = parser_.request();
        respond(now_ns, router_.respond(request, counters_.handler_errors), request.method == "HEAD");
        return;
    }
    case ParseStatus::rejected:
        ++counters_.malformed_requests;
        respond(now_ns, error_response(parser_.error_status(), parser_.error_reason()), false);
        return;
    }
}

void Connection::respond(std::int64_t now_ns, const Response& response, bool head_only) {
    ++counters_.responses_by_class[std::clamp(response.status / 100, 1, 5)];
    serialize_response(response_, response, head_only);
    std::vector<char>().swap(received_); // the views into it are not needed any more
    phase_ = Phase::writing;
    deadline_ns_ = now_ns + limits_.write_timeout.count();
    write_response(now_ns);
}

void Connection::write_response(std::int64_t now_ns) {
    while (sent_ < response_.size()) {
        const ssize_t n = ::send(fd_.get(), response_.data() + sent_, response_.size() - sent_, MSG_NOSIGNAL);
        if (n >= 0) {
            sent_ += static_cast<std::size_t>(n);
        } else if (errno == EINTR) {
            continue;
        } else if (would_block()) {
            return;
        } else { // the client went away: nothing more to do
            phase_ = Phase::done;
            return;
        }
    }
    std::string().swap(response_);
    // FIN after the response, then read until the client closes: closing
    // with unread bytes (a body, a pipelined request) would send a reset,
    // which can destroy the response before the client has read it.
    ::shutdown(fd_.get(), SHUT_WR);
    phase_ = Phase::lingering;
    deadline_ns_ = now_ns + limits_.linger_timeout.count();
    drain();
}

void Connection::drain() {
    char scratch[4096];
    while (drained_ <= kMaxDrainBytes) {
        const ssize_t n = ::recv(fd_.get(), scratch, sizeof(scratch), 0);
        if (n > 0) {
            drained_ += static_cast<std::size_t>(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && would_block()) {
            return;
        } else {
            break; // EOF (the client has read and closed) or an error
        }
    }
    phase_ = Phase::done;
}

} // namespace tcpleak::http
