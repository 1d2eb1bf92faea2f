// Each command's options: CLI11 definitions (define_trace...) and the option structs built from them (trace_options...).
#include "cli_internal.hpp"

#include "tcpleak/core/tcp_state.hpp"
#include "tcpleak/http/listen_address.hpp"

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tcpleak::cli_detail {

namespace {

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

void add_closing_states_option(CLI::App& command, std::vector<std::string>& states) {
    add_list_option(command, "--state", states, "NAME...", kClosingStateNoun,
                    "Watch sockets stuck in state NAME: CLOSE_WAIT,\nFIN_WAIT1, FIN_WAIT2, LAST_ACK, CLOSING, or\n"
                    "'closing' (lower case) for all; repeat or\nuse commas [default: CLOSE_WAIT]");
}

FamilyFilter family_value(const TraceArgs& args) {
    if (args.ipv4 && args.ipv6)
        throw UsageError("-4 and -6 exclude each other; leave both out to see IPv4 and IPv6");
    if (args.ipv4)
        return FamilyFilter::Ipv4;
    return args.ipv6 ? FamilyFilter::Ipv6 : FamilyFilter::Any;
}

} // namespace

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

namespace {

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

} // namespace

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

} // namespace tcpleak::cli_detail
