// RAII over the descriptors the identity library opens: every fd (the one
// tcpleak::UniqueFd) and DIR* is closed on every path, early returns and
// exceptions included.
#pragma once

#include "tcpleak/sys/unique_fd.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>

namespace tcpleak::identity {

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
