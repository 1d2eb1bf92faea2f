// cgroup v2 id -> path. The id is what BPF reports (bpf_get_current_cgroup_id(),
// task->cgroups->dfl_cgrp->kn->id): the kernfs node id, which on 64-bit kernels
// is also the inode number of the cgroup's directory on the cgroup2 mount.
//
// Lookups are served from a cache. A miss asks the kernel for that one id
// (open_by_handle_at, when the process has CAP_DAC_READ_SEARCH), and else
// re-walks the whole tree, at most once per min_walk_interval. A walk replaces
// the cache, so removed cgroups leave it. Not thread-safe: one per thread, or a lock.
#pragma once

#include "tcpleak/identity/refresh_limit.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace tcpleak::identity {

struct CgroupPathsOptions {
    std::string root;         // the cgroup2 mount; empty: the first in /proc/self/mountinfo
    std::string proc = "/proc";
    std::size_t max_entries = 16384;   // cached paths; a walk stops there
    std::size_t max_path_bytes = 4096; // longer paths are skipped (and counted)
    std::size_t max_depth = 64;        // a walk enters no deeper (each level holds one fd)
    std::chrono::nanoseconds min_walk_interval = std::chrono::seconds(1);
    Clock clock = steady_clock_now();
    bool use_file_handles = true; // single-id lookups; only where root is a cgroup2 filesystem
};

struct CgroupPathsStats {
    std::uint64_t lookups = 0;
    std::uint64_t cache_hits = 0;
    std::uint64_t handle_hits = 0; // misses that open_by_handle_at resolved
    std::uint64_t walk_hits = 0;   // misses that the walk they started resolved
    std::uint64_t misses = 0;      // not found at all (gone, or a walk was not due)
    std::uint64_t walks = 0;
    std::uint64_t walks_deferred = 0; // misses within min_walk_interval of the last walk
    std::uint64_t capacity_hits = 0;  // walks stopped at max_entries, and lookups left uncached
    std::uint64_t too_long = 0;       // directories skipped for max_path_bytes
    std::uint64_t too_deep = 0;       // directories not entered for max_depth
    std::chrono::nanoseconds last_walk{0};
    std::size_t entries = 0;
    bool file_handles = false; // open_by_handle_at works here
};

class CgroupPaths {
public:
    // Opens the root and walks it once. Throws IdentityError (one line) when
    // no cgroup2 mount is found or the root cannot be opened.
    explicit CgroupPaths(CgroupPathsOptions options = {});
    ~CgroupPaths();
    CgroupPaths(CgroupPaths&&) noexcept;
    CgroupPaths& operator=(CgroupPaths&&) noexcept;

    // "/kubepods.slice/...", "/" for the root; as /proc/PID/cgroup shows it
    // to a process in the root cgroup namespace.
    std::optional<std::string> path_of(std::uint64_t cgroup_id);

    // The cgroup v2 path of a live process, from /proc/PID/cgroup: for ids the
    // tree no longer has, and for callers that only have a pid.
    std::optional<std::string> path_of_pid(std::uint32_t pid) const;

    // The id of a path below the root (the directory's inode); nullopt if it is
    // not there, or is not a plain path (".." components, or too long).
    std::optional<std::uint64_t> id_of(std::string_view path) const;

    // Re-walks now, whatever the interval.
    void walk();

    const std::string& root() const;
    CgroupPathsStats stats() const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

} // namespace tcpleak::identity
