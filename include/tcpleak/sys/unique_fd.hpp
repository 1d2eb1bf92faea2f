// Owns one file descriptor and closes it, so no early return or exception
// leaks one (this is a tool that hunts leaked sockets, after all).
#pragma once

#include <unistd.h>

#include <utility>

namespace tcpleak {

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        reset(other.release());
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    int release() { return std::exchange(fd_, -1); }
    void reset(int fd = -1) {
        if (fd_ >= 0)
            ::close(fd_); // EINTR still closes on Linux: never retry
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

} // namespace tcpleak
