#include "cgroup_tree.hpp"

#include "fd.hpp"

#include <sys/stat.h>

#include <optional>

namespace tcpleak::identity {

namespace {

bool is_dot_or_dot_dot(const char* name) {
    return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

class Walker {
public:
    explicit Walker(const TreeLimits& limits) : limits_(limits) {}

    TreeWalk run(int root_fd) {
        struct stat st {};
        if (::fstat(root_fd, &st) != 0)
            return {};
        result_.paths.emplace(st.st_ino, "/");
        if (DirStream root = open_dir_at(root_fd, ".")) { // its own offset: every walk starts at the top
            std::string path;
            visit(root.get(), path, 1);
        }
        return std::move(result_);
    }

private:
    struct Subdirectory {
        std::uint64_t id;
        bool may_have_subdirectories;
    };

    // Depth-first; `path` is this directory's path, "" for the root, and is
    // restored before returning so one string serves the whole walk.
    void visit(DIR* dir, std::string& path, std::size_t depth) {
        while (const dirent* entry = ::readdir(dir)) {
            if (result_.truncated)
                return;
            const std::optional<Subdirectory> subdirectory = subdirectory_of(dir, *entry);
            if (!subdirectory)
                continue;
            const std::size_t parent_size = path.size();
            path += '/';
            path += entry->d_name;
            if (path.size() > limits_.max_path_bytes)
                ++result_.too_long;
            else
                add(*subdirectory, dir, entry->d_name, path, depth);
            path.resize(parent_size);
        }
    }

    void add(const Subdirectory& subdirectory, DIR* parent, const char* name, std::string& path, std::size_t depth) {
        if (result_.paths.size() >= limits_.max_entries) {
            result_.truncated = true;
            return;
        }
        result_.paths.emplace(subdirectory.id, path);
        if (!subdirectory.may_have_subdirectories)
            return;
        if (depth >= limits_.max_depth) {
            ++result_.too_deep;
            return;
        }
        if (DirStream child = open_dir_at(::dirfd(parent), name))
            visit(child.get(), path, depth + 1);
    }

    // nullopt for files, "." and "..", and what vanished since readdir.
    std::optional<Subdirectory> subdirectory_of(DIR* dir, const dirent& entry) const {
        if (is_dot_or_dot_dot(entry.d_name) || (entry.d_type != DT_DIR && entry.d_type != DT_UNKNOWN))
            return std::nullopt;
        struct stat st {};
        if (::fstatat(::dirfd(dir), entry.d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
            return std::nullopt;
        return Subdirectory{st.st_ino, !limits_.kernfs || st.st_nlink > 2};
    }

    const TreeLimits& limits_;
    TreeWalk result_;
};

} // namespace

TreeWalk walk_cgroup_tree(int root_fd, const TreeLimits& limits) { return Walker(limits).run(root_fd); }

} // namespace tcpleak::identity
