// Small reads from /proc about live processes.
#pragma once

#include <cstdint>
#include <string>

namespace tcpleak {

// argv joined by spaces (NULs become spaces), at most max_bytes; empty when
// the process is gone or has no command line (kernel threads).
std::string read_cmdline(std::uint32_t pid, std::size_t max_bytes = 512);

// NUL-separated argv bytes (as the kernel keeps them) joined by spaces.
std::string join_args(std::string_view nul_separated);

} // namespace tcpleak
