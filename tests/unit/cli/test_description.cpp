// describe_command_line: the data the man pages and completion come from.
#include "tcpleak/cli/cli.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace tcpleak;

namespace {

const CommandDescription& command_named(const CommandDescription& root, const std::string& name) {
    const auto found = std::find_if(root.commands.begin(), root.commands.end(),
                                    [&](const CommandDescription& c) { return c.name == name; });
    REQUIRE(found != root.commands.end());
    return *found;
}

const OptionDescription& option_named(const CommandDescription& command, const std::string& long_name) {
    const auto found = std::find_if(command.options.begin(), command.options.end(), [&](const OptionDescription& o) {
        return std::find(o.long_names.begin(), o.long_names.end(), long_name) != o.long_names.end();
    });
    REQUIRE(found != command.options.end());
    return *found;
}

} // namespace

TEST_CASE("every command of the parser is described, with the text --help prints") {
    const CommandDescription root = describe_command_line();
    CHECK(root.name == "tcpleak");
    CHECK(root.usage == "tcpleak COMMAND [OPTIONS]");
    REQUIRE(root.commands.size() >= 3);
    for (const char* name : {"trace", "leaks", "run"}) {
        const CommandDescription& command = command_named(root, name);
        CHECK(command.usage.starts_with(std::string("tcpleak ") + name));
        CHECK(command.help.starts_with("Usage: " + command.usage + "\n"));
        CHECK(command.help.find(command.summary) != std::string::npos);
        CHECK(command.help.find(command.footer) != std::string::npos);
        CHECK(command.commands.empty());
        for (const OptionDescription& option : command.options)
            if (option.positional.empty())
                for (const std::string& name : option.long_names)
                    CHECK(command.help.find("--" + name) != std::string::npos);
    }
}

TEST_CASE("options: names, value names, kinds, repetition") {
    const CommandDescription root = describe_command_line();
    const CommandDescription& trace = command_named(root, "trace");
    const OptionDescription& pid = option_named(trace, "pid");
    CHECK(pid.short_names == std::vector<std::string>{"p"});
    CHECK(pid.value_name == "PID...");
    CHECK(pid.kind == ValueKind::Pid);
    CHECK(pid.repeatable);
    const OptionDescription& json = option_named(trace, "json");
    CHECK(json.kind == ValueKind::None);
    CHECK(json.value_name.empty());
    CHECK_FALSE(json.repeatable);
    CHECK(option_named(trace, "verbose").repeatable); // -vv
    CHECK(option_named(trace, "duration").kind == ValueKind::Duration);
    CHECK_FALSE(option_named(trace, "duration").repeatable);
    CHECK(option_named(command_named(root, "run"), "junit").kind == ValueKind::File);
    CHECK(option_named(root, "version").kind == ValueKind::None);
}

TEST_CASE("--state lists every TCP state name the parser accepts") {
    const CommandDescription root = describe_command_line();
    const OptionDescription& state = option_named(command_named(root, "trace"), "state");
    CHECK(state.kind == ValueKind::TcpState);
    CHECK(std::find(state.values.begin(), state.values.end(), "CLOSE_WAIT") != state.values.end());
    CHECK(std::find(state.values.begin(), state.values.end(), "ESTABLISHED") != state.values.end());
    CHECK(state.values.size() == 12);
}

TEST_CASE("run's COMMAND is a positional") {
    const CommandDescription root = describe_command_line();
    const CommandDescription& run = command_named(root, "run");
    const auto positional = std::find_if(run.options.begin(), run.options.end(),
                                         [](const OptionDescription& o) { return !o.positional.empty(); });
    REQUIRE(positional != run.options.end());
    CHECK(positional->positional == "COMMAND");
    CHECK(positional->kind == ValueKind::Command);
}
