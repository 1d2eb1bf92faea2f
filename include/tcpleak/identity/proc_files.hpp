// The two /proc files the identity library reads, parsed as text so the
// parsing is tested without a live system.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tcpleak::identity {

// The mount point of the first cgroup2 filesystem in /proc/PID/mountinfo text
// ("\040"-style escapes undone): /sys/fs/cgroup on v2-only hosts,
// /sys/fs/cgroup/unified on hybrid ones, wherever a container put it.
std::optional<std::string> find_cgroup2_mount(std::string_view mountinfo);

// The cgroup v2 path in /proc/PID/cgroup text: the "0::" line (on hybrid hosts
// the others are v1 hierarchies). The kernel prints that line last and does
// not escape it, so the path runs to the end of the file: a cgroup name with a
// newline in it is kept whole rather than cut short. nullopt on v1-only hosts.
std::optional<std::string> cgroup2_path_in_proc_cgroup(std::string_view proc_cgroup);

} // namespace tcpleak::identity
