// The text CLI11 collected as values: pids, ports, durations, lists, comm, files, exit codes, top's --by and --count.
#include "cli_internal.hpp"

#include "tcpleak/cli/duration.hpp"
#include "tcpleak/core/tcp_state.hpp"

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tcpleak::cli_detail {

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

} // namespace tcpleak::cli_detail
