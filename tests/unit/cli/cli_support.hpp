// Parsing a command line in the cli tests: parse_command_line on
// "tcpleak <words...>", and the options a line must give.
#pragma once

#include "tcpleak/cli/cli.hpp"

#include <doctest/doctest.h>

#include <variant>
#include <vector>

namespace tcpleak::testing {

inline ParseResult parse(const std::vector<const char*>& words) {
    std::vector<const char*> argv{"tcpleak"};
    argv.insert(argv.end(), words.begin(), words.end());
    return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

template <typename Options>
Options parsed_as(const std::vector<const char*>& words) {
    const ParseResult result = parse(words);
    INFO("message: " << result.message);
    REQUIRE(result.options);
    REQUIRE(std::holds_alternative<Options>(*result.options));
    return std::get<Options>(*result.options);
}

} // namespace tcpleak::testing
