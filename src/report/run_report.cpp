// The three renderings of a `tcpleak run` report: text for stderr, one JSON
// document, JUnit XML. All of them are pure functions of the RunReport
// (except the JUnit hostname when the report leaves it empty).
//
// Process names and command lines are attacker-controlled bytes: the JSON
// goes through append_json_string, the text and the XML through
// append_printable (no terminal escapes, backslash doubled, ill-formed UTF-8
// as "\xNN"), and the XML additionally through append_xml_escaped.

#include "tcpleak/report/run_report.hpp"

#include "tcpleak/output/json_writer.hpp"
#include "tcpleak/core/records.hpp"
#include "tcpleak/output/report_format.hpp"
#include "tcpleak/output/text_format.hpp"

#include <unistd.h>

#include <sys/wait.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

namespace tcpleak {

namespace {

constexpr std::string_view kHexDigits = "0123456789abcdef"; // as append_printable

// ---------------------------------------------------------------- the model

// A leak with how it ended, if it did.
struct LeakView {
    const Leak* leak = nullptr;
    const LeakResolved* resolved = nullptr; // null: still in CLOSE_WAIT at the end
};

// A process entry of the report: a traced process, or one made up from a
// leak whose pid is not among the traced processes.
struct ProcessView {
    const TracedProcess* traced = nullptr; // null: made up from a leak
    std::uint32_t pid = 0;
    Comm comm{};
    std::string_view cmdline;
    std::vector<LeakView> leaks;
};

struct ReportModel {
    std::vector<LeakView> leaks;       // report.leaks, then resolved leaks missing from it
    std::vector<ProcessView> processes; // report.processes, then made-up entries
    std::size_t leaking_processes = 0;
};

// Groups the leaks by the process expected to close them (Leak::pid). With
// pid reuse, the first traced process with that pid gets them.
ReportModel build_model(const RunReport& report) {
    ReportModel model;
    std::unordered_map<std::uint64_t, const LeakResolved*> resolution; // by cookie, first wins
    for (const LeakResolved& r : report.resolved)
        resolution.try_emplace(r.leak.cookie, &r);
    std::unordered_set<std::uint64_t> listed;
    for (const Leak& leak : report.leaks) {
        const auto it = resolution.find(leak.cookie);
        model.leaks.push_back({&leak, it == resolution.end() ? nullptr : it->second});
        listed.insert(leak.cookie);
    }
    // A resolved leak is also a leak, even if the command did not list it
    // (LeakResolved::newly_reported).
    for (const LeakResolved& r : report.resolved) {
        if (listed.insert(r.leak.cookie).second)
            model.leaks.push_back({&r.leak, &r});
    }

    std::unordered_map<std::uint32_t, std::size_t> by_pid; // pid -> index in model.processes
    for (const TracedProcess& p : report.processes) {
        by_pid.try_emplace(p.pid, model.processes.size());
        model.processes.push_back({&p, p.pid, p.comm, p.cmdline, {}});
    }
    const std::size_t traced = model.processes.size();
    for (const LeakView& view : model.leaks) {
        const auto [it, added] = by_pid.try_emplace(view.leak->pid, model.processes.size());
        if (added)
            model.processes.push_back({nullptr, view.leak->pid, view.leak->comm, view.leak->cmdline, {}});
        model.processes[it->second].leaks.push_back(view);
    }
    for (std::size_t i = 0; i < traced; ++i) {
        ProcessView& p = model.processes[i];
        if (p.cmdline.empty() && !p.leaks.empty())
            p.cmdline = p.leaks.front().leak->cmdline;
    }
    model.leaking_processes = static_cast<std::size_t>(std::count_if(
        model.processes.begin(), model.processes.end(), [](const ProcessView& p) { return !p.leaks.empty(); }));
    return model;
}

// Total time in its state: until it ended, else until it was reported.
std::uint64_t in_state_ns(const LeakView& view) {
    if (view.resolved)
        return view.resolved->in_state_ns;
    return sub_sat(view.leak->reported_mono_ns, view.leak->entered_mono_ns);
}

std::uint64_t run_duration_ns(const RunReport& report) { return elapsed_ns(report.start_unix_ns, report.end_unix_ns); }
std::uint64_t threshold_ns(const RunReport& report) { return nonnegative_ns(report.threshold); }

// ---------------------------------------------------------------- small formatters

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

// "exited with 0", "killed by signal 9 (SIGKILL)".
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

// A wait(2) status: "exited with 1", "killed by signal 11 (SIGSEGV), core dumped".
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

// COMMAND as one printable line: "sh -c './server --port 8080'".
void append_command(std::string& out, const std::vector<std::string>& command) {
    std::string joined;
    for (const std::string& word : command) {
        if (!joined.empty())
            joined.push_back(' ');
        append_shell_word(joined, word);
    }
    append_printable(out, joined);
}

// Untrusted bytes, printable, at most max_bytes of the input (cut at a UTF-8
// sequence boundary) followed by "..." when cut.
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

// "6.1s", or ">=6.1s" when the entry into CLOSE_WAIT was before tracing (an estimate).
void append_close_wait_duration(std::string& out, const LeakView& view) {
    append_age(out, in_state_ns(view), view.leak->since_start);
}

// "pid 1234 server: ./server --port 8080"
void append_process_name(std::string& out, const ProcessView& p, std::size_t max_cmdline_bytes) {
    out.append("pid ");
    append_pid_comm(out, p.pid, p.comm);
    if (!p.cmdline.empty()) {
        out.append(": ");
        append_printable_limited(out, p.cmdline, max_cmdline_bytes);
    }
}

// ---------------------------------------------------------------- text

std::string failure_message(const LeakView& view);

// The leak lines of one process: each leak's sentence, and how it ended.
void append_leak_rows(std::string& out, const ProcessView& p, std::string_view indent) {
    for (const LeakView& view : p.leaks) {
        out.append(indent);
        out.append(failure_message(view));
        out.push_back('\n');
    }
}

std::uint64_t transitions_total(const RunReport& report) {
    std::uint64_t total = 0;
    for (const auto& [states, count] : report.transitions)
        total += count;
    return total;
}

// Ends the text report: "sh -c './server --port 8080' exited with 0\n", then
// what tcpleak could not see, if anything.
void end_with_command(std::string& out, const RunReport& report) {
    append_command(out, report.command);
    out.push_back(' ');
    append_command_outcome(out, report);
    out.push_back('\n');
    append_tracking_text(out, report.tracking);
}

// ---------------------------------------------------------------- JSON

// A leak object: the members of the leak record of `tcpleak leaks`, then
// when it was reported and how it ended.
void write_leak(JsonWriter& json, Rfc3339Clock& clock, const RunReport& report, const LeakView& view) {
    json.begin_object();
    write_leak_members(json, *view.leak, in_state_ns(view), report.clock, clock);
    write_time_field(json, clock, "reported_time", report.clock.to_unix_ns(view.leak->reported_mono_ns));
    json.key("resolved");
    if (const LeakResolved* r = view.resolved) {
        json.begin_object();
        json.field("how", resolved_how_name(r->how));
        write_time_field(json, clock, "time", report.clock.to_unix_ns(r->resolved_mono_ns));
        write_pid_comm(json, "by_pid", "by_comm", r->by_pid, r->by_comm);
        if (r->to_state)
            json.field("to_state", tcp_state_name(*r->to_state));
        else
            json.field("to_state", std::nullopt);
        json.field("in_state_ms", r->in_state_ns / 1'000'000);
        if (r->leak.state == kTcpCloseWait)
            json.field("close_wait_ms", r->in_state_ns / 1'000'000);
        else
            json.field("close_wait_ms", std::nullopt);
        json.end_object();
    } else {
        json.null();
    }
    json.end_object();
}

// Re-indents compact JSON (as JsonWriter writes it) with two spaces per
// level; empty containers stay "[]" and "{}".
std::string indent_json(std::string_view compact) {
    std::string out;
    out.reserve(compact.size() * 2);
    int depth = 0;
    bool in_string = false;
    const auto newline = [&out, &depth] {
        out.push_back('\n');
        out.append(static_cast<std::size_t>(depth) * 2, ' ');
    };
    for (std::size_t i = 0; i < compact.size(); ++i) {
        const char c = compact[i];
        if (in_string) {
            out.push_back(c);
            if (c == '\\' && i + 1 < compact.size())
                out.push_back(compact[++i]);
            else if (c == '"')
                in_string = false;
            continue;
        }
        switch (c) {
        case '"':
            in_string = true;
            out.push_back(c);
            break;
        case '{':
        case '[':
            out.push_back(c);
            if (i + 1 < compact.size() && (compact[i + 1] == '}' || compact[i + 1] == ']')) {
                out.push_back(compact[++i]);
            } else {
                ++depth;
                newline();
            }
            break;
        case '}':
        case ']':
            --depth;
            newline();
            out.push_back(c);
            break;
        case ',':
            out.push_back(c);
            newline();
            break;
        case ':': out.append(": "); break;
        default: out.push_back(c); break;
        }
    }
    return out;
}

// ---------------------------------------------------------------- XML

// "12.345": seconds with milliseconds, as JUnit's time attributes.
void append_seconds(std::string& out, std::uint64_t ns) {
    const std::uint64_t ms = ns / 1'000'000;
    append_decimal(out, ms / 1000);
    out.push_back('.');
    const std::uint64_t frac = ms % 1000;
    out.push_back(static_cast<char>('0' + frac / 100));
    out.push_back(static_cast<char>('0' + frac / 10 % 10));
    out.push_back(static_cast<char>('0' + frac % 10));
}

// "2026-11-21T07:44:06Z": JUnit timestamps are xs:dateTime; whole seconds
// as Ant and Surefire write them, but in UTC and saying so.
std::string junit_timestamp(std::int64_t unix_ns) {
    Rfc3339Clock clock;
    std::string text;
    clock.append(text, unix_ns);
    const std::size_t dot = text.rfind('.');
    if (dot != std::string::npos)
        text.erase(dot, text.size() - 1 - dot); // keep the 'Z'
    return text;
}

std::string local_hostname() {
    char name[HOST_NAME_MAX + 1] = {};
    if (gethostname(name, sizeof(name) - 1) != 0)
        return "localhost";
    return name;
}

void attribute(std::string& out, std::string_view name, std::string_view value) {
    out.push_back(' ');
    out.append(name);
    out.append("=\"");
    append_xml_escaped(out, value, true);
    out.push_back('"');
}

void attribute(std::string& out, std::string_view name, std::uint64_t value) {
    std::string text;
    append_decimal(text, value);
    attribute(out, name, text);
}

void property(std::string& out, std::string_view name, std::string_view value) {
    out.append("      <property");
    attribute(out, "name", name);
    attribute(out, "value", value);
    out.append("/>\n");
}

// The wall-time interval of a process during the run.
std::uint64_t process_time_ns(const RunReport& report, const ProcessView& p) {
    std::int64_t start = report.start_unix_ns;
    std::int64_t end = report.end_unix_ns;
    if (p.traced && p.traced->start_mono_ns)
        start = report.clock.to_unix_ns(*p.traced->start_mono_ns);
    if (p.traced && p.traced->exit_mono_ns)
        end = report.clock.to_unix_ns(*p.traced->exit_mono_ns);
    return end > start ? static_cast<std::uint64_t>(end - start) : 0;
}

// The leak's sentence (output/report_format.hpp), and how it ended:
// "pid 1234 server fd 5 127.0.0.1:8080 -> 127.0.0.1:50312 in CLOSE_WAIT for
// 6.10s: never closed; ended: close by 1234 server"
std::string failure_message(const LeakView& view) {
    std::string text;
    append_leak_sentence(text, *view.leak, in_state_ns(view));
    if (view.resolved) {
        text.append("; ended: ");
        append_resolution(text, *view.resolved);
    }
    return text;
}

// Several lines describing a leak, for the body of its <failure>: the
// message again (GitLab shows only the body), then every detail.
std::string failure_details(const RunReport& report, Rfc3339Clock& clock, const ProcessView& p,
                            const LeakView& view) {
    const Leak& leak = *view.leak;
    std::string text = failure_message(view);
    text.append("\n\n");
    const auto label = [&text](std::string_view name) {
        text.append(name);
        append_padding(text, name.size(), 12);
    };
    label("socket:");
    append_connection(text, leak.address);
    text.append(" (");
    text.append(family_name(leak.address.family));
    text.append(", netns ");
    append_decimal(text, leak.address.netns);
    text.append(", sock ");
    append_decimal(text, leak.cookie);
    text.append(")\n");
    label("process:");
    append_process_name(text, p, 4096);
    text.push_back('\n');
    label("fd:");
    if (leak.fd)
        append_decimal(text, *leak.fd);
    else
        text.append("unknown");
    text.push_back('\n');
    label("verdict:");
    text.append(verdict_label(leak.verdict));
    text.push_back('\n');
    label("CLOSE_WAIT:");
    append_close_wait_duration(text, view);
    text.append(" (entered ");
    clock.append(text, report.clock.to_unix_ns(leak.entered_mono_ns));
    text.append(leak.since_start ? " or earlier, reported " : ", reported ");
    clock.append(text, report.clock.to_unix_ns(leak.reported_mono_ns));
    text.append(")\n");
    label("recv-q:");
    append_plural(text, leak.rx_queue, "byte unread", "bytes unread");
    text.push_back('\n');
    label("owner:");
    if (leak.owner_pid)
        append_pid_comm(text, *leak.owner_pid, leak.owner_comm);
    else
        text.append("unknown");
    text.push_back('\n');
    if (leak.closed_by) {
        label("closed by:");
        append_closer(text, *leak.closed_by);
        text.push_back('\n');
    }
    label("held by:");
    if (leak.holders.empty())
        text.append("unknown");
    else
        append_holders(text, leak.holders);
    text.push_back('\n');
    label("ended:");
    if (view.resolved) {
        append_resolution(text, *view.resolved);
        text.append(" at ");
        clock.append(text, report.clock.to_unix_ns(view.resolved->resolved_mono_ns));
        text.append(" after ");
        append_duration_short(text, view.resolved->in_state_ns);
        text.append(" in CLOSE_WAIT\n");
    } else {
        text.append("still in CLOSE_WAIT at the end of the run\n");
    }
    return text;
}

// "fd 5 127.0.0.1:8080 -> 127.0.0.1:50312": which socket a test case is about.
void append_socket_label(std::string& out, const Leak& leak) {
    if (leak.fd) {
        out.append("fd ");
        append_decimal(out, *leak.fd);
    } else {
        out.append("fd ?");
    }
    out.push_back(' ');
    append_connection(out, leak.address);
}

// The <system-out> of a process's test cases: its outcome, then every
// socket it left in CLOSE_WAIT (the same for each of its test cases).
std::string process_summary(const RunReport& report, const ProcessView& p) {
    std::string summary;
    append_process_name(summary, p, 4096);
    summary.append(": ");
    if (!p.traced)
        summary.append("not among the traced processes");
    else if (p.traced->exit_status)
        append_wait_status(summary, *p.traced->exit_status);
    else
        summary.append("still running or exit not seen");
    summary.push_back('\n');
    if (p.leaks.empty()) {
        summary.append("no socket left in CLOSE_WAIT past ");
        append_threshold(summary, threshold_ns(report));
        summary.push_back('\n');
    } else {
        append_plural(summary, p.leaks.size(), "socket", "sockets");
        summary.append(" leaked in CLOSE_WAIT past ");
        append_threshold(summary, threshold_ns(report));
        summary.append(":\n");
        append_leak_rows(summary, p, "  ");
    }
    return summary;
}

// <testcase> with an optional <failure> (already rendered) and <system-out>.
void append_testcase(std::string& out, std::string_view name, std::string_view time, const std::string* failure,
                     std::string_view system_out) {
    out.append("    <testcase");
    attribute(out, "classname", "tcpleak.sockets");
    attribute(out, "name", name);
    attribute(out, "time", time);
    out.append(">\n");
    if (failure)
        out.append(*failure);
    out.append("      <system-out>");
    append_xml_escaped(out, system_out, false);
    out.append("</system-out>\n");
    out.append("    </testcase>\n");
}

} // namespace

// ---------------------------------------------------------------- public

void append_xml_escaped(std::string& out, std::string_view text, bool attribute) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            switch (c) {
            case '&': out.append("&amp;"); break;
            case '<': out.append("&lt;"); break;
            case '>': out.append("&gt;"); break;
            case '"': out.append("&quot;"); break;
            case '\'': out.append("&apos;"); break;
            case '\r': out.append("&#13;"); break; // parsers turn a raw CR into LF
            case '\t':
            case '\n':
                if (attribute)
                    out.append(c == '\t' ? "&#9;" : "&#10;"); // else normalized to spaces
                else
                    out.push_back(static_cast<char>(c));
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    out.append("\\x");
                    out.push_back(kHexDigits[c >> 4]);
                    out.push_back(kHexDigits[c & 0xf]);
                } else {
                    out.push_back(static_cast<char>(c));
                }
                break;
            }
            ++i;
            continue;
        }
        const Utf8Sequence seq = next_utf8_sequence(text.substr(i));
        const char32_t cp = seq.code_point;
        const bool allowed = seq.valid && !(cp >= 0x80 && cp <= 0x9f) && cp != 0xfffe && cp != 0xffff &&
                             !(cp >= 0xd800 && cp <= 0xdfff);
        if (allowed) {
            out.append(text.substr(i, seq.length));
        } else {
            for (std::size_t k = 0; k < seq.length; ++k) {
                const auto byte = static_cast<unsigned char>(text[i + k]);
                out.append("\\x");
                out.push_back(kHexDigits[byte >> 4]);
                out.push_back(kHexDigits[byte & 0xf]);
            }
        }
        i += seq.length;
    }
}

void append_run_report_text(std::string& out, const RunReport& report) {
    const ReportModel model = build_model(report);
    const std::uint64_t threshold = threshold_ns(report);
    const std::size_t traced = report.processes.size();

    if (model.leaks.empty()) {
        out.append("tcpleak: no socket left in CLOSE_WAIT past ");
        append_threshold(out, threshold);
        out.append(" by ");
        append_plural(out, traced, "traced process", "traced processes");
        out.append(" \u2014 ");
        end_with_command(out, report);
        return;
    }

    out.append("tcpleak: ");
    append_plural(out, model.leaks.size(), "socket", "sockets");
    out.append(" leaked in CLOSE_WAIT by ");
    append_plural(out, model.leaking_processes, "process", "processes");
    out.append(" (threshold ");
    append_threshold(out, threshold);
    out.append(") \u2014 exit status ");
    append_decimal(out, report.exit_status);
    out.push_back('\n');
    for (const ProcessView& p : model.processes) {
        if (p.leaks.empty())
            continue;
        out.append("  pid ");
        append_pid_comm(out, p.pid, p.comm);
        if (!p.cmdline.empty()) {
            out.append("  ");
            append_printable_limited(out, p.cmdline, 200);
        }
        if (!p.traced)
            out.append("  (not among the traced processes)");
        out.push_back('\n');
        append_leak_rows(out, p, "    ");
    }
    out.append("tcpleak: traced ");
    append_plural(out, traced, "process", "processes");
    out.append(", ");
    append_plural(out, transitions_total(report), "transition", "transitions");
    out.append(", ");
    append_plural(out, report.kernel.lost(), "lost event", "lost events");
    out.append("; ");
    end_with_command(out, report);
}

std::string render_json_report(const RunReport& report) {
    const ReportModel model = build_model(report);
    Rfc3339Clock clock;
    std::string compact;
    JsonWriter json(compact);
    json.begin_object();
    json.field("tool", "tcpleak");
    json.field("version", TCPLEAK_VERSION);
    json.field("schema_version", kRunReportSchemaVersion);
    json.field("type", "run_report");
    json.key("command");
    json.begin_array();
    for (const std::string& word : report.command)
        json.string(word);
    json.end_array();
    write_time_field(json, clock, "start_time", report.start_unix_ns);
    write_time_field(json, clock, "end_time", report.end_unix_ns);
    json.field("duration_ms", run_duration_ns(report) / 1'000'000);
    json.field("threshold_ms", threshold_ns(report) / 1'000'000);
    json.key("states");
    json.begin_array();
    for (std::uint8_t state = 1; state < 32; ++state)
        if ((report.states >> state) & 1)
            json.string(tcp_state_name(state));
    json.end_array();
    json.field("exit_status", report.exit_status);
    json.field("command_exit_code", report.command_exit_code);
    json.field("command_signal", report.command_signal);
    json.field("leaks_found", model.leaks.size());

    json.key("processes");
    json.begin_array();
    for (const ProcessView& p : model.processes) {
        json.begin_object();
        json.field("pid", p.pid);
        if (p.traced)
            json.field("ppid", p.traced->ppid);
        else
            json.field("ppid", std::nullopt);
        json.field("comm", comm_view(p.comm));
        json.field("cmdline", p.cmdline);
        json.field("traced", p.traced != nullptr);
        const std::optional<int> status = p.traced ? p.traced->exit_status : std::nullopt;
        json.field("exit_status", status);
        json.key("exit_code");
        if (status && WIFEXITED(*status))
            json.number(WEXITSTATUS(*status));
        else
            json.null();
        json.key("exit_signal");
        if (status && WIFSIGNALED(*status))
            json.number(WTERMSIG(*status));
        else
            json.null();
        if (p.traced && p.traced->start_mono_ns)
            write_time_field(json, clock, "start_time", report.clock.to_unix_ns(*p.traced->start_mono_ns));
        else
            json.field("start_time", std::nullopt);
        if (p.traced && p.traced->exit_mono_ns)
            write_time_field(json, clock, "exit_time", report.clock.to_unix_ns(*p.traced->exit_mono_ns));
        else
            json.field("exit_time", std::nullopt);
        json.key("leaks");
        json.begin_array();
        for (const LeakView& view : p.leaks)
            write_leak(json, clock, report, view);
        json.end_array();
        json.end_object();
    }
    json.end_array();

    json.key("leaks");
    json.begin_array();
    for (const LeakView& view : model.leaks)
        write_leak(json, clock, report, view);
    json.end_array();

    json.key("transitions");
    json.begin_object();
    std::string name;
    for (const auto& [states, count] : report.transitions) {
        name.clear();
        append_state(name, states.first);
        name.append("->");
        append_state(name, states.second);
        json.field(name, count);
    }
    json.end_object();
    json.field("lost_events", report.kernel.lost());
    write_tracking_members(json, report.tracking);
    write_kernel_field(json, report.kernel);
    json.end_object();

    std::string out = indent_json(compact);
    out.push_back('\n');
    return out;
}

// Layout (as read by Jenkins' JUnit plugin, GitLab, and the GitHub Actions
// reporters mikepenz/action-junit-report and dorny/test-reporter):
//   <testsuites>            the run
//     <testsuite>           COMMAND, with the run's settings as properties
//       <testcase>          a process that left no socket in CLOSE_WAIT: passes
//       <testcase>          one per socket a process left there: fails
//         <failure>         that socket
//         <system-out>      the process's outcome and all its leak lines
// One <failure> per test case, as JUnit itself writes them: reporters that
// meet several in one test case count them differently and some show only
// the first (the Jenkins plugin, dorny/test-reporter), so a process that
// leaked three sockets is three failing test cases, each shown everywhere.
// Hence "failures" is the number of <failure> elements and of leaked
// sockets, and never exceeds "tests". The output validates against
// docs/junit.xsd (the stricter rules of the Ant and Jenkins schemas).
std::string render_junit(const RunReport& report) {
    const ReportModel model = build_model(report);
    Rfc3339Clock clock;
    const std::string timestamp = junit_timestamp(report.start_unix_ns);
    const std::string hostname = report.hostname.empty() ? local_hostname() : report.hostname;
    // A test case per clean process and per leaked socket: every leak view
    // belongs to exactly one process, so failures == leaked sockets.
    std::uint64_t tests = 0;
    for (const ProcessView& p : model.processes)
        tests += p.leaks.empty() ? 1 : p.leaks.size();
    const std::uint64_t failures = model.leaks.size();
    std::string duration;
    append_seconds(duration, run_duration_ns(report));
    std::string command;
    append_command(command, report.command);

    std::string out;
    out.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.append("<testsuites");
    attribute(out, "name", "tcpleak");
    attribute(out, "tests", tests);
    attribute(out, "failures", failures);
    attribute(out, "errors", 0);
    attribute(out, "time", duration);
    out.append(">\n"); // no timestamp here: docs/junit.xsd, like Jenkins' junit-10.xsd, allows it on <testsuite> only

    out.append("  <testsuite");
    attribute(out, "name", "tcpleak run: " + command);
    attribute(out, "tests", tests);
    attribute(out, "failures", failures);
    attribute(out, "errors", 0);
    attribute(out, "skipped", 0);
    attribute(out, "time", duration);
    attribute(out, "timestamp", timestamp);
    attribute(out, "hostname", hostname);
    out.append(">\n");

    out.append("    <properties>\n");
    property(out, "command", command);
    std::string threshold;
    append_threshold(threshold, threshold_ns(report));
    property(out, "threshold", threshold);
    property(out, "leaked_sockets", std::to_string(model.leaks.size()));
    property(out, "lost_events", std::to_string(report.kernel.lost()));
    property(out, "tracking_complete", report.tracking.complete ? "true" : "false");
    property(out, "exit_status", std::to_string(report.exit_status));
    std::string outcome;
    append_command_outcome(outcome, report);
    property(out, "command_status", outcome);
    property(out, "tcpleak_version", TCPLEAK_VERSION);
    out.append("    </properties>\n");

    for (const ProcessView& p : model.processes) {
        std::string name;
        append_process_name(name, p, 120);
        std::string time;
        append_seconds(time, process_time_ns(report, p));
        const std::string system_out = process_summary(report, p);
        if (p.leaks.empty()) {
            append_testcase(out, name, time, nullptr, system_out);
            continue;
        }
        for (const LeakView& view : p.leaks) {
            std::string failure;
            failure.append("      <failure");
            attribute(failure, "type", verdict_name(view.leak->verdict));
            attribute(failure, "message", failure_message(view));
            failure.append(">");
            append_xml_escaped(failure, failure_details(report, clock, p, view), false);
            failure.append("</failure>\n");
            std::string socket_name = name;
            socket_name.append(" [");
            append_socket_label(socket_name, *view.leak);
            socket_name.push_back(']');
            append_testcase(out, socket_name, time, &failure, system_out);
        }
    }
    out.append("  </testsuite>\n");
    out.append("</testsuites>\n");
    return out;
}

} // namespace tcpleak
