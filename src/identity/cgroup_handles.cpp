#include "cgroup_handles.hpp"

#include "fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace tcpleak::identity {

namespace {

constexpr int kFileIdKernfs = 0xfe; // include/linux/exportfs.h: FILEID_KERNFS

std::optional<std::string> path_of_fd(int fd) {
    const std::string link = "/proc/self/fd/" + std::to_string(fd);
    char target[PATH_MAX];
    const ssize_t n = ::readlink(link.c_str(), target, sizeof target);
    if (n <= 0 || static_cast<std::size_t>(n) >= sizeof target)
        return std::nullopt; // a path as long as the buffer may have been cut short
    return std::string(target, static_cast<std::size_t>(n));
}

// errno values that mean "not allowed here" rather than "no such cgroup" (ESTALE).
bool handles_refused(int error) { return error == EPERM || error == EOPNOTSUPP || error == ENOSYS || error == EINVAL; }

std::optional<std::uint64_t> inode_of(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return std::nullopt;
    return st.st_ino;
}

} // namespace

std::optional<std::uint64_t> directory_id(int root_fd, const std::string& path) {
    struct stat st {};
    const char* relative = path == "/" ? "." : path.c_str() + 1;
    if (::fstatat(root_fd, relative, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
        return std::nullopt;
    return st.st_ino;
}

CgroupHandles::CgroupHandles(int root_fd) : root_fd_(root_fd) {
    const std::optional<std::string> root_path = path_of_fd(root_fd);
    const std::optional<std::uint64_t> root_id = inode_of(root_fd);
    if (!root_path || !root_id)
        return;
    root_path_ = *root_path == "/" ? "" : *root_path;
    enabled_ = true;
    // Try once on the root itself, so a process without the capability finds out now.
    enabled_ = path_of(*root_id).has_value();
}

std::optional<std::string> CgroupHandles::path_of(std::uint64_t id) {
    if (!enabled_)
        return std::nullopt;
    alignas(file_handle) unsigned char storage[sizeof(file_handle) + sizeof id];
    auto* handle = reinterpret_cast<file_handle*>(storage);
    handle->handle_bytes = sizeof id;
    handle->handle_type = kFileIdKernfs;
    std::memcpy(handle->f_handle, &id, sizeof id);
    const UniqueFd fd(::open_by_handle_at(root_fd_, handle, O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
        if (handles_refused(errno))
            enabled_ = false;
        return std::nullopt;
    }
    const std::optional<std::string> full = path_of_fd(fd.get());
    if (!full || !full->starts_with(root_path_))
        return std::nullopt;
    std::string path = full->substr(root_path_.size());
    if (path.empty())
        path = "/";
    // The link text is not proof (a removed directory reads "... (deleted)");
    // the same inode under the root is.
    if (path.front() != '/' || directory_id(root_fd_, path) != id)
        return std::nullopt;
    return path;
}

} // namespace tcpleak::identity
