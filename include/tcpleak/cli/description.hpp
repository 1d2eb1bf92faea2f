// The command line as data: every command with its options, as --help shows
// them. Man pages and shell completion are generated from it at build time
// (packaging/cli_docs.cpp), so they cannot drift from --help.
#pragma once

#include <string>
#include <vector>

namespace tcpleak {

// What an option's value is, for completion.
enum class ValueKind { None, Pid, ProcessName, Port, TcpState, Duration, File, ExitCode, Command, Other };

struct OptionDescription {
    std::vector<std::string> short_names; // without '-': "p"
    std::vector<std::string> long_names;  // without "--": "pid"
    std::string positional;               // a positional's name ("COMMAND"); empty for options
    std::string value_name;               // "PID...", "DUR"; empty for a flag
    std::string description;              // as in --help, '\n' where --help breaks the line
    ValueKind kind = ValueKind::None;
    std::vector<std::string> values;      // every value it accepts, when they can be listed (TCP states)
    bool repeatable = false;              // may be given again (-p 1 -p 2, -vv)
};

struct CommandDescription {
    std::string name;     // "tcpleak" for the program itself, else the command ("trace")
    std::string summary;  // the description --help prints under the usage
    std::string usage;    // after "Usage: ", as --help prints it (continuation lines indented)
    std::string footer;   // notes, examples and exit status, as --help prints them
    std::string help;     // the whole --help text
    std::vector<OptionDescription> options;
    std::vector<CommandDescription> commands; // the program's commands (empty for a command)
};

} // namespace tcpleak
