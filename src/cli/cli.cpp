#include "tcpleak/cli/cli.hpp"

#include "tcpleak/cli/duration.hpp"
#include "tcpleak/cli/version.hpp"
#include "tcpleak/sys/errors.hpp"
#include "tcpleak/core/tcp_state.hpp"
#include "tcpleak/core/utf8.hpp"
#include "tcpleak/http/listen_address.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tcpleak {

namespace {

constexpr std::string_view kProgram = "tcpleak";
// The commands, as usage errors list them.
constexpr std::string_view kCommandList = "trace, leaks, run, top or agent";

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

const std::string kDurationNote = "DUR is 500ms, 5s, 2m, 1h or plain seconds (1.5 means 1.5s).";

// A command line that cannot run. what() is one line without the
// "tcpleak trace: " prefix; it never leaves this file.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

std::string concat(std::initializer_list<std::string_view> parts) {
    std::string joined;
    for (std::string_view part : parts)
        joined += part;
    return joined;
}

// Words from the command line are echoed in usage errors, and they can hold
// anything: a newline ("-p $'1\n2'" would split the error over two lines),
// terminal escapes, bytes of broken UTF-8, bidi controls. They are shown as
// the user would retype them, and always as one printable line:
//   bare         plain text:               -p abc
//   '...'        with spaces or '"':       --duration '5 s'
//   $'...'       anything else, escaped:   -p $'1\n2', -c $'caf\xc3', $'it\'s'
// ($'...' is bash's and zsh's ANSI-C quoting; POSIX sh has it since 2024.)
enum class Quoting : std::uint8_t { Bare, Single, AnsiC };

Quoting quoting_for(std::string_view value) {
    Quoting quoting = value.empty() ? Quoting::Single : Quoting::Bare;
    for (std::size_t i = 0; i < value.size();) {
        const auto c = static_cast<unsigned char>(value[i]);
        if (c >= 0x80) {
            const Utf8Sequence seq = next_utf8_sequence(value.substr(i));
            if (!seq.valid || is_display_control(seq.code_point))
                return Quoting::AnsiC;
            i += seq.length;
            continue;
        }
        if (c < 0x20 || c == 0x7f || c == '\'')
            return Quoting::AnsiC;
        if (c == ' ' || c == '"')
            quoting = Quoting::Single;
        ++i;
    }
    return quoting;
}

void append_hex_byte(std::string& out, std::string_view prefix, unsigned value, int digits) {
    constexpr std::string_view hex = "0123456789abcdef";
    out += prefix;
    for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4)
        out += hex[(value >> shift) & 0xf];
}

std::string ansi_c_quoted(std::string_view value) {
    std::string out = "$'";
    for (std::size_t i = 0; i < value.size();) {
        const auto c = static_cast<unsigned char>(value[i]);
        if (c >= 0x80) {
            const Utf8Sequence seq = next_utf8_sequence(value.substr(i));
            if (seq.valid && is_display_control(seq.code_point))
                append_hex_byte(out, "\\u", seq.code_point, 4);
            else if (seq.valid)
                out.append(value.substr(i, seq.length));
            else
                for (std::size_t k = 0; k < seq.length; ++k)
                    append_hex_byte(out, "\\x", static_cast<unsigned char>(value[i + k]), 2);
            i += seq.length;
            continue;
        }
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '\'': out += "\\'"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        case 0x1b: out += "\\e"; break;
        default:
            if (c < 0x20 || c == 0x7f)
                append_hex_byte(out, "\\x", c, 2);
            else
                out += static_cast<char>(c);
        }
        ++i;
    }
    out += '\'';
    return out;
}

// A value as the user would retype it: quoted when the shell would need it.
std::string shown(std::string_view value) {
    switch (quoting_for(value)) {
    case Quoting::Bare: return std::string(value);
    case Quoting::Single: return concat({"'", value, "'"});
    case Quoting::AnsiC: break;
    }
    return ansi_c_quoted(value);
}

// The same, always quoted: "'x' is not a process ID".
std::string quoted_word(std::string_view value) {
    return quoting_for(value) == Quoting::AnsiC ? ansi_c_quoted(value) : concat({"'", value, "'"});
}

// The last line of defence for text that did not go through shown() (CLI11's
// own messages quote what they were given): control bytes, broken UTF-8 and
// display controls become "\xNN", so a usage error is always one printable
// line. Leaves shown()'s output as it is.
std::string printable_line(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        const Utf8Sequence seq = next_utf8_sequence(text.substr(i));
        const bool safe = c >= 0x80 ? seq.valid && !is_display_control(seq.code_point) : c >= 0x20 && c != 0x7f;
        if (safe)
            out.append(text.substr(i, seq.length));
        else
            for (std::size_t k = 0; k < seq.length; ++k)
                append_hex_byte(out, "\\x", static_cast<unsigned char>(text[i + k]), 2);
        i += seq.length;
    }
    return out;
}

// ---------------------------------------------------------------------------
// Help text

struct CommandHelp {
    std::string name;
    std::string usage;   // after "Usage: "; continuation lines already indented
    std::string summary; // one sentence; also listed by 'tcpleak --help'
    std::string footer;  // notes, examples, exit status
};

std::string default_note(Duration duration) { return concat({" [default: ", format_duration_option(duration), "]"}); }

CommandHelp root_help() {
    return {
        "tcpleak",
        "tcpleak COMMAND [OPTIONS]",
        "Find the programs that leave TCP sockets in CLOSE_WAIT.\n"
        "A CLOSE_WAIT leak: the peer hung up, but the program never close()d its socket.",
        "Examples:\n"
        "  sudo tcpleak leaks\n"
        "      show which processes leak sockets right now\n"
        "  sudo tcpleak trace -p $(pidof nginx) --state CLOSE_WAIT\n"
        "      watch nginx's sockets enter and leave CLOSE_WAIT\n"
        "  sudo tcpleak run --junit leaks.xml -- ./soak-test.sh\n"
        "      fail a test run whose programs leak sockets\n"
        "  sudo tcpleak top\n"
        "      every process's sockets per state, live\n"
        "\n"
        "Run 'tcpleak COMMAND --help' for a command's options, examples and exit status.\n"
        "Tracing uses eBPF, so tcpleak needs root.",
    };
}

CommandHelp trace_help() {
    return {
        "trace",
        "tcpleak trace [-p PID]... [-c COMM] [--port N]... [-4|-6]\n"
        "                     [--state NAME]... [--json] [--duration DUR] [-v]",
        "Print TCP state changes live, with the process owning each socket.",
        "Different filters must all match; the values of one filter are alternatives\n"
        "(-p 1 -p 2 means PID 1 or PID 2).\n"
        "NAME is a kernel state name, in any case, with '-' or '_': ESTABLISHED,\n"
        "SYN_SENT, SYN_RECV, FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSE, CLOSE_WAIT,\n"
        "LAST_ACK, LISTEN, CLOSING, NEW_SYN_RECV.\n" +
            kDurationNote +
            "\n"
            "\n"
            "Examples:\n"
            "  sudo tcpleak trace -p $(pidof nginx) --state CLOSE_WAIT\n"
            "      nginx's sockets entering or leaving CLOSE_WAIT\n"
            "  sudo tcpleak trace --port 5432 --duration 1m\n"
            "      one minute of PostgreSQL connections changing state\n"
            "  sudo tcpleak trace --json | jq .\n"
            "      every change as one JSON object per line\n"
            "\n"
            "Exit status:\n"
            "  0  stopped by --duration or Ctrl-C\n"
            "  1  error (e.g. not root)\n"
            "  2  usage error",
    };
}

CommandHelp leaks_help() {
    return {
        "leaks",
        "tcpleak leaks [-p PID]... [-c COMM] [--threshold DUR] [--interval DUR]\n"
        "                     [--json] [--duration DUR] [-v]",
        "Report sockets stuck in CLOSE_WAIT, and the processes holding them.",
        "A socket is reported once it has sat in CLOSE_WAIT for --threshold: the\n"
        "peer hung up, and the process holding it has not called close().\n" +
            kDurationNote +
            "\n"
            "\n"
            "Examples:\n"
            "  sudo tcpleak leaks\n"
            "      report leaks as they appear, until Ctrl-C\n"
            "  sudo tcpleak leaks --threshold 30s\n"
            "      ignore sockets that are closed within 30 seconds\n"
            "  sudo tcpleak leaks -c java --json --duration 10m > leaks.ndjson\n"
            "      ten minutes of java's leaks, one JSON object per line\n"
            "\n"
            "Exit status:\n"
            "  0  no leak reported\n"
            "  " +
            std::to_string(kExitLeaks) +
            "  at least one leak reported\n"
            "  " +
            std::to_string(kExitIncomplete) +
            "  no leak reported, but tcpleak could not watch everything (events\n"
            "     were lost for longer than the threshold): a leak may be missed\n"
            "  1  error (e.g. not root)\n"
            "  2  usage error",
    };
}

CommandHelp run_help() {
    const RunOptions defaults;
    return {
        "run",
        "tcpleak run [OPTIONS] [--] COMMAND [ARGS...]",
        "Run a command and report the sockets it left in CLOSE_WAIT.",
        "COMMAND is everything after '--', passed on verbatim (options included).\n"
        "The '--' may be left out when COMMAND does not start with '-'.\n"
        "Processes of COMMAND's tree still running when it exits are ended (SIGTERM,\n"
        "then SIGKILL after 2s): none outlives tcpleak, even if tcpleak is killed.\n" +
            kDurationNote +
            "\n"
            "\n"
            "Examples:\n"
            "  sudo tcpleak run --junit leaks.xml -- ./soak-test.sh\n"
            "      run the soak test; leaks become JUnit failures for CI\n"
            "  sudo tcpleak run --threshold 30s -- make integration-test\n"
            "      only count sockets left in CLOSE_WAIT for 30s or more\n"
            "  sudo tcpleak run -q -- ./server --port 8080\n"
            "      everything after '--' belongs to ./server\n"
            "\n"
            "Exit status:\n"
            "  " +
            std::to_string(defaults.leak_exit_code) +
            "      a leak was found (choose another with --leak-exit-code)\n"
            "  " +
            std::to_string(defaults.incomplete_exit_code) +
            "      no leak found, but tcpleak could not watch everything\n"
            "         (choose another with --incomplete-exit-code)\n"
            "  N      otherwise COMMAND's exit status\n"
            "  128+N  COMMAND was killed by signal N\n"
            "  1      tcpleak failed (e.g. not root)\n"
            "  2      usage error",
    };
}

CommandHelp agent_help() {
    return {
        "agent",
        "tcpleak agent [--listen ADDR:PORT] [--threshold DUR] [--interval DUR] [--json]\n"
        "                     [--textfile PATH] [--pods-dir DIR] [--exact] [--metrics-pid]\n"
        "                     [-p PID]... [-c COMM] [-v]",
        "Serve leaks and TCP socket counts as Prometheus metrics.",
        "Serves GET /metrics (Prometheus text format) and /healthz on --listen until\n"
        "SIGTERM or Ctrl-C. Leaks are found as 'tcpleak leaks' finds them; every\n"
        "--interval a census counts every TCP socket by state and holder. Leaks and\n"
        "census rows carry the holder's container, pod and namespace (from the cgroup\n"
        "and the kubelet's log directories under --pods-dir).\n"
        "By default no syscall is hooked, so other processes' syscalls pay nothing:\n"
        "verdicts then come from the holders alone (a socket closed by one process but\n"
        "kept open by another is 'held', not 'closed, still referenced'). --exact\n"
        "hooks close()/dup() for exact verdicts, at a cost on every syscall of the\n"
        "machine (docs/performance.md).\n" +
            kDurationNote +
            "\n"
            "\n"
            "Examples:\n"
            "  sudo tcpleak agent\n"
            "      metrics on http://127.0.0.1:9464/metrics\n"
            "  sudo tcpleak agent --listen 0.0.0.0:9464 --json | vector --config vector.yaml\n"
            "      metrics for the cluster's Prometheus, leak records for the log shipper\n"
            "  sudo tcpleak agent --textfile /var/lib/node_exporter/tcpleak.prom\n"
            "      metrics for node_exporter's textfile collector too\n"
            "\n"
            "Exit status:\n"
            "  0  stopped by SIGTERM or Ctrl-C\n"
            "  1  error (e.g. not root, --listen address in use)\n"
            "  2  usage error",
    };
}

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

std::string run_help_hint(std::string_view command) {
    return command.empty() ? concat({"Run '", kProgram, " --help' for usage.\n"})
                           : concat({"Run '", kProgram, " ", command, " --help' for usage.\n"});
}

// ---------------------------------------------------------------------------
// Turning collected option text into values. CLI11 only collects strings, so
// that every error can name the option and the value in one line.

// "-p --json": the shell put an option where a value belongs.
bool is_option_of(const CLI::App& command, std::string_view word) {
    if (word.size() < 2 || word.front() != '-')
        return false;
    return command.get_option_no_throw(std::string(word.substr(0, word.find('=')))) != nullptr;
}

// "-p needs a process ID (1-4194304), not the option --json". got_option is
// empty when the option was the last word.
std::string needs_value_message(std::string_view option, const CLI::Option* definition, std::string_view got_option) {
    std::string message = concat({option, " needs ", definition ? definition->get_type_name() : "a value"});
    if (!got_option.empty())
        message += concat({", not the option ", shown(got_option)});
    // The usual way to get here: "-p $(pidof x)" while x is not running.
    if (definition != nullptr && definition->check_sname("p"))
        message += "; if you wrote -p $(pidof NAME), no NAME is running";
    return message;
}

void reject_option_as_value(const CLI::App& command, std::string_view option, std::string_view value) {
    if (is_option_of(command, value))
        throw UsageError(needs_value_message(option, command.get_option_no_throw(std::string(option)), value));
}

// Options that take one value. A second one is more likely a mistake (two -c
// hoping for "either") than an override, so it is refused.
const std::string* single_value(std::string_view option, const std::vector<std::string>& values) {
    if (values.size() > 1)
        throw UsageError(concat({option, " given more than once (", shown(values[0]), ", ", shown(values[1]),
                                 "); it takes one value"}));
    return values.empty() ? nullptr : &values.front();
}

std::optional<std::uint64_t> parse_decimal(std::string_view text) {
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc{} || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

std::optional<std::uint32_t> parse_pid(std::string_view text) {
    const auto number = parse_decimal(text);
    if (!number || *number < 1 || *number > kMaxPid)
        return std::nullopt;
    return static_cast<std::uint32_t>(*number);
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    const auto number = parse_decimal(text);
    if (!number || *number < 1 || *number > 65535)
        return std::nullopt;
    return static_cast<std::uint16_t>(*number);
}

std::vector<std::string_view> split_commas(std::string_view text) {
    std::vector<std::string_view> items;
    for (std::size_t comma; (comma = text.find(',')) != std::string_view::npos; text.remove_prefix(comma + 1))
        items.push_back(text.substr(0, comma));
    items.push_back(text);
    return items;
}

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
                                       const std::vector<std::string>& values) {
    const std::string* text = single_value(option, values);
    if (text == nullptr)
        return std::nullopt;
    reject_option_as_value(command, option, *text);
    const auto parsed = parse_duration_or_error(*text);
    if (const DurationError* error = std::get_if<DurationError>(&parsed))
        throw UsageError(concat({option, " ", shown(*text), ": ", describe_duration_error(*error)}));
    return std::get<Duration>(parsed);
}

std::optional<std::string> comm_value(const CLI::App& command, const std::vector<std::string>& values) {
    const std::string* comm = single_value("-c", values);
    if (comm == nullptr)
        return std::nullopt;
    reject_option_as_value(command, "-c", *comm);
    if (comm->empty())
        throw UsageError("-c '': empty; give a process name as shown by ps -o comm");
    if (comm->size() > kMaxCommBytes)
        throw UsageError(concat({"-c ", shown(*comm), ": longer than 15 bytes; the kernel truncates process names to ",
                                 "15, so it would never match (use -c ", shown(comm->substr(0, kMaxCommBytes)), ")"}));
    return *comm;
}

std::optional<std::string> file_value(const CLI::App& command, std::string_view option,
                                      const std::vector<std::string>& values) {
    const std::string* file = single_value(option, values);
    if (file == nullptr)
        return std::nullopt;
    reject_option_as_value(command, option, *file);
    if (file->empty())
        throw UsageError(concat({option, " '': empty file name"}));
    return *file;
}

int exit_code_value(const CLI::App& command, std::string_view option, const std::vector<std::string>& values,
                    int fallback) {
    const std::string* text = single_value(option, values);
    if (text == nullptr)
        return fallback;
    reject_option_as_value(command, option, *text);
    const auto number = parse_decimal(*text);
    if (!number || *number > 255)
        throw UsageError(concat({option, " ", shown(*text), ": not ", kExitCodeNoun}));
    return static_cast<int>(*number);
}

// ---------------------------------------------------------------------------
// Defining the options

CLI::Option* add_value_option(CLI::App& command, const std::string& names, std::vector<std::string>& into,
                              const std::string& value_label, std::string_view noun, const std::string& description) {
    return command.add_option(names, into, description)
        ->option_text(value_label)
        ->type_name(std::string(noun))
        ->allow_extra_args(false); // one value per occurrence; a second is an error
}

// Several values per occurrence: "-p $(pidof nginx)" expands to "-p 12 34".
CLI::Option* add_list_option(CLI::App& command, const std::string& names, std::vector<std::string>& into,
                             const std::string& value_label, std::string_view noun, const std::string& description) {
    return add_value_option(command, names, into, value_label, noun, description)->allow_extra_args(true);
}

// Counted: -vv is more than -v.
void add_verbose_flag(CLI::App& command, int& verbose) {
    command.add_flag("-v,--verbose", verbose, "More detail; repeat for even more (-vv)");
}

// Options shared by trace and leaks: which processes (first in their help),
// then how to print, how long, how verbose (last).
struct ProcessFilterArgs {
    std::vector<std::string> pids;
    std::vector<std::string> comm;
};

void add_process_filters(CLI::App& command, ProcessFilterArgs& args, std::string_view whose) {
    add_list_option(command, "-p,--pid", args.pids, "PID...", kPidNoun,
                    concat({"Only sockets ", whose, " these processes;\nrepeat or use commas: -p 1,2"}));
    add_value_option(command, "-c,--comm", args.comm, "COMM", kCommNoun,
                     concat({"Only sockets ", whose, " processes named\nCOMM (exact, at most 15 bytes)"}));
}

void add_output_options(CLI::App& command, bool& json, std::vector<std::string>& duration, int& verbose) {
    command.add_flag("--json", json, "One JSON object per line instead of text");
    add_value_option(command, "--duration", duration, "DUR", kDurationNoun, "Stop after DUR [default: until Ctrl-C]");
    add_verbose_flag(command, verbose);
}

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

void define_trace(CLI::App& command, TraceArgs& args) {
    add_process_filters(command, args.processes, "owned by");
    add_list_option(command, "--port", args.ports, "N...", kPortNoun,
                    "Only connections with local or remote port N;\nrepeat or use commas: --port 80,443");
    command.add_flag("-4,--ipv4", args.ipv4, "Only IPv4 sockets");
    command.add_flag("-6,--ipv6", args.ipv6, "Only IPv6 sockets");
    add_list_option(command, "--state", args.states, "NAME...", kStateNoun,
                    "Only changes into or out of state NAME,\ne.g. CLOSE_WAIT; repeat or use commas");
    add_output_options(command, args.json, args.duration, args.verbose);
}

void add_closing_states_option(CLI::App& command, std::vector<std::string>& states) {
    add_list_option(command, "--state", states, "NAME...", kClosingStateNoun,
                    "Watch sockets stuck in state NAME: CLOSE_WAIT,\nFIN_WAIT1, FIN_WAIT2, LAST_ACK, CLOSING, or\n"
                    "'closing' (lower case) for all; repeat or\nuse commas [default: CLOSE_WAIT]");
}

void define_leaks(CLI::App& command, LeaksArgs& args) {
    const LeaksOptions defaults;
    add_process_filters(command, args.processes, "held by");
    add_closing_states_option(command, args.states);
    add_value_option(command, "--threshold", args.threshold, "DUR", kDurationNoun,
                     "Report a socket once it has been in its\nstate for DUR" + default_note(defaults.threshold));
    add_value_option(command, "--interval", args.interval, "DUR", kDurationNoun,
                     "Refresh the text report every DUR" + default_note(defaults.interval));
    add_output_options(command, args.json, args.duration, args.verbose);
}

void define_agent(CLI::App& command, AgentArgs& args) {
    const AgentOptions defaults;
    add_value_option(command, "--listen", args.listen, "ADDR:PORT", "an address and port (e.g. 127.0.0.1:9464)",
                     "Serve /metrics and /healthz there\n[default: " + defaults.listen + "]");
    add_value_option(command, "--threshold", args.threshold, "DUR", kDurationNoun,
                     "A socket counts as leaked after DUR in\nCLOSE_WAIT" + default_note(defaults.threshold));
    add_value_option(command, "--interval", args.interval, "DUR", kDurationNoun,
                     "Take the census and write --textfile every\nDUR" + default_note(defaults.interval));
    command.add_flag("--json", args.json, "NDJSON leak records on standard output");
    add_value_option(command, "--textfile", args.textfile, "PATH", kFileNoun,
                     "Also write the metrics to PATH (atomically)\nevery --interval");
    add_value_option(command, "--pods-dir", args.pods_dir, "DIR", kFileNoun,
                     "The kubelet's pod log directories, for pod\nnames [default: " + defaults.pods_dir + "]");
    command.add_flag("--exact", args.exact, "Hook close()/dup() for exact verdicts\n(costs every syscall of the machine)");
    command.add_flag("--metrics-pid", args.metrics_pid, "Add a pid label to per-process metrics\n(more series)");
    add_process_filters(command, args.processes, "held by");
    add_verbose_flag(command, args.verbose);
}

void define_run(CLI::App& command, RunArgs& args) {
    const RunOptions defaults;
    add_closing_states_option(command, args.states);
    add_value_option(command, "--threshold", args.threshold, "DUR", kDurationNoun,
                     "A socket counts as leaked after DUR in its\nstate" + default_note(defaults.threshold));
    add_value_option(command, "--json-report", args.json_report, "FILE", kFileNoun, "Also write the report to FILE as JSON");
    add_value_option(command, "--junit", args.junit, "FILE", kFileNoun, "Also write the report to FILE as JUnit XML");
    add_value_option(command, "--leak-exit-code", args.leak_exit_code, "N", kExitCodeNoun,
                     "Exit with N (1-255) when a leak is found; 0:\nreport leaks, exit with COMMAND's status\n[default: " +
                         std::to_string(defaults.leak_exit_code) + "]");
    add_value_option(command, "--incomplete-exit-code", args.incomplete_exit_code, "N", kExitCodeNoun,
                     "Exit with N when no leak was found but\ntcpleak could not watch everything (events\nlost "
                     "too long); 0: only warn [default: " +
                         std::to_string(defaults.incomplete_exit_code) + "]");
    command.add_flag("-q,--quiet", args.quiet, "Print the report only if a leak is found");
    add_verbose_flag(command, args.verbose);
    // Any number of words; the first one ends option parsing (positionals_at_end).
    args.command = command.add_option("COMMAND")->expected(1, CLI::detail::expected_max_vector_size)->allow_extra_args();
    command.positionals_at_end();
}

// ---------------------------------------------------------------------------
// Checking the collected text and building the option structs

FamilyFilter family_value(const TraceArgs& args) {
    if (args.ipv4 && args.ipv6)
        throw UsageError("-4 and -6 exclude each other; leave both out to see IPv4 and IPv6");
    if (args.ipv4)
        return FamilyFilter::Ipv4;
    return args.ipv6 ? FamilyFilter::Ipv6 : FamilyFilter::Any;
}

TraceOptions trace_options(const CLI::App& command, const TraceArgs& args) {
    TraceOptions options;
    options.pids = list_values(command, "-p", args.processes.pids, parse_pid);
    options.comm = comm_value(command, args.processes.comm);
    options.ports = list_values(command, "--port", args.ports, parse_port);
    options.family = family_value(args);
    options.states = list_values(command, "--state", args.states, parse_tcp_state);
    options.json = args.json;
    options.duration = duration_value(command, "--duration", args.duration);
    options.verbose = args.verbose;
    return options;
}

// "closing", in lower case, stands for all of them (CLOSING in any other
// case is the state); any other name must be one of them.
std::optional<std::uint32_t> parse_closing_states(std::string_view text) {
    std::uint32_t all = 0;
    for (const std::string_view name : kClosingStateNames)
        all |= 1U << *parse_tcp_state(name);
    if (text == "closing")
        return all;
    const std::optional<std::uint8_t> state = parse_tcp_state(text);
    if (!state || ((all >> *state) & 1) == 0)
        return std::nullopt;
    return 1U << *state;
}

std::uint32_t closing_states_value(const CLI::App& command, const std::vector<std::string>& words) {
    std::uint32_t states = 0;
    for (const std::uint32_t bits : list_values(command, "--state", words, parse_closing_states))
        states |= bits;
    return states != 0 ? states : 1U << kTcpCloseWait;
}

LeaksOptions leaks_options(const CLI::App& command, const LeaksArgs& args) {
    LeaksOptions options;
    options.states = closing_states_value(command, args.states);
    options.pids = list_values(command, "-p", args.processes.pids, parse_pid);
    options.comm = comm_value(command, args.processes.comm);
    options.threshold = duration_value(command, "--threshold", args.threshold).value_or(options.threshold);
    options.interval = duration_value(command, "--interval", args.interval).value_or(options.interval);
    options.json = args.json;
    options.duration = duration_value(command, "--duration", args.duration);
    options.verbose = args.verbose;
    return options;
}

RunOptions run_options(const CLI::App& command, const RunArgs& args) {
    RunOptions options;
    options.states = closing_states_value(command, args.states);
    options.threshold = duration_value(command, "--threshold", args.threshold).value_or(options.threshold);
    options.json_report = file_value(command, "--json-report", args.json_report);
    options.junit = file_value(command, "--junit", args.junit);
    if (options.json_report && options.junit && *options.json_report == *options.junit)
        throw UsageError("--json-report and --junit name the same file: " + shown(*options.junit));
    options.leak_exit_code = exit_code_value(command, "--leak-exit-code", args.leak_exit_code, options.leak_exit_code);
    options.incomplete_exit_code = exit_code_value(command, "--incomplete-exit-code", args.incomplete_exit_code,
                                                   options.incomplete_exit_code);
    options.quiet = args.quiet;
    options.verbose = args.verbose;
    if (args.command_words.empty())
        throw UsageError("no COMMAND to run; put it after '--', e.g. tcpleak run -- ./soak-test.sh");
    options.command = args.command_words;
    return options;
}

AgentOptions agent_options(const CLI::App& command, const AgentArgs& args) {
    AgentOptions options;
    if (const std::string* listen = single_value("--listen", args.listen)) {
        reject_option_as_value(command, "--listen", *listen);
        try {
            options.listen = http::parse_listen_address(*listen).to_string();
        } catch (const std::invalid_argument& error) {
            throw UsageError(concat({"--listen: ", error.what()}));
        }
    }
    options.threshold = duration_value(command, "--threshold", args.threshold).value_or(options.threshold);
    options.interval = duration_value(command, "--interval", args.interval).value_or(options.interval);
    options.json = args.json;
    options.textfile = file_value(command, "--textfile", args.textfile);
    options.pods_dir = file_value(command, "--pods-dir", args.pods_dir).value_or(options.pods_dir);
    options.exact = args.exact;
    options.metrics_pid = args.metrics_pid;
    options.pids = list_values(command, "-p", args.processes.pids, parse_pid);
    options.comm = comm_value(command, args.processes.comm);
    options.verbose = args.verbose;
    return options;
}

// ---------------------------------------------------------------------------
// tcpleak top: its help, options and checks together

CommandHelp top_help() {
    return {
        "top",
        "tcpleak top [--interval DUR] [--by process|container] [-p PID]... [-c COMM]\n"
        "                     [--count N] [--json] [-v]",
        "Show every process's TCP sockets per state, live, like top.",
        "Every --interval, a census of the kernel's socket table (TIME_WAIT and\n"
        "connection requests included) joined with the processes' descriptors.\n"
        "Columns: SYN_S(ENT) SYN_R(ECV) ESTAB(LISHED) C_WAIT (CLOSE_WAIT) FIN_W1\n"
        "FIN_W2 L_ACK (LAST_ACK) CLOSNG (CLOSING) T_WAIT (TIME_WAIT), TOTAL (with\n"
        "LISTEN); NEW/s: new\n"
        "connections per second; CW/MIN: CLOSE_WAIT growth per minute over the last\n"
        "minute; OLDEST_CW: age of the oldest CLOSE_WAIT, at least (from the last\n"
        "segment the socket received). Growing CLOSE_WAIT sorts first.\n"
        "Sockets no process holds (orphans, TIME_WAIT, requests, unaccepted) have\n"
        "rows of their own per network namespace, with the sysctls that limit them.\n"
        "On a terminal the screen is redrawn; otherwise one table per census.\n" +
            kDurationNote +
            "\n"
            "\n"
            "Examples:\n"
            "  sudo tcpleak top\n"
            "      every process with sockets, refreshed every 2s\n"
            "  sudo tcpleak top --by container --interval 5s\n"
            "      per container (cgroup), every 5 seconds\n"
            "  sudo tcpleak top --json --count 30 > census.ndjson\n"
            "      a minute of censuses, one JSON object per line\n"
            "\n"
            "Exit status:\n"
            "  0  stopped by Ctrl-C, SIGTERM or after --count censuses\n"
            "  1  error (e.g. not root)\n"
            "  2  usage error",
    };
}

struct TopArgs {
    ProcessFilterArgs processes;
    std::vector<std::string> interval;
    std::vector<std::string> by;
    std::vector<std::string> count;
    bool json = false;
    int verbose = 0;
};

void define_top(CLI::App& command, TopArgs& args) {
    const TopOptions defaults;
    add_value_option(command, "--interval", args.interval, "DUR", kDurationNoun,
                     "One census every DUR" + default_note(defaults.interval));
    add_value_option(command, "--by", args.by, "WHAT", kGroupingNoun,
                     "A row per process, or per container\n(cgroup) [default: process]");
    add_process_filters(command, args.processes, "held by");
    add_value_option(command, "--count", args.count, "N", "a number of censuses (1 or more)",
                     "Stop after N censuses [default: until Ctrl-C]");
    command.add_flag("--json", args.json, "One JSON census per line instead of a table");
    add_verbose_flag(command, args.verbose);
}

bool by_container_value(const CLI::App& command, const std::vector<std::string>& values) {
    const std::string* by = single_value("--by", values);
    if (by == nullptr || *by == kGroupingNames[0])
        return false;
    reject_option_as_value(command, "--by", *by);
    if (*by != kGroupingNames[1])
        throw UsageError(concat({"--by ", shown(*by), ": not ", kGroupingNoun}));
    return true;
}

std::optional<std::uint64_t> count_value(const CLI::App& command, const std::vector<std::string>& values) {
    const std::string* text = single_value("--count", values);
    if (text == nullptr)
        return std::nullopt;
    reject_option_as_value(command, "--count", *text);
    const auto number = parse_decimal(*text);
    if (!number || *number == 0)
        throw UsageError(concat({"--count ", shown(*text), ": not a number of censuses (1 or more)"}));
    return number;
}

TopOptions top_options(const CLI::App& command, const TopArgs& args) {
    TopOptions options;
    options.interval = duration_value(command, "--interval", args.interval).value_or(options.interval);
    options.by_container = by_container_value(command, args.by);
    options.pids = list_values(command, "-p", args.processes.pids, parse_pid);
    options.comm = comm_value(command, args.processes.comm);
    options.count = count_value(command, args.count);
    options.json = args.json;
    options.verbose = args.verbose;
    return options;
}

// ---------------------------------------------------------------------------
// Translating CLI11's errors into one line

// The first word CLI11 could not place, skipping the "--" it keeps there.
std::string first_leftover(const CLI::App& root) {
    for (const std::string& word : root.remaining(true))
        if (word != "--")
            return word;
    return {};
}

std::string unknown_option_message(const CLI::App& root, const CLI::App& command, const std::string& word) {
    std::string owners;
    for (const CLI::App* other : root.get_subcommands({}))
        if (other != &command && is_option_of(*other, word))
            owners += (owners.empty() ? "" : ", ") + other->get_name();
    if (owners.empty())
        return concat({shown(word), ": unknown option"});
    return concat({shown(word), ": not an option of ", command.get_name(), " (only of ", owners, ")"});
}

std::string leftover_message(const CLI::App& root, const CLI::App& command) {
    const std::string word = first_leftover(root);
    if (word.size() > 1 && word.front() == '-')
        return unknown_option_message(root, command, word);
    return concat({"unexpected argument ", quoted_word(word), "; ", command.get_name(), " takes only options"});
}

// CLI11 takes the next word as a value whatever it looks like, so a value is
// only missing when the option was the last word.
std::string missing_value_message(const CLI::App& command, std::string_view last_word) {
    const std::string name(last_word.substr(0, last_word.find('=')));
    return needs_value_message(shown(last_word), command.get_option_no_throw(name), "");
}

// "--json=x": CLI11 says "Could not convert: --json = x".
std::string flag_value_message(const CLI::App& command, int argc, const char* const* argv) {
    for (int i = 2; i < argc; ++i) {
        const std::string_view word = argv[i];
        if (word == "--")
            break;
        const std::size_t equals = word.find('=');
        if (equals == std::string_view::npos || !word.starts_with("--"))
            continue;
        const std::string name(word.substr(0, equals));
        const CLI::Option* option = command.get_option_no_throw(name);
        if (option != nullptr && option->get_expected_max() == 0) // a flag
            return concat({shown(word), ": ", name, " takes no value"});
    }
    return {};
}

std::string first_line(std::string_view text) { return std::string(text.substr(0, text.find('\n'))); }

// ---------------------------------------------------------------------------

class CommandLine {
public:
    CommandLine() {
        const CommandHelp help = root_help();
        root_.description(help.summary);
        root_.footer(help.footer);
        formatter_->set_usage(help.name, help.usage);
        root_.formatter(formatter_);
        root_.set_help_flag("-h,--help", "Show this help and exit");
        root_.set_version_flag("--version", version_line(), "Show the version and exit");
        root_.require_subcommand(1);

        trace_ = add_command(trace_help());
        define_trace(*trace_, trace_args_);
        leaks_ = add_command(leaks_help());
        define_leaks(*leaks_, leaks_args_);
        run_ = add_command(run_help());
        define_run(*run_, run_args_);
        top_ = add_command(top_help());
        define_top(*top_, top_args_);
        agent_ = add_command(agent_help());
        define_agent(*agent_, agent_args_);
    }

    CommandLine(const CommandLine&) = delete; // CLI11 holds pointers into the *_args_ members
    CommandLine& operator=(const CommandLine&) = delete;
    const CLI::App& app() const { return root_; } // for describe_command_line

    ParseResult parse(int argc, const char* const* argv) {
        if (argc < 2)
            return usage_error("", concat({"missing command (", kCommandList, ")"}));
        const std::string first = argv[1];
        // CLI11 answers --version whatever follows; "tcpleak --version extra"
        // is more likely a mistake than a question.
        if (first == "--version" && argc > 2)
            return usage_error("", concat({"--version takes no arguments (got ", shown(argv[2]), ")"}));
        CLI::App* command = find_command(first);
        if (command == nullptr && first != "-h" && first != "--help" && first != "--version")
            return usage_error("", root_error_message(first));
        return parse_with_cli11(argc, argv, command);
    }

private:
    CLI::App* add_command(const CommandHelp& help) {
        CLI::App* command = root_.add_subcommand(help.name, help.summary);
        command->footer(help.footer);
        formatter_->set_usage(help.name, help.usage);
        return command;
    }

    CLI::App* find_command(std::string_view name) {
        for (CLI::App* command : root_.get_subcommands([](CLI::App*) { return true; }))
            if (command->get_name() == name)
                return command;
        return nullptr;
    }

    ParseResult parse_with_cli11(int argc, const char* const* argv, CLI::App* command) {
        const std::string name = command == nullptr ? "" : command->get_name();
        try {
            root_.parse(argc, argv);
        } catch (const CLI::CallForHelp&) {
            return {std::nullopt, 0, command == nullptr ? root_.help() : command->help()};
        } catch (const CLI::CallForVersion& version) {
            return {std::nullopt, 0, concat({version.what(), "\n"})};
        } catch (const CLI::ExtrasError&) {
            return usage_error(name, command == nullptr ? concat({shown(first_leftover(root_)), ": unexpected argument"})
                                                        : leftover_message(root_, *command));
        } catch (const CLI::ArgumentMismatch& error) {
            return usage_error(name, command == nullptr ? first_line(error.what())
                                                        : missing_value_message(*command, argv[argc - 1]));
        } catch (const CLI::ConversionError& error) {
            const std::string message = command == nullptr ? std::string() : flag_value_message(*command, argc, argv);
            return usage_error(name, message.empty() ? first_line(error.what()) : message);
        } catch (const CLI::ParseError& error) {
            return usage_error(name, first_line(error.what()));
        }
        if (command == run_)
            run_args_.command_words = command_words(argc, argv);
        try {
            return {options_for(*command), 0, {}};
        } catch (const UsageError& error) {
            return usage_error(name, error.what());
        }
    }

    // CLI11 rewrites "[a,b]"-shaped words as it stores them, so COMMAND comes
    // from argv: with positionals_at_end it is always argv's tail, and
    // parse_order() lists the COMMAND option once per word.
    std::vector<std::string> command_words(int argc, const char* const* argv) const {
        const auto& order = run_->parse_order();
        const auto count = std::count(order.begin(), order.end(), run_args_.command);
        return {argv + argc - count, argv + argc};
    }

    CommandOptions options_for(const CLI::App& command) const {
        if (&command == trace_)
            return trace_options(command, trace_args_);
        if (&command == leaks_)
            return leaks_options(command, leaks_args_);
        if (&command == top_)
            return top_options(command, top_args_);
        if (&command == agent_)
            return agent_options(command, agent_args_);
        return run_options(command, run_args_);
    }

    std::string root_error_message(const std::string& first) const {
        if (first.size() > 1 && first.front() == '-') {
            for (const CLI::App* command : root_.get_subcommands({}))
                if (is_option_of(*command, first))
                    return concat({"missing command before ", shown(first), " (", kCommandList, ")"});
            return concat({shown(first), ": unknown option"});
        }
        return concat({"unknown command ", quoted_word(first), " (expected ", kCommandList, ")"});
    }

    static ParseResult usage_error(std::string_view command, std::string_view message) {
        const std::string prefix = command.empty() ? std::string(kProgram) : concat({kProgram, " ", command});
        return {std::nullopt, kExitUsage, concat({prefix, ": ", printable_line(message), "\n", run_help_hint(command)})};
    }

    std::shared_ptr<HelpFormatter> formatter_ = std::make_shared<HelpFormatter>();
    CLI::App root_{"", std::string(kProgram)};
    CLI::App* trace_ = nullptr;
    CLI::App* leaks_ = nullptr;
    CLI::App* run_ = nullptr;
    CLI::App* top_ = nullptr;
    TraceArgs trace_args_;
    LeaksArgs leaks_args_;
    RunArgs run_args_;
    TopArgs top_args_;
    CLI::App* agent_ = nullptr;
    AgentArgs agent_args_;
};

} // namespace

ParseResult parse_command_line(int argc, const char* const* argv) {
    try {
        CommandLine command_line;
        return command_line.parse(argc, argv);
    } catch (const std::exception& error) {
        // A bug in the option definitions, not the user's fault; still no throw.
        return {std::nullopt, kExitUsage, concat({kProgram, ": cannot parse the command line: ", error.what(), "\n"})};
    }
}

// ---------------------------------------------------------------------------
// The command line as data (describe_command_line), walked from CLI11's own
// definition: whatever commands and options exist are described.

namespace {

ValueKind value_kind(const CLI::Option& option) {
    if (option.get_positional())
        return ValueKind::Command;
    if (option.get_expected_max() == 0)
        return ValueKind::None;
    const std::string& noun = option.get_type_name();
    const std::pair<std::string_view, ValueKind> kinds[] = {
        {kPidNoun, ValueKind::Pid},         {kCommNoun, ValueKind::ProcessName}, {kPortNoun, ValueKind::Port},
        {kStateNoun, ValueKind::TcpState},  {kDurationNoun, ValueKind::Duration}, {kFileNoun, ValueKind::File},
        {kExitCodeNoun, ValueKind::ExitCode}, {kClosingStateNoun, ValueKind::TcpState},
    };
    for (const auto& [known, kind] : kinds)
        if (noun == known)
            return kind;
    return ValueKind::Other;
}

OptionDescription describe_option(const CLI::Option& option) {
    OptionDescription described;
    described.short_names = option.get_snames();
    described.long_names = option.get_lnames();
    if (option.get_positional())
        described.positional = option.get_name();
    described.description = option.get_description();
    described.kind = value_kind(option);
    if (described.kind != ValueKind::None && described.kind != ValueKind::Command)
        described.value_name = option.get_option_text();
    if (option.get_type_name() == kClosingStateNoun) {
        described.values.assign(kClosingStateNames.begin(), kClosingStateNames.end());
        described.values.emplace_back("closing");
    } else if (option.get_type_name() == kGroupingNoun) {
        described.values.assign(kGroupingNames.begin(), kGroupingNames.end());
    } else if (described.kind == ValueKind::TcpState)
        for (int state = 1; state < 256; ++state)
            if (const std::string_view name = tcp_state_name(static_cast<std::uint8_t>(state)); !name.empty())
                described.values.emplace_back(name);
    described.repeatable = described.kind == ValueKind::None
                               ? option.get_multi_option_policy() == CLI::MultiOptionPolicy::TakeAll
                               : option.get_allow_extra_args();
    return described;
}

CommandDescription describe_app(const CLI::App& app) {
    CommandDescription described;
    described.name = app.get_name();
    described.summary = app.get_description();
    described.footer = app.get_footer();
    described.help = app.help();
    const std::string_view help = described.help;
    const std::size_t start = help.find(' ') + 1; // after "Usage: "
    described.usage = help.substr(start, help.find("\n\n") - start);
    for (const CLI::Option* option : app.get_options())
        described.options.push_back(describe_option(*option));
    for (const CLI::App* command : app.get_subcommands({}))
        described.commands.push_back(describe_app(*command));
    return described;
}

} // namespace

CommandDescription describe_command_line() {
    const CommandLine command_line;
    return describe_app(command_line.app());
}

} // namespace tcpleak
