// RAII over the descriptors the identity library opens: every fd and DIR* is
// closed on every path, early returns and exceptions included.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace tcpleak::identity {

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    int release() { return std::exchange(fd_, -1); }
    void reset() {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

struct DirCloser {
    void operator()(DIR* dir) const { ::closedir(dir); }
};
using DirStream = std::unique_ptr<DIR, DirCloser>;

// The directory `name` below parent_fd, never following a symlink; null if it
// cannot be opened (it may be gone: cgroups and pod directories come and go).
inline DirStream open_dir_at(int parent_fd, const char* name) {
    UniqueFd fd(::openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd)
        return nullptr;
    DIR* dir = ::fdopendir(fd.get());
    if (dir)
        fd.release(); // the DIR owns it now
    return DirStream(dir);
}

// At most max_bytes of a file; nullopt if it cannot be opened or read.
std::optional<std::string> read_file_prefix(const std::string& path, std::size_t max_bytes);

} // namespace tcpleak::identity
