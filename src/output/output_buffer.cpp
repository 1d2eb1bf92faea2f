#include "tcpleak/output/output_buffer.hpp"

#include "tcpleak/sys/errors.hpp"
#include "tcpleak/sys/signals.hpp"

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>

namespace tcpleak {

namespace {

constexpr std::size_t kRecordHeadroom = 4096; // one record past the threshold
// After a stop signal, a write is at most this big: a pipe or socket that
// polls writable takes it without blocking, so a reader that stopped reading
// cannot hold tcpleak past the grace period.
constexpr std::size_t kStoppingChunk = 4096;

[[noreturn]] void throw_write_error(const std::string& name, int error) {
    throw UserError("cannot write " + name + ": " + std::strerror(error));
}

std::string default_name(int fd) {
    switch (fd) {
    case STDOUT_FILENO: return "standard output";
    case STDERR_FILENO: return "standard error";
    default: return "file descriptor " + std::to_string(fd);
    }
}

// Waits until fd can take more data, at most `timeout` (signals do not
// extend it); none: no limit. False when the time ran out.
bool wait_writable(int fd, std::optional<std::chrono::milliseconds> timeout, const std::string& name) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + timeout.value_or(std::chrono::milliseconds(0));
    pollfd pfd{fd, POLLOUT, 0};
    for (;;) {
        int wait_ms = -1;
        if (timeout) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
            wait_ms = static_cast<int>(std::max<std::int64_t>(0, left.count()));
        }
        const int ready = ::poll(&pfd, 1, wait_ms);
        if (ready > 0)
            return true;
        if (ready == 0)
            return false;
        if (errno != EINTR)
            throw_write_error(name, errno);
    }
}

// What poll() reports on fd once its reader is gone: POLLERR on a pipe or
// FIFO without readers, POLLHUP on a socket shut both ways or a hung-up
// terminal. Other files (regular files, /dev/null, /dev/kmsg) say nothing
// reliable: 0, never polled.
short hangup_events_of(int fd) {
    struct stat st{};
    if (::fstat(fd, &st) != 0)
        return 0;
    if (S_ISFIFO(st.st_mode))
        return POLLERR;
    if (S_ISSOCK(st.st_mode) || (S_ISCHR(st.st_mode) && ::isatty(fd)))
        return POLLHUP;
    return 0;
}

bool reader_gone(int fd, short hangup_events) {
    if (hangup_events == 0)
        return false;
    pollfd pfd{fd, 0, 0};
    return ::poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLNVAL) == 0 && (pfd.revents & hangup_events) != 0;
}

} // namespace

OutputBuffer::OutputBuffer(int fd, std::size_t flush_threshold, std::string name)
    : fd_(fd), name_(name.empty() ? default_name(fd) : std::move(name)), flush_threshold_(flush_threshold),
      hangup_events_(hangup_events_of(fd)) {
    buffer_.reserve(flush_threshold + kRecordHeadroom);
}

OutputBuffer::~OutputBuffer() {
    try {
        flush();
    } catch (...) {
        // Nothing sensible left to do with a write error while tearing down.
    }
}

bool OutputBuffer::flush() {
    if (buffer_.empty()) {
        // Nothing to write, so a vanished reader would go unnoticed on a
        // quiet machine: ask the descriptor.
        closed_ = closed_ || reader_gone(fd_, hangup_events_);
        return !closed_;
    }
    const std::size_t written = closed_ ? 0 : write_from(0);
    if (closed_)
        buffer_.clear();
    else
        buffer_.erase(0, written); // everything, unless write_from threw
    return !closed_;
}

// After a stop signal the output goes on while its reader keeps reading (a
// pipeline under load), and is given up once the reader takes nothing for
// the grace period (a paused `| less`): tcpleak must not hang until it reads.
bool OutputBuffer::stopping() const { return give_up_on_stop_ && stop_signal() != 0; }

std::size_t OutputBuffer::write_from(std::size_t written) {
    while (written < buffer_.size()) {
        std::size_t chunk = buffer_.size() - written;
        if (stopping()) {
            if (!wait_writable(fd_, stop_grace_, name_)) {
                closed_ = true;
                return written;
            }
            chunk = std::min(chunk, kStoppingChunk);
        }
        const ssize_t n = ::write(fd_, buffer_.data() + written, chunk);
        if (n >= 0) {
            written += static_cast<std::size_t>(n);
            continue;
        }
        const int error = errno;
        if (error == EPIPE) {
            closed_ = true;
            return written;
        }
        if ((error == EAGAIN || error == EWOULDBLOCK) && !stopping())
            wait_writable(fd_, std::nullopt, name_);
        if (error == EINTR || error == EAGAIN || error == EWOULDBLOCK)
            continue;
        buffer_.erase(0, written); // keep what was not written, never write it twice
        throw_write_error(name_, error);
    }
    return written;
}

} // namespace tcpleak
