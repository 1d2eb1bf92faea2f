#include "tcpleak/http/server.hpp"

#include "connection.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <ctime>
#include <stdexcept>
#include <system_error>

namespace tcpleak::http {

namespace {

constexpr std::uint64_t kListenerId = 0;
// Work per service() call is bounded so that the agent's loop, which also
// drains the BPF ring buffer, always gets control back quickly. What is
// left stays ready and is handled on the next call.
constexpr int kMaxEventsPerService = 64;
constexpr int kMaxAcceptsPerService = 64;
// Out of fds or memory: the listener would stay readable and every accept
// fail, so stop watching it for a while instead of spinning.
constexpr std::int64_t kAcceptPauseNs = 100'000'000;

// Fixed, small, and sent without waiting: it fits any fresh socket's buffer.
constexpr std::string_view kTooManyConnections =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 46\r\n"
    "Retry-After: 1\r\n"
    "Connection: close\r\n"
    "\r\n"
    "503 Service Unavailable: too many connections\n";

[[noreturn]] void throw_errno(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), what);
}

void watch(int epoll_fd, int op, int fd, std::uint32_t events, std::uint64_t id) {
    epoll_event event{};
    event.events = events;
    event.data.u64 = id;
    if (::epoll_ctl(epoll_fd, op, fd, &event) != 0)
        throw_errno("epoll_ctl");
}

UniqueFd listen_on(const ListenAddress& address) {
    const std::string where = "cannot listen on " + address.to_string();
    UniqueFd fd(::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd)
        throw_errno(where);
    const int on = 1; // restart at once even while old connections sit in TIME_WAIT
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0)
        throw_errno(where);
    if (::bind(fd.get(), address.get(), address.size()) != 0)
        throw_errno(where);
    // A full backlog drops handshakes and clients retry a second later; the
    // kernel caps this at net.core.somaxconn.
    if (::listen(fd.get(), SOMAXCONN) != 0)
        throw_errno(where);
    return fd;
}

bool is_resource_shortage(int error) {
    return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

} // namespace

Server::Server(const ListenAddress& address, ServerLimits limits)
    : limits_(limits), listener_(listen_on(address)), epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (limits_.max_request_head_bytes == 0)
        throw std::invalid_argument("max_request_head_bytes must be positive");
    if (!epoll_)
        throw_errno("epoll_create1");
    watch(epoll_.get(), EPOLL_CTL_ADD, listener_.get(), EPOLLIN, kListenerId);
}

Server::~Server() = default;

void Server::route(std::string path, Handler handler) {
    router_.add(std::move(path), std::move(handler));
}

ListenAddress Server::local_address() const {
    sockaddr_storage storage{};
    socklen_t size = sizeof(storage);
    if (::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&storage), &size) != 0)
        throw_errno("getsockname");
    return {reinterpret_cast<const sockaddr*>(&storage), size};
}

void Server::service(std::int64_t now_ns) {
    resume_accepting_if_due(now_ns);
    epoll_event events[kMaxEventsPerService];
    const int ready = ::epoll_wait(epoll_.get(), events, kMaxEventsPerService, 0);
    for (int i = 0; i < ready; ++i) {
        if (events[i].data.u64 == kListenerId)
            accept_ready(now_ns);
        else
            handle_event(events[i].data.u64, now_ns);
    }
    expire_deadlines(now_ns);
}

void Server::accept_ready(std::int64_t now_ns) {
    for (int i = 0; i < kMaxAcceptsPerService; ++i) {
        UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!client) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (is_resource_shortage(errno)) {
                ++counters_.accept_errors;
                pause_accepting(now_ns);
                return;
            }
            continue; // EINTR, or a connection that died in the backlog (ECONNABORTED, ...)
        }
        if (connections_.size() >= limits_.max_connections)
            refuse(std::move(client));
        else
            add_connection(std::move(client), now_ns);
    }
}

void Server::refuse(UniqueFd client) {
    ++counters_.connections_refused;
    // Best effort: a client that already sent its request may see a reset
    // instead, as the close finds unread bytes.
    [[maybe_unused]] const ssize_t sent =
        ::send(client.get(), kTooManyConnections.data(), kTooManyConnections.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

void Server::add_connection(UniqueFd client, std::int64_t now_ns) {
    const std::uint64_t id = next_id_++;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = id;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, client.get(), &event) != 0) {
        ++counters_.accept_errors; // out of memory for the epoll entry: drop this one
        return;
    }
    ++counters_.connections_accepted;
    auto connection = std::make_unique<Connection>(std::move(client), now_ns, limits_, router_, counters_);
    Connection& added = *connection;
    connections_.emplace(id, std::move(connection));
    // The request has often arrived with the handshake: read it now rather
    // than one loop iteration later.
    handle_ready(id, added, now_ns);
}

void Server::handle_event(std::uint64_t id, std::int64_t now_ns) {
    const auto found = connections_.find(id);
    if (found != connections_.end()) // else closed earlier in this batch
        handle_ready(id, *found->second, now_ns);
}

void Server::handle_ready(std::uint64_t id, Connection& connection, std::int64_t now_ns) {
    const std::uint32_t before = connection.wanted_events();
    connection.on_ready(now_ns);
    if (connection.finished()) {
        connections_.erase(id); // closes the fd, which leaves the epoll set with it
        return;
    }
    if (connection.wanted_events() != before) {
        epoll_event event{};
        event.events = connection.wanted_events();
        event.data.u64 = id;
        if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, connection.fd(), &event) != 0)
            connections_.erase(id); // cannot wait for it: give up on this client
    }
}

void Server::expire_deadlines(std::int64_t now_ns) {
    for (auto it = connections_.begin(); it != connections_.end();) {
        if (now_ns >= it->second->deadline_ns()) {
            it->second->on_deadline();
            it = connections_.erase(it);
        } else {
            ++it;
        }
    }
}

void Server::pause_accepting(std::int64_t now_ns) {
    watch(epoll_.get(), EPOLL_CTL_MOD, listener_.get(), 0, kListenerId);
    accept_paused_until_ = now_ns + kAcceptPauseNs;
}

void Server::resume_accepting_if_due(std::int64_t now_ns) {
    if (accept_paused_until_ < 0 || now_ns < accept_paused_until_)
        return;
    watch(epoll_.get(), EPOLL_CTL_MOD, listener_.get(), EPOLLIN, kListenerId);
    accept_paused_until_ = -1;
}

std::int64_t monotonic_now_ns() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

} // namespace tcpleak::http
