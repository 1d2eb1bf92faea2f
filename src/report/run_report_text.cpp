// The text report of `tcpleak run`, for stderr: the verdict, then each leak
// per process, then COMMAND and how it ended.

#include "report_model.hpp"

#include "tcpleak/output/report_format.hpp"
#include "tcpleak/output/text_format.hpp"

namespace tcpleak {

using namespace report_detail;

namespace {

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

} // namespace

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

} // namespace tcpleak
