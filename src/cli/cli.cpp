// The entry points: parse_command_line (the CLI11 app and dispatch per command) and describe_command_line.
#include "tcpleak/cli/cli.hpp"

#include "tcpleak/cli/version.hpp"
#include "tcpleak/sys/errors.hpp"
#include "tcpleak/core/tcp_state.hpp"

#include "cli_internal.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tcpleak {

using namespace cli_detail;

namespace {

// The commands, as usage errors list them.
constexpr std::string_view kCommandList = "trace, leaks, run, top or agent";

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
