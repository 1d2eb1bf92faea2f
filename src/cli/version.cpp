#include "tcpleak/cli/version.hpp"

#include "tcpleak_build_info.h" // generated at build time: cmake/BuildInfo.cmake

namespace tcpleak {

BuildInfo build_info() { return {TCPLEAK_VERSION, TCPLEAK_GIT_DESCRIBE, TCPLEAK_LIBBPF_VERSION, TCPLEAK_LINKAGE}; }

std::string format_version_line(const BuildInfo& info) {
    std::string line = "tcpleak ";
    line += info.version;
    // A tagged release says "v0.2.0": the version already said it. Otherwise
    // the commit (gHASH, as git describe spells it after a tag), "-dirty"
    // for uncommitted changes, "v0.2.0-3-gHASH" three commits after a tag.
    std::string describe(info.git_describe);
    if (!describe.empty() && describe != "v" + std::string(info.version)) {
        const bool bare_hash = describe.find_first_not_of("0123456789abcdef") >= describe.find('-');
        line += " (";
        line += bare_hash ? "g" + describe : describe;
        line += ")";
    }
    line += " libbpf ";
    line += info.libbpf;
    line += " ";
    line += info.linkage;
    return line;
}

std::string version_line() { return format_version_line(build_info()); }

} // namespace tcpleak
