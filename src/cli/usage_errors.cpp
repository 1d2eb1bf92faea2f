// Translating CLI11's parse errors into one-line usage errors.
#include "cli_internal.hpp"

#include <string>
#include <string_view>

namespace tcpleak::cli_detail {

namespace {

std::string unknown_option_message(const CLI::App& root, const CLI::App& command, const std::string& word) {
    std::string owners;
    for (const CLI::App* other : root.get_subcommands({}))
        if (other != &command && is_option_of(*other, word))
            owners += (owners.empty() ? "" : ", ") + other->get_name();
    if (owners.empty())
        return concat({shown(word), ": unknown option"});
    return concat({shown(word), ": not an option of ", command.get_name(), " (only of ", owners, ")"});
}

} // namespace

// The first word CLI11 could not place, skipping the "--" it keeps there.
std::string first_leftover(const CLI::App& root) {
    for (const std::string& word : root.remaining(true))
        if (word != "--")
            return word;
    return {};
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

} // namespace tcpleak::cli_detail
