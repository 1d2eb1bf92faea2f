// Words for COMMAND and its processes: signal names, wait statuses, shell
// quoting, a process's name and command line. Command lines are
// attacker-controlled bytes: they go out through append_printable.

#include "report_model.hpp"

#include "tcpleak/output/report_format.hpp"
#include "tcpleak/output/text_format.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <cstring>

namespace tcpleak::report_detail {

namespace {

// "SIGKILL", or empty for a signal without a name (real-time signals).
std::string signal_name(int signal) {
    const char* abbrev = sigabbrev_np(signal);
    return abbrev ? std::string("SIG") + abbrev : std::string();
}

void append_signal(std::string& out, int signal) {
    out.append("signal ");
    append_decimal(out, signal);
    const std::string name = signal_name(signal);
    if (!name.empty()) {
        out.append(" (");
        out.append(name);
        out.push_back(')');
    }
}

// An argument as a shell would need it, for people: bare when it has only
// safe characters, else in single quotes.
void append_shell_word(std::string& out, std::string_view word) {
    const bool bare = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               std::string_view("_@%+=:,./-").find(c) != std::string_view::npos;
    });
    if (bare) {
        out.append(word);
        return;
    }
    out.push_back('\'');
    for (const char c : word) {
        if (c == '\'')
            out.append("'\\''");
        else
            out.push_back(c);
    }
    out.push_back('\'');
}

} // namespace

void append_command_outcome(std::string& out, const RunReport& report) {
    if (report.command_exit_code) {
        out.append("exited with ");
        append_decimal(out, *report.command_exit_code);
    } else if (report.command_signal) {
        out.append("killed by ");
        append_signal(out, *report.command_signal);
    } else {
        out.append("ended with an unknown status");
    }
}

void append_wait_status(std::string& out, int status) {
    if (WIFEXITED(status)) {
        out.append("exited with ");
        append_decimal(out, WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        out.append("killed by ");
        append_signal(out, WTERMSIG(status));
        if (WCOREDUMP(status))
            out.append(", core dumped");
    } else {
        out.append("wait status ");
        append_decimal(out, status);
    }
}

void append_command(std::string& out, const std::vector<std::string>& command) {
    std::string joined;
    for (const std::string& word : command) {
        if (!joined.empty())
            joined.push_back(' ');
        append_shell_word(joined, word);
    }
    append_printable(out, joined);
}

void append_printable_limited(std::string& out, std::string_view bytes, std::size_t max_bytes) {
    if (bytes.size() <= max_bytes) {
        append_printable(out, bytes);
        return;
    }
    std::size_t cut = 0;
    while (cut < bytes.size()) {
        const std::size_t length = next_utf8_sequence(bytes.substr(cut)).length;
        if (cut + length > max_bytes)
            break;
        cut += length;
    }
    append_printable(out, bytes.substr(0, cut));
    out.append("...");
}

void append_process_name(std::string& out, const ProcessView& p, std::size_t max_cmdline_bytes) {
    out.append("pid ");
    append_pid_comm(out, p.pid, p.comm);
    if (!p.cmdline.empty()) {
        out.append(": ");
        append_printable_limited(out, p.cmdline, max_cmdline_bytes);
    }
}

} // namespace tcpleak::report_detail
