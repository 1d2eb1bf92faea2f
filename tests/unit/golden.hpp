// Expected outputs kept as files under tests/unit/golden/: the text, JSON
// and XML tcpleak writes, byte for byte, where a reviewer can read them.
//
// After an intended change of an output, refresh them and review the diff:
//   TCPLEAK_UPDATE_GOLDEN=1 build/tests/tcpleak_unit_tests; git diff tests/unit/golden
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace tcpleak::test {

inline std::string golden_path(std::string_view name) { return std::string(TCPLEAK_GOLDEN_DIR "/") + std::string(name); }

// CHECKs that actual is the content of golden/<name>; with
// TCPLEAK_UPDATE_GOLDEN=1 in the environment, writes it there instead.
inline void check_golden(std::string_view name, const std::string& actual) {
    const std::string path = golden_path(name);
    if (const char* update = std::getenv("TCPLEAK_UPDATE_GOLDEN"); update && std::string_view(update) == "1") {
        std::ofstream(path, std::ios::binary) << actual;
        return;
    }
    std::ifstream in(path, std::ios::binary);
    INFO("golden file ", path, " (refresh: TCPLEAK_UPDATE_GOLDEN=1 build/tests/tcpleak_unit_tests)");
    REQUIRE_MESSAGE(in.good(), "missing golden file");
    std::ostringstream expected;
    expected << in.rdbuf();
    CHECK(actual == expected.str());
}

} // namespace tcpleak::test
