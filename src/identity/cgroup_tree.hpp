// One walk of a cgroup tree: every directory's id (its inode number, which on
// cgroup2 is the kernfs node id BPF reports) and path below the root.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

namespace tcpleak::identity {

struct TreeLimits {
    std::size_t max_entries;
    std::size_t max_path_bytes;
    std::size_t max_depth;
    // The tree is cgroup2 (kernfs), whose directories' st_nlink is 2 plus their
    // subdirectories: a leaf, most of a node's cgroups, is never opened.
    bool kernfs;
};

struct TreeWalk {
    std::unordered_map<std::uint64_t, std::string> paths; // id -> "/a/b", the root itself is "/"
    bool truncated = false;                                // stopped at max_entries
    std::uint64_t too_long = 0;                            // directories skipped: path over max_path_bytes
    std::uint64_t too_deep = 0;                            // directories not entered: below max_depth
};

TreeWalk walk_cgroup_tree(int root_fd, const TreeLimits& limits);

} // namespace tcpleak::identity
