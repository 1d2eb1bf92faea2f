// Over 500 lines: the man page and both completions walk the same description; one file keeps them in step.
// Build-time generator of tcpleak's man pages and shell completion, from the
// command line's own definition (describe_command_line: the CLI11 App that
// parses and prints --help), so neither can drift from --help. It walks
// whatever commands and options exist: a new command gets its page and its
// completion without a change here. Not installed.
//
//   cli_docs man DIR      DIR/tcpleak.8 and DIR/tcpleak-COMMAND.8 per command
//   cli_docs bash FILE    bash completion (function _tcpleak)
//   cli_docs zsh FILE     zsh completion (#compdef tcpleak)
//
// The man pages' date is SOURCE_DATE_EPOCH's (reproducible builds), else today's.

#include "tcpleak/cli/cli.hpp"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using tcpleak::CommandDescription;
using tcpleak::OptionDescription;
using tcpleak::ValueKind;

std::vector<std::string> split_lines(std::string_view text) {
    std::vector<std::string> lines;
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        lines.emplace_back(text.substr(0, end));
        if (end == std::string_view::npos)
            break;
        text.remove_prefix(end + 1);
    }
    return lines;
}

std::string trim(std::string_view text) {
    const std::size_t first = text.find_first_not_of(' ');
    if (first == std::string_view::npos)
        return {};
    return std::string(text.substr(first, text.find_last_not_of(' ') - first + 1));
}

std::size_t indent_of(std::string_view line) { return line.find_first_not_of(' '); }

// ---------------------------------------------------------------------------
// roff

// Text for a roff line: backslashes and hyphen-minus escaped (Debian's groff
// prints \- as the ASCII '-' that a copied command needs), and a leading '.'
// or '\'' kept from being read as a request.
std::string roff(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '\\')
            out += "\\e";
        else if (c == '-')
            out += "\\-";
        else
            out += c;
    }
    if (!out.empty() && (out.front() == '.' || out.front() == '\''))
        out.insert(0, "\\&");
    return out;
}

// --help breaks descriptions for its columns; roff fills lines itself.
std::string joined(std::string_view text) {
    std::string out;
    for (const std::string& line : split_lines(text))
        out += (out.empty() ? "" : " ") + trim(line);
    return out;
}

std::string option_tag(const OptionDescription& option) {
    std::string tag;
    for (const std::string& name : option.short_names)
        tag += (tag.empty() ? "" : ", ") + std::string("\\fB\\-") + roff(name) + "\\fR";
    for (const std::string& name : option.long_names)
        tag += (tag.empty() ? "" : ", ") + std::string("\\fB\\-\\-") + roff(name) + "\\fR";
    if (!option.value_name.empty())
        tag += " \\fI" + roff(option.value_name) + "\\fR";
    return tag;
}

// A footer is paragraphs separated by blank lines. "Title:" over indented
// items is a section (Examples, Exit status); anything else is prose.
struct Item {
    std::string tag;  // the item's first line up to a gap of two spaces
    std::string body; // the rest of it and its more indented lines
};
struct Paragraph {
    std::string title; // empty for prose
    std::vector<std::string> lines;
    std::vector<Item> items;
};

std::vector<Paragraph> footer_paragraphs(std::string_view footer) {
    std::vector<Paragraph> paragraphs(1);
    for (const std::string& line : split_lines(footer)) {
        if (trim(line).empty()) {
            if (!paragraphs.back().lines.empty() || !paragraphs.back().items.empty())
                paragraphs.emplace_back();
            continue;
        }
        Paragraph& paragraph = paragraphs.back();
        const bool first = paragraph.lines.empty() && paragraph.items.empty() && paragraph.title.empty();
        if (first && indent_of(line) == 0 && line.back() == ':') {
            paragraph.title = line.substr(0, line.size() - 1);
        } else if (!paragraph.title.empty()) {
            const std::size_t indent = indent_of(line);
            if (paragraph.items.empty() || indent <= 2) {
                const std::string text = trim(line);
                const std::size_t gap = text.find("  ");
                paragraph.items.push_back({trim(text.substr(0, gap)), gap == std::string::npos ? "" : trim(text.substr(gap))});
            } else {
                Item& item = paragraph.items.back();
                item.body += (item.body.empty() ? "" : " ") + trim(line);
            }
        } else {
            paragraph.lines.push_back(line);
        }
    }
    if (paragraphs.back().lines.empty() && paragraphs.back().items.empty())
        paragraphs.pop_back();
    return paragraphs;
}

std::string upper(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::string page_date() {
    std::time_t when = std::time(nullptr);
    if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"))
        when = static_cast<std::time_t>(std::strtoll(epoch, nullptr, 10));
    char date[16];
    std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&when));
    return date;
}

void write_options(std::ostream& out, const CommandDescription& command) {
    out << ".SH OPTIONS\n";
    for (const OptionDescription& option : command.options) {
        if (!option.positional.empty())
            continue; // explained by the footer (run's COMMAND)
        out << ".TP\n" << option_tag(option) << "\n" << roff(joined(option.description)) << "\n";
    }
}

// Prose goes where it stands (the description); sections after the options.
void write_footer_prose(std::ostream& out, const std::vector<Paragraph>& paragraphs) {
    for (const Paragraph& paragraph : paragraphs) {
        if (!paragraph.title.empty())
            continue;
        out << ".PP\n";
        for (const std::string& line : paragraph.lines)
            out << roff(trim(line)) << "\n";
    }
}

void write_footer_sections(std::ostream& out, const std::vector<Paragraph>& paragraphs) {
    for (const Paragraph& paragraph : paragraphs) {
        if (paragraph.title.empty())
            continue;
        out << ".SH " << roff(upper(paragraph.title)) << "\n";
        for (const Item& item : paragraph.items)
            out << ".TP\n\\fB" << roff(item.tag) << "\\fR\n" << roff(item.body) << "\n";
    }
}

void write_header(std::ostream& out, const std::string& page, const std::string& what) {
    out << ".\\\" Generated by packaging/cli_docs from tcpleak's command-line definition: do not edit.\n"
        << ".TH " << upper(page) << " 8 " << page_date() << " \"tcpleak " << TCPLEAK_VERSION
        << "\" \"System Administration\"\n"
        << ".SH NAME\n"
        << roff(page) << " \\- " << roff(what) << "\n";
}

// --help indents a usage's continuation lines under "Usage: "; the synopsis
// has no such prefix.
void write_synopsis(std::ostream& out, const std::vector<std::string>& usages) {
    constexpr std::size_t kUsagePrefix = std::string_view("Usage: ").size();
    out << ".SH SYNOPSIS\n.nf\n";
    for (const std::string& usage : usages) {
        bool first = true;
        for (const std::string& line : split_lines(usage)) {
            out << roff(first || indent_of(line) < kUsagePrefix ? line : line.substr(kUsagePrefix)) << "\n";
            first = false;
        }
    }
    out << ".fi\n";
}

std::string first_sentence_line(std::string_view summary) { return split_lines(summary).front(); }

void write_root_page(std::ostream& out, const CommandDescription& root) {
    write_header(out, root.name, first_sentence_line(root.summary));
    std::vector<std::string> usages{root.usage};
    for (const CommandDescription& command : root.commands)
        usages.push_back(command.usage);
    write_synopsis(out, usages);
    const auto paragraphs = footer_paragraphs(root.footer);
    out << ".SH DESCRIPTION\n";
    for (const std::string& line : split_lines(root.summary))
        out << roff(line) << "\n";
    write_footer_prose(out, paragraphs);
    out << ".SH COMMANDS\n";
    for (const CommandDescription& command : root.commands)
        out << ".TP\n\\fB" << roff(command.name) << "\\fR\n" << roff(joined(command.summary)) << " See \\fB"
            << roff(root.name + "-" + command.name) << "\\fR(8).\n";
    write_options(out, root);
    write_footer_sections(out, paragraphs);
    out << ".SH SEE ALSO\n";
    for (std::size_t i = 0; i < root.commands.size(); ++i)
        out << "\\fB" << roff(root.name + "-" + root.commands[i].name) << "\\fR(8)" << (i + 1 < root.commands.size() ? ",\n" : "\n");
    out << ".PP\n"
        << "README.md and docs/ (the design, the JSON schemas) in /usr/share/doc/tcpleak when installed from the\n"
        << "Debian package, or in the source tree.\n";
}

void write_command_page(std::ostream& out, const CommandDescription& root, const CommandDescription& command) {
    write_header(out, root.name + "-" + command.name, joined(command.summary));
    write_synopsis(out, {command.usage});
    const auto paragraphs = footer_paragraphs(command.footer);
    out << ".SH DESCRIPTION\n" << roff(joined(command.summary)) << "\n";
    write_footer_prose(out, paragraphs);
    write_options(out, command);
    write_footer_sections(out, paragraphs);
    out << ".SH SEE ALSO\n\\fB" << roff(root.name) << "\\fR(8)\n";
}

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream file(path, std::ios::binary);
    file << text;
    file.close();
    if (!file) {
        std::cerr << "cli_docs: cannot write " << path << "\n";
        return false;
    }
    return true;
}

// ---------------------------------------------------------------------------
// Shell completion

// A word list for a shell's single quotes.
std::string single_quoted(std::string_view text) {
    std::string out = "'";
    for (char c : text)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

std::vector<std::string> option_words(const OptionDescription& option) {
    std::vector<std::string> words;
    for (const std::string& name : option.short_names)
        words.push_back("-" + name);
    for (const std::string& name : option.long_names)
        words.push_back("--" + name);
    return words;
}

std::string joined_words(const std::vector<std::string>& words) {
    std::string out;
    for (const std::string& word : words)
        out += (out.empty() ? "" : " ") + word;
    return out;
}

// The bash function of the completion's prelude that completes a value of
// this option: by its kind, or from its fixed words (top --by).
std::string_view bash_completer(const OptionDescription& option) {
    if (option.kind == ValueKind::Other && !option.values.empty())
        return "words";
    switch (option.kind) {
    case ValueKind::Pid: return "pids";
    case ValueKind::ProcessName: return "comms";
    case ValueKind::TcpState: return "states";
    case ValueKind::Duration: return "durations";
    case ValueKind::File: return "files";
    case ValueKind::None: return "";
    default: return "nothing";
    }
}

std::string names_pattern(const OptionDescription& option) {
    std::string pattern;
    for (const std::string& word : option_words(option))
        pattern += (pattern.empty() ? "" : "|") + word;
    return pattern;
}

// The generated script is a fixed function (below) over one block of data per
// command: its options, which take a value and of what kind, whether a
// COMMAND follows them (run).
std::string bash_completion(const CommandDescription& root) {
    std::vector<std::string> root_words, command_names;
    for (const OptionDescription& option : root.options)
        for (const std::string& word : option_words(option))
            root_words.push_back(word);
    for (const CommandDescription& command : root.commands)
        command_names.push_back(command.name);

    std::ostringstream out;
    out << "# bash completion for tcpleak. Generated by packaging/cli_docs from tcpleak's\n"
           "# command-line definition (the one --help prints): do not edit.\n"
           "\n"
           "_tcpleak_words() { mapfile -t COMPREPLY < <(compgen -P \"$2\" -W \"$1\" -- \"$3\"); }\n"
           "_tcpleak_pids() { _tcpleak_words \"$(cd /proc 2>/dev/null && printf '%s ' [1-9]*)\" \"$2\" \"$3\"; }\n"
           "_tcpleak_comms() { _tcpleak_words \"$(cat /proc/[1-9]*/comm 2>/dev/null | tr -d ' ' | sort -u | tr '\\n' ' ')\" \"$2\" \"$3\"; }\n"
           "# The parser takes any case: complete in the case begun.\n"
           "_tcpleak_states() { local w=$1; [[ $3 == [a-z]* ]] && w=${w,,}; _tcpleak_words \"$w\" \"$2\" \"$3\"; }\n"
           "_tcpleak_durations() { _tcpleak_words '500ms 1s 5s 10s 30s 1m 5m 10m 1h' \"$2\" \"$3\"; }\n"
           "_tcpleak_files() { compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- \"$3\"); }\n"
           "_tcpleak_nothing() { COMPREPLY=(); }\n"
           "\n"
           "_tcpleak() {\n"
           "    COMPREPLY=()\n"
           "    local cur=${COMP_WORDS[COMP_CWORD]} option=${COMP_WORDS[COMP_CWORD-1]}\n"
           "    # bash splits --state=CLOSE_WAIT at the '='.\n"
           "    if [ \"$cur\" = \"=\" ]; then cur=\n"
           "    elif [ \"$option\" = \"=\" ] && [ \"$COMP_CWORD\" -ge 3 ]; then option=${COMP_WORDS[COMP_CWORD-2]}; fi\n"
           "    # The command comes first.\n"
           "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
           "        case $cur in\n"
           "        -*) _tcpleak_words " << single_quoted(joined_words(root_words)) << " '' \"$cur\" ;;\n"
           "        *) _tcpleak_words " << single_quoted(joined_words(command_names)) << " '' \"$cur\" ;;\n"
           "        esac\n"
           "        return\n"
           "    fi\n"
           "    local options= value_options= positional= kind= list= words=\n"
           "    case ${COMP_WORDS[1]} in\n";
    for (const CommandDescription& command : root.commands) {
        std::vector<std::string> all, with_value;
        bool positional = false;
        for (const OptionDescription& option : command.options) {
            if (!option.positional.empty()) {
                positional = true;
                continue;
            }
            for (const std::string& word : option_words(option)) {
                all.push_back(word);
                if (option.kind != ValueKind::None)
                    with_value.push_back(word);
            }
        }
        out << "    " << command.name << ")\n"
            << "        options=" << single_quoted(joined_words(all)) << "\n"
            << "        value_options=" << single_quoted(" " + joined_words(with_value) + " ") << "\n";
        if (positional)
            out << "        positional=1\n";
        out << "        case $option in\n";
        for (const OptionDescription& option : command.options) {
            if (!option.positional.empty() || option.kind == ValueKind::None)
                continue;
            out << "        " << names_pattern(option) << ") kind=" << bash_completer(option);
            if (option.repeatable)
                out << " list=1";
            if (!option.values.empty())
                out << " words=" << single_quoted(joined_words(option.values));
            out << " ;;\n";
        }
        out << "        esac\n"
               "        ;;\n";
    }
    out << "    *) return ;;\n"
           "    esac\n"
           "    if [ -n \"$positional\" ]; then\n"
           "        # The first word that is neither an option nor an option's value, or the\n"
           "        # word after \"--\", starts COMMAND: from there on, COMMAND's own\n"
           "        # completion (bash-completion's _command_offset), or command names.\n"
           "        local i=2 word start=\n"
           "        while [ \"$i\" -lt \"$COMP_CWORD\" ]; do\n"
           "            word=${COMP_WORDS[i]}\n"
           "            if [ \"$word\" = \"--\" ]; then start=$((i + 1)); break; fi\n"
           "            case $word in\n"
           "            -*) i=$((i + 1))\n"
           "                if [[ $value_options == *\" $word \"* ]]; then\n"
           "                    [ \"${COMP_WORDS[i]}\" = \"=\" ] && i=$((i + 1))\n"
           "                    i=$((i + 1))\n"
           "                elif [ \"${COMP_WORDS[i]}\" = \"=\" ]; then i=$((i + 2)); fi ;;\n"
           "            *) start=$i; break ;;\n"
           "            esac\n"
           "        done\n"
           "        if [ -z \"$start\" ] && [ \"$i\" -eq \"$COMP_CWORD\" ] && [[ $cur != -* ]] && [ -z \"$kind\" ]; then start=$i; fi\n"
           "        if [ -n \"$start\" ]; then\n"
           "            if [ \"$start\" -eq \"$COMP_CWORD\" ]; then mapfile -t COMPREPLY < <(compgen -c -- \"$cur\")\n"
           "            elif declare -F _command_offset >/dev/null; then _command_offset \"$start\"\n"
           "            else _tcpleak_files '' '' \"$cur\"; fi\n"
           "            return\n"
           "        fi\n"
           "    fi\n"
           "    if [ -n \"$kind\" ]; then\n"
           "        # Lists: -p 1,2 --state CLOSE_WAIT,LAST_ACK\n"
           "        local prefix=\n"
           "        if [ -n \"$list\" ] && [[ $cur == *,* ]]; then prefix=${cur%,*},; cur=${cur##*,}; fi\n"
           "        \"_tcpleak_$kind\" \"$words\" \"$prefix\" \"$cur\"\n"
           "        return\n"
           "    fi\n"
           "    _tcpleak_words \"$options\" '' \"$cur\"\n"
           "}\n"
           "complete -F _tcpleak tcpleak\n";
    return out.str();
}

// zsh: one _arguments call per command, from the same data.
std::string zsh_escaped_description(std::string_view text) {
    std::string out;
    for (char c : joined(text)) {
        if (c == '[' || c == ']' || c == ':' || c == '\\')
            out += '\\';
        out += c;
    }
    return out;
}

std::string zsh_action(const OptionDescription& option) {
    switch (option.kind) {
    case ValueKind::Pid: return option.repeatable ? "_sequence _pids" : "_pids";
    case ValueKind::ProcessName: return "_process_names -a";
    case ValueKind::TcpState:
        return (option.repeatable ? "_values -s , state " : "_values state ") + joined_words(option.values);
    case ValueKind::Duration: return "(500ms 1s 5s 10s 30s 1m 5m 10m 1h)";
    case ValueKind::File: return "_files";
    default: return option.values.empty() ? " " : "(" + joined_words(option.values) + ")";
    }
}

std::vector<std::string> zsh_specs(const CommandDescription& command) {
    std::vector<std::string> specs;
    for (const OptionDescription& option : command.options) {
        if (!option.positional.empty()) {
            specs.push_back("*::command:_normal");
            continue;
        }
        const std::vector<std::string> names = option_words(option);
        std::string exclusions;
        if (option.long_names == std::vector<std::string>{"help"} || option.long_names == std::vector<std::string>{"version"})
            exclusions = "(- *)";
        else if (!option.repeatable)
            exclusions = "(" + joined_words(names) + ")";
        for (const std::string& name : names) {
            std::string spec = exclusions + (option.repeatable ? "*" : "") + name + "[" +
                               zsh_escaped_description(option.description) + "]";
            if (option.kind != ValueKind::None)
                spec += ":" + option.value_name + ":" + zsh_action(option);
            specs.push_back(spec);
        }
    }
    return specs;
}

std::string zsh_completion(const CommandDescription& root) {
    std::ostringstream out;
    out << "#compdef tcpleak\n"
           "# zsh completion for tcpleak. Generated by packaging/cli_docs from tcpleak's\n"
           "# command-line definition (the one --help prints): do not edit.\n"
           "\n"
           "_tcpleak() {\n"
           "  local -a commands\n"
           "  commands=(\n";
    for (const CommandDescription& command : root.commands)
        out << "    " << single_quoted(command.name + ":" + joined(command.summary)) << "\n";
    out << "  )\n"
           "  if (( CURRENT == 2 )); then\n"
           "    if [[ $words[CURRENT] == -* ]]; then\n"
           "      _arguments";
    for (const std::string& spec : zsh_specs(root))
        out << " \\\n        " << single_quoted(spec);
    out << "\n"
           "    else\n"
           "      _describe -t commands 'tcpleak command' commands\n"
           "    fi\n"
           "    return\n"
           "  fi\n"
           "  local command=$words[2]\n"
           "  shift words\n"
           "  (( CURRENT-- ))\n"
           "  case $command in\n";
    for (const CommandDescription& command : root.commands) {
        out << "  " << command.name << ")\n    _arguments -s -S";
        for (const std::string& spec : zsh_specs(command))
            out << " \\\n      " << single_quoted(spec);
        out << "\n    ;;\n";
    }
    out << "  esac\n"
           "}\n"
           "\n"
           "_tcpleak \"$@\"\n";
    return out.str();
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: cli_docs man DIR | bash FILE | zsh FILE\n";
        return 2;
    }
    const std::string what = argv[1];
    const std::string where = argv[2];
    const CommandDescription root = tcpleak::describe_command_line();
    if (what == "man") {
        std::ostringstream page;
        write_root_page(page, root);
        if (!write_file(where + "/" + root.name + ".8", page.str()))
            return 1;
        for (const CommandDescription& command : root.commands) {
            std::ostringstream command_page;
            write_command_page(command_page, root, command);
            if (!write_file(where + "/" + root.name + "-" + command.name + ".8", command_page.str()))
                return 1;
        }
        return 0;
    }
    if (what == "bash")
        return write_file(where, bash_completion(root)) ? 0 : 1;
    if (what == "zsh")
        return write_file(where, zsh_completion(root)) ? 0 : 1;
    std::cerr << "cli_docs: unknown output '" << what << "' (man, bash or zsh)\n";
    return 2;
}
