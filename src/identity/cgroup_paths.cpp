#include "tcpleak/identity/cgroup_paths.hpp"

#include "cgroup_handles.hpp"
#include "cgroup_tree.hpp"
#include "fd.hpp"
#include "tcpleak/identity/error.hpp"
#include "tcpleak/identity/proc_files.hpp"

#include <linux/magic.h>
#include <sys/vfs.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>

namespace tcpleak::identity {

namespace {

// mountinfo on a busy node: every pod adds a few mounts (secrets, volumes).
constexpr std::size_t kMaxMountinfoBytes = 8u << 20;
// /proc/PID/cgroup: one line per hierarchy, each path at most PATH_MAX.
constexpr std::size_t kMaxProcCgroupBytes = 64u << 10;

std::string find_root(const CgroupPathsOptions& options) {
    if (!options.root.empty())
        return options.root;
    const std::string mountinfo_path = options.proc + "/self/mountinfo";
    const std::optional<std::string> mountinfo = read_file_prefix(mountinfo_path, kMaxMountinfoBytes);
    if (!mountinfo)
        throw IdentityError("cannot read " + mountinfo_path + ": " + std::strerror(errno));
    std::optional<std::string> mount_point = find_cgroup2_mount(*mountinfo);
    if (!mount_point)
        throw IdentityError("no cgroup2 filesystem in " + mountinfo_path + ": a cgroup v1-only host?");
    return std::move(*mount_point);
}

UniqueFd open_root(const std::string& root) {
    UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd)
        throw IdentityError("cannot open cgroup root " + root + ": " + std::strerror(errno));
    return fd;
}

bool is_cgroup2(int fd) {
    struct statfs fs {};
    return ::fstatfs(fd, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

// Absolute, no NUL (it would end the C string early), no "." or ".." (a
// cgroup-namespaced "/../x" must not climb out of the root).
bool is_plain_path(std::string_view path, std::size_t max_bytes) {
    if (!path.starts_with('/') || path.size() > max_bytes || path.find('\0') != std::string_view::npos)
        return false;
    for (std::size_t start = 1; start <= path.size();) {
        std::size_t slash = path.find('/', start);
        if (slash == std::string_view::npos)
            slash = path.size();
        const std::string_view component = path.substr(start, slash - start);
        if (component == "." || component == "..")
            return false;
        start = slash + 1;
    }
    return true;
}

} // namespace

struct CgroupPaths::State {
    explicit State(CgroupPathsOptions given)
        : options(std::move(given)), root(find_root(options)), root_fd(open_root(root)),
          cgroup2(is_cgroup2(root_fd.get())), walk_limit(options.clock, options.min_walk_interval) {
        if (cgroup2 && options.use_file_handles)
            handles.emplace(root_fd.get());
    }

    std::optional<std::string> path_of(std::uint64_t id) {
        ++stats.lookups;
        if (const auto it = paths.find(id); it != paths.end()) {
            ++stats.cache_hits;
            return it->second;
        }
        if (std::optional<std::string> path = handles ? handles->path_of(id) : std::nullopt) {
            ++stats.handle_hits;
            remember(id, *path);
            return path;
        }
        return path_after_walk(id);
    }

    std::optional<std::string> path_after_walk(std::uint64_t id) {
        if (!walk_limit.try_start()) {
            ++stats.walks_deferred;
            ++stats.misses;
            return std::nullopt;
        }
        walk_tree();
        if (const auto it = paths.find(id); it != paths.end()) {
            ++stats.walk_hits;
            return it->second;
        }
        ++stats.misses;
        return std::nullopt;
    }

    void remember(std::uint64_t id, const std::string& path) {
        if (paths.size() >= options.max_entries)
            ++stats.capacity_hits;
        else
            paths.emplace(id, path);
    }

    void walk_tree() {
        const auto start = std::chrono::steady_clock::now(); // real time: a measurement, not a policy
        TreeWalk tree = walk_cgroup_tree(
            root_fd.get(), {options.max_entries, options.max_path_bytes, options.max_depth, /*kernfs=*/cgroup2});
        paths = std::move(tree.paths);
        ++stats.walks;
        stats.capacity_hits += tree.truncated ? 1 : 0;
        stats.too_long += tree.too_long;
        stats.too_deep += tree.too_deep;
        stats.last_walk = std::chrono::steady_clock::now() - start;
    }

    CgroupPathsOptions options;
    std::string root;
    UniqueFd root_fd;
    bool cgroup2;
    std::optional<CgroupHandles> handles;
    RefreshLimit walk_limit;
    std::unordered_map<std::uint64_t, std::string> paths;
    CgroupPathsStats stats;
};

CgroupPaths::CgroupPaths(CgroupPathsOptions options) : state_(std::make_unique<State>(std::move(options))) { walk(); }
CgroupPaths::~CgroupPaths() = default;
CgroupPaths::CgroupPaths(CgroupPaths&&) noexcept = default;
CgroupPaths& CgroupPaths::operator=(CgroupPaths&&) noexcept = default;

std::optional<std::string> CgroupPaths::path_of(std::uint64_t cgroup_id) { return state_->path_of(cgroup_id); }

std::optional<std::string> CgroupPaths::path_of_pid(std::uint32_t pid) const {
    const std::optional<std::string> text =
        read_file_prefix(state_->options.proc + "/" + std::to_string(pid) + "/cgroup", kMaxProcCgroupBytes);
    return text ? cgroup2_path_in_proc_cgroup(*text) : std::nullopt;
}

std::optional<std::uint64_t> CgroupPaths::id_of(std::string_view path) const {
    if (!is_plain_path(path, state_->options.max_path_bytes))
        return std::nullopt;
    return directory_id(state_->root_fd.get(), std::string(path));
}

void CgroupPaths::walk() {
    state_->walk_tree();
    state_->walk_limit.started_now();
}

const std::string& CgroupPaths::root() const { return state_->root; }

CgroupPathsStats CgroupPaths::stats() const {
    CgroupPathsStats stats = state_->stats;
    stats.entries = state_->paths.size();
    stats.file_handles = state_->handles && state_->handles->enabled();
    return stats;
}

} // namespace tcpleak::identity
