#include "tcpleak/agent/textfile.hpp"

#include "tcpleak/sys/errors.hpp"
#include "tcpleak/sys/unique_fd.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace tcpleak {

namespace {

[[noreturn]] void fail(const std::string& path, int error) {
    throw UserError("cannot write " + path + ": " + std::strerror(error));
}

void write_all(int fd, std::string_view content, const std::string& path) {
    while (!content.empty()) {
        const ssize_t n = ::write(fd, content.data(), content.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail(path, errno);
        content.remove_prefix(static_cast<std::size_t>(n));
    }
}

} // namespace

void write_textfile(const std::string& path, std::string_view content) {
    const std::string temporary = path + ".tmp";
    // O_NOFOLLOW: a link planted at the temporary's name is not written through.
    UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd)
        fail(temporary, errno);
    write_all(fd.get(), content, temporary);
    if (::close(fd.release()) != 0)
        fail(temporary, errno);
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        const int error = errno;
        ::unlink(temporary.c_str());
        fail(path, error);
    }
}

} // namespace tcpleak
