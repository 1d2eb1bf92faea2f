// One cgroup by id, without a walk. On cgroup2 a file handle is the 8-byte
// kernfs node id (FILEID_KERNFS), so open_by_handle_at() opens cgroup `id`
// directly and /proc/self/fd/N names it. That needs CAP_DAC_READ_SEARCH: the
// first refusal turns handles off for good and walks do all the work.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace tcpleak::identity {

class CgroupHandles {
public:
    explicit CgroupHandles(int root_fd);

    bool enabled() const { return enabled_; }

    // The path below the root ("/a/b"), checked to be that very directory;
    // nullopt when the cgroup is gone, is outside the root, or handles are off.
    std::optional<std::string> path_of(std::uint64_t id);

private:
    int root_fd_;
    std::string root_path_; // where root_fd is in this mount namespace
    bool enabled_ = false;
};

// The inode of the directory `path` below root_fd ("/a/b", "/" for the root),
// not following a final symlink; nullopt if there is no such directory.
std::optional<std::uint64_t> directory_id(int root_fd, const std::string& path);

} // namespace tcpleak::identity
