// Small reads from /proc about live processes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tcpleak {

// argv joined by spaces (NULs become spaces), at most max_bytes; empty when
// the process is gone or has no command line (kernel threads), or when /proc
// hides it (hidepid=1/2/4 and tcpleak may not ptrace it): the first time
// that happens, the notice set by on_hidden_cmdlines is called.
std::string read_cmdline(std::uint32_t pid, std::size_t max_bytes = 512);

// notice(why) is called once, the first time read_cmdline finds a process
// that exists but that /proc does not show (why: one sentence, no prefix).
void on_hidden_cmdlines(void (*notice)(const std::string& why));

// NUL-separated argv bytes (as the kernel keeps them) joined by spaces.
std::string join_args(std::string_view nul_separated);
// argv as a command line: the words joined by spaces.
std::string join_args(const std::vector<std::string>& argv);

// The mount namespace of a process (the inode of /proc/PID/ns/mnt; pid 0:
// this process), or 0 when it cannot be read.
std::uint64_t mount_namespace_of(std::uint32_t pid);

} // namespace tcpleak
