// What `tcpleak --version` says: one line, for bug reports and fleet inventories.
#pragma once

#include <string>
#include <string_view>

namespace tcpleak {

// "tcpleak 0.2.0 (gea2f449) libbpf 1.1.2 static": the project version, then
// in parentheses `git describe` of the tree it was built from when that was
// a git tree and it says more than "v<version>", the libbpf linked in, and
// "static" or "dynamic".
std::string version_line();

// The parts, for tests and for version_line's callers' own formats.
struct BuildInfo {
    std::string_view version;      // the project version (CMakeLists.txt), also in every JSON "start" record
    std::string_view git_describe; // empty without a git tree at build time
    std::string_view libbpf;       // e.g. "1.1.2"
    std::string_view linkage;      // "static" or "dynamic"
};
BuildInfo build_info();
std::string format_version_line(const BuildInfo& info);

} // namespace tcpleak
