// What the files of src/cli share (nouns, UsageError, quoting, help, values, options, errors). Private to src/cli.
#pragma once

#include "tcpleak/cli/options.hpp"
#include "tcpleak/sys/clock.hpp" // Duration

#include <CLI/CLI.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tcpleak::cli_detail {

constexpr std::string_view kProgram = "tcpleak";

// The kernel stores a task's comm in 16 bytes including the NUL, so a longer
// -c could never match anything.
constexpr std::size_t kMaxCommBytes = 15;
// PID_MAX_LIMIT on 64-bit kernels: no process ID is larger.
constexpr std::uint64_t kMaxPid = 4'194'304;

// What a value should have been, for "-p abc: not a process ID (...)" and
// "-p needs a process ID (...)". Stored as each option's CLI11 type_name.
// The ranges repeat kMaxPid and the limits in parse_port/exit_code_value.
constexpr std::string_view kPidNoun = "a process ID (1-4194304)";
constexpr std::string_view kPortNoun = "a port (1-65535)";
constexpr std::string_view kStateNoun = "a TCP state (e.g. CLOSE_WAIT, ESTABLISHED, LAST_ACK)";
constexpr std::string_view kClosingStateNoun =
    "a closing TCP state (CLOSE_WAIT, FIN_WAIT1, FIN_WAIT2, LAST_ACK, CLOSING, or 'closing' for all of them)";
// What leaks and run can watch: the states a socket can be stuck in after a close.
constexpr std::array<std::string_view, 5> kClosingStateNames = {"CLOSE_WAIT", "FIN_WAIT1", "FIN_WAIT2", "LAST_ACK",
                                                                "CLOSING"};
constexpr std::string_view kCommNoun = "a process name";
constexpr std::string_view kGroupingNoun = "process or container"; // top --by
constexpr std::array<std::string_view, 2> kGroupingNames = {"process", "container"};
constexpr std::string_view kDurationNoun = "a duration (e.g. 500ms, 5s, 2m, 1h)";
constexpr std::string_view kFileNoun = "a file name";
constexpr std::string_view kExitCodeNoun = "an exit status (0-255)";

// A command line that cannot run. what() is one line without the
// "tcpleak trace: " prefix; it never leaves src/cli.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

inline std::string concat(std::initializer_list<std::string_view> parts) {
    std::string joined;
    for (std::string_view part : parts)
        joined += part;
    return joined;
}

// ---------------------------------------------------------------------------
// Quoting values in usage errors (quoting.cpp)

// A value as the user would retype it: quoted when the shell would need it.
std::string shown(std::string_view value);
// The same, always quoted: "'x' is not a process ID".
std::string quoted_word(std::string_view value);
// Control bytes, broken UTF-8 and display controls as "\xNN": one printable line.
std::string printable_line(std::string_view text);

// ---------------------------------------------------------------------------
// Help text

struct CommandHelp {
    std::string name;
    std::string usage;   // after "Usage: "; continuation lines already indented
    std::string summary; // one sentence; also listed by 'tcpleak --help'
    std::string footer;  // notes, examples, exit status
};

// Help text of each command (help.cpp).
std::string default_note(Duration duration);
CommandHelp root_help();
CommandHelp trace_help();
CommandHelp leaks_help();
CommandHelp run_help();
CommandHelp top_help();
CommandHelp agent_help();
// "Run 'tcpleak COMMAND --help' for usage.\n"
std::string run_help_hint(std::string_view command);

// CLI11's layout with our usage lines, "-p, --pid" names and no Positionals
// section (run's COMMAND is explained in its footer).
class HelpFormatter : public CLI::Formatter {
public:
    HelpFormatter() { column_width(28); }

    void set_usage(const std::string& command, const std::string& usage) { usage_by_command_[command] = usage; }

    std::string make_help(const CLI::App* app, std::string, CLI::AppFormatMode mode) const override {
        std::ostringstream out;
        out << "Usage: " << usage_by_command_.at(app->get_name()) << "\n\n" << app->get_description() << "\n";
        if (!app->get_subcommands({}).empty())
            out << "\nCommands:\n" << command_list(*app);
        out << make_groups(app, mode) << "\n" << make_footer(app);
        return out.str();
    }

    // GNU style: "-p, --pid", and long-only options indented to line up.
    std::string make_option_name(const CLI::Option* option, bool is_positional) const override {
        if (is_positional)
            return option->get_name();
        std::string names;
        for (const std::string& name : option->get_snames())
            names += (names.empty() ? "-" : ", -") + name;
        for (const std::string& name : option->get_lnames())
            names += (names.empty() ? "    --" : ", --") + name;
        return names;
    }

    std::string command_list(const CLI::App& root) const {
        std::ostringstream out;
        for (const CLI::App* command : root.get_subcommands({}))
            CLI::detail::format_help(out, command->get_name(), command->get_description(), 10);
        return out.str();
    }

private:
    std::map<std::string, std::string> usage_by_command_;
};

// ---------------------------------------------------------------------------
// Turning collected option text into values. CLI11 only collects strings, so
// that every error can name the option and the value in one line.

// (values.cpp)

bool is_option_of(const CLI::App& command, std::string_view word);
std::string needs_value_message(std::string_view option, const CLI::Option* definition, std::string_view got_option);
void reject_option_as_value(const CLI::App& command, std::string_view option, std::string_view value);
const std::string* single_value(std::string_view option, const std::vector<std::string>& values);
std::optional<std::uint64_t> parse_decimal(std::string_view text);
std::optional<std::uint32_t> parse_pid(std::string_view text);
std::optional<std::uint16_t> parse_port(std::string_view text);
std::vector<std::string_view> split_commas(std::string_view text);

// Repeatable options: every occurrence, each word a comma-separated list.
template <typename Value>
std::vector<Value> list_values(const CLI::App& command, std::string_view option, const std::vector<std::string>& words,
                               std::optional<Value> (*parse_item)(std::string_view)) {
    const std::string noun = command.get_option(std::string(option))->get_type_name();
    std::vector<Value> values;
    for (const std::string& word : words) {
        reject_option_as_value(command, option, word);
        for (std::string_view item : split_commas(word)) {
            if (const std::optional<Value> value = parse_item(item))
                values.push_back(*value);
            else if (item == word)
                throw UsageError(concat({option, " ", shown(word), ": not ", noun}));
            else if (item.empty())
                throw UsageError(concat({option, " ", shown(word), ": empty item in the list"}));
            else
                throw UsageError(concat({option, " ", shown(word), ": ", quoted_word(item), " is not ", noun}));
        }
    }
    return values;
}

std::optional<Duration> duration_value(const CLI::App& command, std::string_view option,
                                       const std::vector<std::string>& values);
std::optional<std::string> comm_value(const CLI::App& command, const std::vector<std::string>& values);
std::optional<std::string> file_value(const CLI::App& command, std::string_view option,
                                      const std::vector<std::string>& values);
int exit_code_value(const CLI::App& command, std::string_view option, const std::vector<std::string>& values,
                    int fallback);
bool by_container_value(const CLI::App& command, const std::vector<std::string>& values);
std::optional<std::uint64_t> count_value(const CLI::App& command, const std::vector<std::string>& values);

// ---------------------------------------------------------------------------
// Each command's options: the words CLI11 collects for them, their
// definitions and the option structs built from them (commands.cpp)

// Options shared by trace and leaks: which processes (first in their help),
// then how to print, how long, how verbose (last).
struct ProcessFilterArgs {
    std::vector<std::string> pids;
    std::vector<std::string> comm;
};

struct TraceArgs {
    ProcessFilterArgs processes;
    std::vector<std::string> ports;
    std::vector<std::string> states;
    std::vector<std::string> duration;
    bool ipv4 = false;
    bool ipv6 = false;
    bool json = false;
    int verbose = 0;
};

struct LeaksArgs {
    ProcessFilterArgs processes;
    std::vector<std::string> states;
    std::vector<std::string> threshold;
    std::vector<std::string> interval;
    std::vector<std::string> duration;
    bool json = false;
    int verbose = 0;
};

struct RunArgs {
    std::vector<std::string> states;
    std::vector<std::string> threshold;
    std::vector<std::string> json_report;
    std::vector<std::string> junit;
    std::vector<std::string> leak_exit_code;
    std::vector<std::string> incomplete_exit_code;
    CLI::Option* command = nullptr;          // only counts the words; see command_words
    std::vector<std::string> command_words; // verbatim, from argv
    bool quiet = false;
    int verbose = 0;
};

struct AgentArgs {
    ProcessFilterArgs processes;
    std::vector<std::string> listen;
    std::vector<std::string> threshold;
    std::vector<std::string> interval;
    std::vector<std::string> textfile;
    std::vector<std::string> pods_dir;
    bool json = false;
    bool exact = false;
    bool metrics_pid = false;
    int verbose = 0;
};

struct TopArgs {
    ProcessFilterArgs processes;
    std::vector<std::string> interval;
    std::vector<std::string> by;
    std::vector<std::string> count;
    bool json = false;
    int verbose = 0;
};

void define_trace(CLI::App& command, TraceArgs& args);
void define_leaks(CLI::App& command, LeaksArgs& args);
void define_run(CLI::App& command, RunArgs& args);
void define_top(CLI::App& command, TopArgs& args);
void define_agent(CLI::App& command, AgentArgs& args);

TraceOptions trace_options(const CLI::App& command, const TraceArgs& args);
LeaksOptions leaks_options(const CLI::App& command, const LeaksArgs& args);
RunOptions run_options(const CLI::App& command, const RunArgs& args);
TopOptions top_options(const CLI::App& command, const TopArgs& args);
AgentOptions agent_options(const CLI::App& command, const AgentArgs& args);

// ---------------------------------------------------------------------------
// Translating CLI11's errors into one line (usage_errors.cpp)

std::string first_leftover(const CLI::App& root);
std::string leftover_message(const CLI::App& root, const CLI::App& command);
std::string missing_value_message(const CLI::App& command, std::string_view last_word);
std::string flag_value_message(const CLI::App& command, int argc, const char* const* argv);
std::string first_line(std::string_view text);

} // namespace tcpleak::cli_detail
