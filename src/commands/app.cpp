#include "tcpleak/commands/app.hpp"

#include "tcpleak/agent/agent.hpp"
#include "tcpleak/kernel/bpf_session.hpp"
#include "tcpleak/cli/cli.hpp"
#include "tcpleak/commands/commands.hpp"
#include "tcpleak/sys/errors.hpp"
#include "tcpleak/sys/proc.hpp"
#include "tcpleak/sys/signals.hpp"

#include <cstdio>
#include <exception>
#include <string>
#include <type_traits>
#include <variant>

namespace tcpleak {

namespace {

int verbosity(const CommandOptions& options) {
    return std::visit([](const auto& o) { return o.verbose; }, options);
}

int dispatch(const CommandOptions& options) {
    return std::visit(
        [](const auto& o) -> int {
            using T = std::decay_t<decltype(o)>;
            if constexpr (std::is_same_v<T, TraceOptions>)
                return run_trace(o);
            else if constexpr (std::is_same_v<T, LeaksOptions>)
                return run_leaks(o);
            else if constexpr (std::is_same_v<T, TopOptions>)
                return run_top(o);
            else if constexpr (std::is_same_v<T, AgentOptions>)
                return run_agent(o);
            else
                return run_run(o);
        },
        options);
}

void print_error(const std::string& message) { std::fprintf(stderr, "tcpleak: %s\n", message.c_str()); }

void print_note(const std::string& message) { std::fprintf(stderr, "tcpleak: note: %s\n", message.c_str()); }

} // namespace

int main_entry(int argc, char** argv) {
    ParseResult parsed = parse_command_line(argc, argv);
    if (!parsed.options) {
        std::fputs(parsed.message.c_str(), parsed.exit_code == 0 ? stdout : stderr);
        return parsed.exit_code;
    }
    install_signal_handlers();
    route_libbpf_log(verbosity(*parsed.options));
    on_hidden_cmdlines(print_note); // once, rather than silently empty command lines
    try {
        return dispatch(*parsed.options);
    } catch (const UserError& error) {
        print_error(error.what());
        return error.exit_code();
    } catch (const std::exception& error) {
        print_error(std::string("internal error: ") + error.what());
        return kExitError;
    }
}

} // namespace tcpleak
