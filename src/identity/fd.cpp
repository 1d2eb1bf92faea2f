#include "fd.hpp"

#include <algorithm>
#include <cerrno>

namespace tcpleak::identity {

// Grows with what is read, so a generous limit costs nothing on small files.
std::optional<std::string> read_file_prefix(const std::string& path, std::size_t max_bytes) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
        return std::nullopt;
    std::string bytes;
    char chunk[4096];
    while (bytes.size() < max_bytes) {
        const ssize_t n = ::read(fd.get(), chunk, std::min(sizeof chunk, max_bytes - bytes.size()));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return std::nullopt;
        if (n == 0)
            break;
        bytes.append(chunk, static_cast<std::size_t>(n));
    }
    return bytes;
}

} // namespace tcpleak::identity
