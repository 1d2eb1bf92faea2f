// The JUnit XML of `tcpleak run`: a test case per process that left no
// socket in CLOSE_WAIT, one per socket a process left there. Every text goes
// through append_printable (report_words.cpp, output/report_format.hpp) and
// then append_xml_escaped.

#include "report_model.hpp"

#include "tcpleak/output/report_format.hpp"
#include "tcpleak/output/text_format.hpp"

#include <unistd.h>

#include <climits>

namespace tcpleak {

using namespace report_detail;

namespace {

// "6.1s", or ">=6.1s" when the entry into CLOSE_WAIT was before tracing (an estimate).
void append_close_wait_duration(std::string& out, const LeakView& view) {
    append_age(out, in_state_ns(view), view.leak->since_start);
}

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
