#include "cli_support.hpp"
#include "tcpleak/cli/cli.hpp"
#include "tcpleak/cli/version.hpp"
#include "tcpleak/core/tcp_state.hpp"
#include "tcpleak/core/utf8.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

using namespace tcpleak;
using namespace tcpleak::testing;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> lines_of(std::string_view text) {
    std::vector<std::string> lines;
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        lines.emplace_back(text.substr(0, end));
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    }
    return lines;
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// One CHECK per part that text must contain.
void check_contains(std::string_view text, std::initializer_list<std::string_view> parts) {
    for (const std::string_view part : parts) {
        INFO("expected: " << part);
        CHECK(contains(text, part));
    }
}

// A usage error is exit 2 and exactly two lines: what is wrong, where to look.
std::string usage_error(std::initializer_list<const char*> words, std::string_view command = "trace") {
    const ParseResult result = parse(words);
    INFO("message: " << result.message);
    REQUIRE_FALSE(result.options);
    CHECK(result.exit_code == 2);
    REQUIRE(!result.message.empty());
    CHECK(result.message.back() == '\n');
    const std::vector<std::string> lines = lines_of(result.message);
    REQUIRE(lines.size() == 2);
    const std::string prefix = command.empty() ? "tcpleak: " : "tcpleak " + std::string(command) + ": ";
    CHECK(lines[0].starts_with(prefix));
    const std::string help_command = command.empty() ? "tcpleak" : "tcpleak " + std::string(command);
    CHECK(lines[1] == "Run '" + help_command + " --help' for usage.");
    return lines[0].substr(prefix.size());
}

std::string help_of(std::initializer_list<const char*> words) {
    const ParseResult result = parse(words);
    REQUIRE_FALSE(result.options);
    CHECK(result.exit_code == 0);
    CHECK(result.message.back() == '\n');
    return result.message;
}

} // namespace

// --- trace -----------------------------------------------------------------

TEST_CASE("trace with no options traces everything, forever") {
    const auto options = parsed_as<TraceOptions>({"trace"});
    CHECK(options.pids.empty());
    CHECK_FALSE(options.comm);
    CHECK(options.ports.empty());
    CHECK(options.family == FamilyFilter::Any);
    CHECK(options.states.empty());
    CHECK_FALSE(options.json);
    CHECK_FALSE(options.duration);
    CHECK(options.verbose == 0);
}

TEST_CASE("trace fills every option") {
    const auto options = parsed_as<TraceOptions>(
        {"trace", "-p", "42", "-c", "nginx", "--port", "8080", "-4", "--state", "CLOSE_WAIT", "--json", "--duration",
         "30s", "-v"});
    CHECK(options.pids == std::vector<std::uint32_t>{42});
    CHECK(options.comm == "nginx");
    CHECK(options.ports == std::vector<std::uint16_t>{8080});
    CHECK(options.family == FamilyFilter::Ipv4);
    CHECK(options.states == std::vector<std::uint8_t>{kTcpCloseWait});
    CHECK(options.json);
    CHECK(options.duration == Duration(30s));
    CHECK(options.verbose == 1);
}

TEST_CASE("trace accepts long names and attached values") {
    const auto options = parsed_as<TraceOptions>(
        {"trace", "--pid=7", "--comm", "java", "--port=443", "--ipv6", "--state=listen", "--duration=1.5", "--verbose"});
    CHECK(options.pids == std::vector<std::uint32_t>{7});
    CHECK(options.comm == "java");
    CHECK(options.ports == std::vector<std::uint16_t>{443});
    CHECK(options.family == FamilyFilter::Ipv6);
    CHECK(options.states == std::vector<std::uint8_t>{kTcpListen});
    CHECK(options.duration == Duration(1500ms));
    CHECK(options.verbose == 1);
    CHECK(parsed_as<TraceOptions>({"trace", "-p9"}).pids == std::vector<std::uint32_t>{9});
}

TEST_CASE("-p repeats, takes comma lists, and takes several PIDs like $(pidof nginx) gives") {
    CHECK(parsed_as<TraceOptions>({"trace", "-p", "1", "-p", "2"}).pids == std::vector<std::uint32_t>{1, 2});
    CHECK(parsed_as<TraceOptions>({"trace", "-p", "1,2", "-p", "3"}).pids == std::vector<std::uint32_t>{1, 2, 3});
    CHECK(parsed_as<TraceOptions>({"trace", "-p", "10", "11", "12", "--json"}).pids ==
          std::vector<std::uint32_t>{10, 11, 12});
    CHECK(parsed_as<TraceOptions>({"trace", "-p", "4194304"}).pids == std::vector<std::uint32_t>{4194304});
}

TEST_CASE("--port and --state repeat and take comma lists") {
    const auto options =
        parsed_as<TraceOptions>({"trace", "--port", "80,443", "--port", "22", "--state", "close-wait,LAST_ACK",
                                 "--state", "Fin_Wait2", "--state", "1"});
    CHECK(options.ports == std::vector<std::uint16_t>{80, 443, 22});
    CHECK(options.states == std::vector<std::uint8_t>{kTcpCloseWait, kTcpLastAck, kTcpFinWait2, kTcpEstablished});
    CHECK(parsed_as<TraceOptions>({"trace", "--port", "1", "--port", "65535"}).ports ==
          std::vector<std::uint16_t>{1, 65535});
}

TEST_CASE("-v counts") {
    CHECK(parsed_as<TraceOptions>({"trace", "-v", "-v"}).verbose == 2);
    CHECK(parsed_as<TraceOptions>({"trace", "-vvv"}).verbose == 3);
    CHECK(parsed_as<LeaksOptions>({"leaks", "-vv"}).verbose == 2);
    CHECK(parsed_as<RunOptions>({"run", "-v", "--", "true"}).verbose == 1);
}

TEST_CASE("-c takes up to 15 bytes, what the kernel keeps") {
    CHECK(parsed_as<TraceOptions>({"trace", "-c", "exactly15bytes_"}).comm == "exactly15bytes_");
    CHECK(usage_error({"trace", "-c", "averyveryverylongname"}) ==
          "-c averyveryverylongname: longer than 15 bytes; the kernel truncates process names to 15, "
          "so it would never match (use -c averyveryverylo)");
    CHECK(usage_error({"trace", "-c", ""}).starts_with("-c '': empty"));
}

TEST_CASE("the -c hint is the 15 bytes the kernel keeps, never a split character on screen") {
    // The kernel cuts "ééééééééé" (18 bytes) inside the 8th é: its comm is
    // seven é and the byte 0xc3. The hint gives exactly that, escaped.
    CHECK(usage_error({"trace", "-c", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"}) ==
          "-c \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9: longer than 15 bytes; the kernel "
          "truncates process names to 15, so it would never match (use -c $'\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
          "\xc3\xa9\\xc3')");
    // Cut between characters: nothing to escape.
    CHECK(usage_error({"trace", "-c", "abc\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xacx"}).ends_with(
        "(use -c abc\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac)"));
}

TEST_CASE("values are echoed as one printable line, quoted as they would be retyped") {
    CHECK(usage_error({"trace", "-p", "1\n2"}) == "-p $'1\\n2': not a process ID (1-4194304)");
    CHECK(usage_error({"trace", "-p", "1,\n"}) == "-p $'1,\\n': $'\\n' is not a process ID (1-4194304)");
    CHECK(usage_error({"trace", "-p", "1,x"}) == "-p 1,x: 'x' is not a process ID (1-4194304)");
    CHECK(usage_error({"trace", "--state", "a\x1b[31mb\x07"}).starts_with("--state $'a\\e[31mb\\x07': not a TCP state"));
    CHECK(usage_error({"trace", "-p", "it's"}) == "-p $'it\\'s': not a process ID (1-4194304)");
    CHECK(usage_error({"trace", "-p", "a\\b c"}) == "-p 'a\\b c': not a process ID (1-4194304)");
    CHECK(usage_error({"trace", "-p", "tab\there"}) == "-p $'tab\\there': not a process ID (1-4194304)");
    // Bidi controls and C1 controls as \u escapes, broken UTF-8 as \x.
    CHECK(usage_error({"trace", "-p", "\xe2\x80\xae" "123"}) == "-p $'\\u202e123': not a process ID (1-4194304)");
    CHECK(usage_error({"trace", "-p", "\xc2\x9b" "2J"}) == "-p $'\\u009b2J': not a process ID (1-4194304)");
    CHECK(usage_error({"trace", "-p", "caf\xc3"}) == "-p $'caf\\xc3': not a process ID (1-4194304)");
    CHECK(usage_error({"trace", "-p", "caf\xc3\xa9"}) == "-p caf\xc3\xa9: not a process ID (1-4194304)");
    // Words CLI11 could not place, and option names, go the same way.
    CHECK(usage_error({"trace", "foo\nbar"}) == "unexpected argument $'foo\\nbar'; trace takes only options");
    CHECK(usage_error({"trace", "--fo\no"}) == "$'--fo\\no': unknown option");
    CHECK(usage_error({"trace", "--frob=a\nb"}) == "$'--frob=a\\nb': unknown option");
    CHECK(usage_error({"fo\no"}, "") == "unknown command $'fo\\no' (expected trace, leaks, run, top or agent)");
    CHECK(usage_error({"run", "--junit", "a\nb", "--junit", "c", "--", "x"}, "run") ==
          "--junit given more than once ($'a\\nb', c); it takes one value");
    CHECK(usage_error({"run", "--junit=x\n", "--json-report=x\n", "--", "x"}, "run") ==
          "--json-report and --junit name the same file: $'x\\n'");
    CHECK(usage_error({"leaks", "--threshold=\n"}, "leaks") ==
          "--threshold $'\\n': not a duration (use e.g. 500ms, 5s, 2m, 1h, or plain seconds)");
}

TEST_CASE("any byte in a value still gives a one-line, printable usage error") {
    for (int b = 0; b < 256; ++b) {
        for (const std::string prefix : {"", "1,", "\xe2\x80"}) {
            const std::string value = prefix + std::string(1, static_cast<char>(b)) + "x";
            CAPTURE(b);
            const ParseResult result = parse({"trace", "-p", value.c_str()});
            REQUIRE_FALSE(result.options);
            CHECK(result.exit_code == 2);
            const std::vector<std::string> lines = lines_of(result.message);
            REQUIRE(lines.size() == 2);
            for (char c : lines[0]) {
                const auto u = static_cast<unsigned char>(c);
                CHECK((u >= 0x20 && u != 0x7f));
            }
            // Valid UTF-8 without display controls.
            for (std::size_t i = 0; i < lines[0].size();) {
                const Utf8Sequence seq = next_utf8_sequence(std::string_view(lines[0]).substr(i));
                CHECK(seq.valid);
                CHECK_FALSE(is_display_control(seq.code_point));
                i += seq.length;
            }
        }
    }
}

TEST_CASE("a flag given a value says it takes none") {
    CHECK(usage_error({"trace", "--json=x"}) == "--json=x: --json takes no value");
}

TEST_CASE("trace refuses bad values, naming the option and the value") {
    CHECK(usage_error({"trace", "-p", "abc"}) == "-p abc: not a process ID (1-4194304)");
    CHECK(usage_error({"trace", "-p", "0"}) == "-p 0: not a process ID (1-4194304)");
    CHECK(usage_error({"trace", "-p", "-5"}) == "-p -5: not a process ID (1-4194304)");
    CHECK(usage_error({"trace", "-p", "4194305"}) == "-p 4194305: not a process ID (1-4194304)");
    CHECK(usage_error({"trace", "-p", "1,x"}) == "-p 1,x: 'x' is not a process ID (1-4194304)");
    CHECK(usage_error({"trace", "-p", "1,,2"}) == "-p 1,,2: empty item in the list");
    CHECK(usage_error({"trace", "--port", "70000"}) == "--port 70000: not a port (1-65535)");
    CHECK(usage_error({"trace", "--port", "0"}) == "--port 0: not a port (1-65535)");
    CHECK(usage_error({"trace", "--port", "http"}) == "--port http: not a port (1-65535)");
    CHECK(usage_error({"trace", "--duration", "-3"}) == "--duration -3: must be greater than zero");
    CHECK(usage_error({"trace", "--duration", "0"}) == "--duration 0: must be greater than zero");
    CHECK(usage_error({"trace", "--duration", "5x"}) ==
          "--duration 5x: not a duration (use e.g. 500ms, 5s, 2m, 1h, or plain seconds)");
    CHECK(usage_error({"trace", "--duration", "5 s"}).starts_with("--duration '5 s': not a duration"));
    CHECK(usage_error({"trace", "--state", "open"}) ==
          "--state open: not a TCP state (e.g. CLOSE_WAIT, ESTABLISHED, LAST_ACK)");
}

TEST_CASE("-4 and -6 exclude each other") {
    CHECK(usage_error({"trace", "-4", "-6"}) == "-4 and -6 exclude each other; leave both out to see IPv4 and IPv6");
    CHECK(parsed_as<TraceOptions>({"trace", "-6"}).family == FamilyFilter::Ipv6);
}

TEST_CASE("an option given without its value says which value it needs") {
    CHECK(usage_error({"trace", "--duration"}) == "--duration needs a duration (e.g. 500ms, 5s, 2m, 1h)");
    CHECK(usage_error({"trace", "--duration", "--json"}) ==
          "--duration needs a duration (e.g. 500ms, 5s, 2m, 1h), not the option --json");
    CHECK(usage_error({"trace", "--port", "--json"}) == "--port needs a port (1-65535), not the option --json");
}

TEST_CASE("an empty $(pidof NAME) gets a hint") {
    // "-p $(pidof nginx) --state CLOSE_WAIT" with nginx not running:
    CHECK(usage_error({"trace", "-p", "--state", "CLOSE_WAIT"}) ==
          "-p needs a process ID (1-4194304), not the option --state; "
          "if you wrote -p $(pidof NAME), no NAME is running");
    CHECK(usage_error({"trace", "-p"}) ==
          "-p needs a process ID (1-4194304); if you wrote -p $(pidof NAME), no NAME is running");
}

TEST_CASE("single-value options refuse a second value instead of guessing") {
    CHECK(usage_error({"trace", "-c", "a", "-c", "b"}) == "-c given more than once (a, b); it takes one value");
    CHECK(usage_error({"leaks", "--threshold", "5s", "--threshold", "10s"}, "leaks") ==
          "--threshold given more than once (5s, 10s); it takes one value");
}

TEST_CASE("unknown options and stray arguments are named") {
    CHECK(usage_error({"trace", "--frobnicate"}) == "--frobnicate: unknown option");
    CHECK(usage_error({"leaks", "--frobnicate"}, "leaks") == "--frobnicate: unknown option");
    CHECK(usage_error({"run", "--frobnicate", "--", "x"}, "run") == "--frobnicate: unknown option");
    CHECK(usage_error({"trace", "--threshold", "5s"}) == "--threshold: not an option of trace (only of leaks, run, agent)");
    CHECK(usage_error({"trace", "foo"}) == "unexpected argument 'foo'; trace takes only options");
    CHECK(usage_error({"trace", "--", "foo"}) == "unexpected argument 'foo'; trace takes only options");
    CHECK(usage_error({"trace", "leaks"}) == "unexpected argument 'leaks'; trace takes only options");
}

// --- leaks -----------------------------------------------------------------

TEST_CASE("leaks defaults: 5s threshold, 2s interval") {
    const auto options = parsed_as<LeaksOptions>({"leaks"});
    CHECK(options.pids.empty());
    CHECK_FALSE(options.comm);
    CHECK(options.threshold == Duration(5s));
    CHECK(options.interval == Duration(2s));
    CHECK_FALSE(options.json);
    CHECK_FALSE(options.duration);
    CHECK(options.verbose == 0);
}

TEST_CASE("leaks fills every option") {
    const auto options =
        parsed_as<LeaksOptions>({"leaks", "-p", "1,2", "-p", "3", "-c", "java", "--threshold", "30s", "--interval",
                                 "500ms", "--json", "--duration", "10m", "-v"});
    CHECK(options.pids == std::vector<std::uint32_t>{1, 2, 3});
    CHECK(options.comm == "java");
    CHECK(options.threshold == Duration(30s));
    CHECK(options.interval == Duration(500ms));
    CHECK(options.json);
    CHECK(options.duration == Duration(10min));
    CHECK(options.verbose == 1);
}

TEST_CASE("leaks refuses bad values") {
    CHECK(usage_error({"leaks", "--threshold", "0"}, "leaks") == "--threshold 0: must be greater than zero");
    CHECK(usage_error({"leaks", "--interval", "soon"}, "leaks").starts_with("--interval soon: not a duration"));
    CHECK(usage_error({"leaks", "-p", "abc"}, "leaks") == "-p abc: not a process ID (1-4194304)");
    CHECK(usage_error({"leaks", "--port", "80"}, "leaks") == "--port: not an option of leaks (only of trace)");
    CHECK(usage_error({"leaks", "-4"}, "leaks") == "-4: not an option of leaks (only of trace)");
}

// --- run -------------------------------------------------------------------

TEST_CASE("run defaults: 5s threshold, leak exit code 3, no reports") {
    const auto options = parsed_as<RunOptions>({"run", "--", "./soak-test.sh"});
    CHECK(options.threshold == Duration(5s));
    CHECK_FALSE(options.json_report);
    CHECK_FALSE(options.junit);
    CHECK(options.leak_exit_code == 3);
    CHECK_FALSE(options.quiet);
    CHECK(options.verbose == 0);
    CHECK(options.command == std::vector<std::string>{"./soak-test.sh"});
}

TEST_CASE("run fills every option") {
    const auto options =
        parsed_as<RunOptions>({"run", "--threshold", "1m", "--json-report", "report.json", "--junit", "leaks.xml",
                               "--leak-exit-code", "0", "-q", "-v", "--", "make", "test"});
    CHECK(options.threshold == Duration(1min));
    CHECK(options.json_report == "report.json");
    CHECK(options.junit == "leaks.xml");
    CHECK(options.leak_exit_code == 0);
    CHECK(options.quiet);
    CHECK(options.verbose == 1);
    CHECK(options.command == std::vector<std::string>{"make", "test"});
    CHECK(parsed_as<RunOptions>({"run", "--leak-exit-code=255", "x"}).leak_exit_code == 255);
}

TEST_CASE("run keeps COMMAND verbatim") {
    CHECK(parsed_as<RunOptions>({"run", "--", "sh", "-c", "exit 7"}).command ==
          std::vector<std::string>{"sh", "-c", "exit 7"});
    // Words that CLI11 would otherwise split or drop, and tcpleak's own options.
    CHECK(parsed_as<RunOptions>({"run", "-q", "--", "./x", "--", "[a,b]", "[]", "", "--help", "--version", "-v"})
              .command == std::vector<std::string>{"./x", "--", "[a,b]", "[]", "", "--help", "--version", "-v"});
    CHECK(parsed_as<RunOptions>({"run", "--", "-x"}).command == std::vector<std::string>{"-x"});
    CHECK(parsed_as<RunOptions>({"run", "--", "leaks"}).command == std::vector<std::string>{"leaks"});
}

TEST_CASE("run: options after COMMAND belong to COMMAND") {
    const auto with_separator = parsed_as<RunOptions>({"run", "--", "./x", "--json", "-q"});
    CHECK(with_separator.command == std::vector<std::string>{"./x", "--json", "-q"});
    CHECK_FALSE(with_separator.quiet);

    const auto without_separator = parsed_as<RunOptions>({"run", "--threshold", "2s", "./x", "--json", "-q"});
    CHECK(without_separator.command == std::vector<std::string>{"./x", "--json", "-q"});
    CHECK(without_separator.threshold == Duration(2s));
    CHECK_FALSE(without_separator.quiet);
    CHECK(parsed_as<RunOptions>({"run", "./test.sh"}).command == std::vector<std::string>{"./test.sh"});
}

TEST_CASE("run refuses bad values and a missing COMMAND") {
    const std::string no_command = "no COMMAND to run; put it after '--', e.g. tcpleak run -- ./soak-test.sh";
    CHECK(usage_error({"run"}, "run") == no_command);
    CHECK(usage_error({"run", "--"}, "run") == no_command);
    CHECK(usage_error({"run", "--junit", "leaks.xml"}, "run") == no_command);
    CHECK(usage_error({"run", "--leak-exit-code", "300", "--", "x"}, "run") ==
          "--leak-exit-code 300: not an exit status (0-255)");
    CHECK(usage_error({"run", "--leak-exit-code", "-1", "--", "x"}, "run") ==
          "--leak-exit-code -1: not an exit status (0-255)");
    CHECK(usage_error({"run", "--threshold", "0", "--", "x"}, "run") == "--threshold 0: must be greater than zero");
    CHECK(usage_error({"run", "--junit", "-q", "--", "x"}, "run") == "--junit needs a file name, not the option -q");
    CHECK(usage_error({"run", "--junit"}, "run") == "--junit needs a file name");
    CHECK(usage_error({"run", "--json", "--", "x"}, "run") == "--json: not an option of run (only of trace, leaks, top, agent)");
}

// --- the program as a whole --------------------------------------------------

TEST_CASE("no arguments: a one-line usage error naming the commands, exit 2") {
    const ParseResult result = parse({});
    REQUIRE_FALSE(result.options);
    CHECK(result.exit_code == 2);
    const std::vector<std::string> lines = lines_of(result.message);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0] == "tcpleak: missing command (trace, leaks, run, top or agent)");
    CHECK(lines[1] == "Run 'tcpleak --help' for usage.");
}

TEST_CASE("a missing or unknown command is a usage error") {
    CHECK(usage_error({"frob"}, "") == "unknown command 'frob' (expected trace, leaks, run, top or agent)");
    CHECK(usage_error({"--frobnicate"}, "") == "--frobnicate: unknown option");
    CHECK(usage_error({"--json"}, "") == "missing command before --json (trace, leaks, run, top or agent)");
    CHECK(usage_error({"-p", "1"}, "") == "missing command before -p (trace, leaks, run, top or agent)");
}

TEST_CASE("--version prints the version, exit 0") {
    CHECK(help_of({"--version"}) == version_line() + "\n");
    CHECK(help_of({"--version"}).starts_with("tcpleak 0.2.0 "));
}

TEST_CASE("--version with anything after it is a usage error") {
    CHECK(usage_error({"--version", "extra"}, "") == "--version takes no arguments (got extra)");
    CHECK(usage_error({"--version", "--help"}, "") == "--version takes no arguments (got --help)");
    CHECK(usage_error({"--version", "a\nb"}, "") == "--version takes no arguments (got $'a\\nb')");
}

TEST_CASE("tcpleak --help gives the overview, exit 0") {
    for (const char* flag : {"--help", "-h"}) {
        const std::string help = help_of({flag});
        CHECK(help.starts_with("Usage: tcpleak COMMAND [OPTIONS]\n"));
        CHECK(contains(help, "A CLOSE_WAIT leak: the peer hung up, but the program never close()d its socket."));
        CHECK(contains(help, "\n  trace   Print TCP state changes live"));
        CHECK(contains(help, "\n  leaks   "));
        CHECK(contains(help, "\n  run     "));
        CHECK(contains(help, "--version"));
        CHECK(contains(help, "Examples:"));
    }
}

TEST_CASE("each command has help with examples, defaults and exit status, exit 0") {
    const std::string trace = help_of({"trace", "--help"});
    CHECK(trace.starts_with("Usage: tcpleak trace [-p PID]... [-c COMM] [--port N]... [-4|-6]\n"));
    check_contains(trace, {"sudo tcpleak trace -p $(pidof nginx) --state CLOSE_WAIT",
                           "sudo tcpleak trace --json | jq .",
                           "DUR is 500ms, 5s, 2m, 1h or plain seconds",
                           "Exit status:\n  0  stopped by --duration or Ctrl-C\n  1  error",
                           "ESTABLISHED", "NEW_SYN_RECV"}); // and the state names
    CHECK(help_of({"trace", "-h"}) == trace);
    CHECK(help_of({"trace", "-p", "abc", "--help"}) == trace); // help wins over errors

    const std::string leaks = help_of({"leaks", "--help"});
    check_contains(leaks, {"sudo tcpleak leaks --threshold 30s", "state for DUR [default: 5s]", "--state NAME...",
                           "[default: 2s]", "  0  no leak reported\n  3  at least one leak reported\n"});

    const std::string run = help_of({"run", "--help"});
    CHECK(run.starts_with("Usage: tcpleak run [OPTIONS] [--] COMMAND [ARGS...]\n"));
    check_contains(run, {"sudo tcpleak run --junit leaks.xml -- ./soak-test.sh", "[default: 5s]", "[default: 3]",
                         "128+N  COMMAND was killed by signal N"});
}

TEST_CASE("help fits in 80 columns") {
    for (const auto& words : {std::vector<const char*>{"--help"}, {"trace", "--help"}, {"leaks", "--help"},
                              {"run", "--help"}}) {
        std::vector<const char*> argv{"tcpleak"};
        argv.insert(argv.end(), words.begin(), words.end());
        const ParseResult result = parse_command_line(static_cast<int>(argv.size()), argv.data());
        for (const std::string& line : lines_of(result.message)) {
            INFO(line);
            CHECK(line.size() <= 80);
        }
    }
}
