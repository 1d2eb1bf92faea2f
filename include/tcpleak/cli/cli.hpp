// The command line: "tcpleak trace|leaks|run [OPTIONS]" into CommandOptions.
#pragma once

#include "tcpleak/cli/description.hpp"
#include "tcpleak/cli/options.hpp"

#include <optional>
#include <string>

namespace tcpleak {

struct ParseResult {
    std::optional<CommandOptions> options; // set when a command should run
    int exit_code = 0;                     // when !options: 0 for --help/--version, 2 for a usage error
    std::string message;                   // help/version text (for stdout) or the error (for stderr), newline-terminated
};

// Never throws. A usage error is one line naming the option and the value,
// then "Run 'tcpleak COMMAND --help' for usage.".
ParseResult parse_command_line(int argc, const char* const* argv);

// The whole command line (every command, every option) as data, for the man
// pages and shell completion generated at build time.
CommandDescription describe_command_line();

} // namespace tcpleak
