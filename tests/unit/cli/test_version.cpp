#include "tcpleak/cli/version.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace tcpleak;

TEST_CASE("the version line: version, commit, libbpf, linkage") {
    CHECK(format_version_line({"0.2.0", "ea2f449", "1.1.2", "static"}) == "tcpleak 0.2.0 (gea2f449) libbpf 1.1.2 static");
    CHECK(format_version_line({"0.2.0", "ea2f449-dirty", "1.1.2", "dynamic"}) ==
          "tcpleak 0.2.0 (gea2f449-dirty) libbpf 1.1.2 dynamic");
}

TEST_CASE("the version line after a tag: git describe as it is; the tag itself adds nothing") {
    CHECK(format_version_line({"0.2.0", "v0.2.0-3-g1234abc", "1.1.2", "static"}) ==
          "tcpleak 0.2.0 (v0.2.0-3-g1234abc) libbpf 1.1.2 static");
    CHECK(format_version_line({"0.2.0", "v0.2.0", "1.1.2", "static"}) == "tcpleak 0.2.0 libbpf 1.1.2 static");
}

TEST_CASE("the version line without a git tree: no parentheses") {
    CHECK(format_version_line({"0.2.0", "", "1.1.2", "dynamic"}) == "tcpleak 0.2.0 libbpf 1.1.2 dynamic");
}

TEST_CASE("this build's version line names the project version and the libbpf of the build") {
    const BuildInfo info = build_info();
    CHECK(info.version == TCPLEAK_VERSION);
    CHECK(std::string(info.libbpf).starts_with("1."));
    CHECK((info.linkage == "static" || info.linkage == "dynamic"));
    CHECK(version_line().starts_with(std::string("tcpleak ") + TCPLEAK_VERSION + " "));
    CHECK(version_line().find('\n') == std::string::npos);
}
