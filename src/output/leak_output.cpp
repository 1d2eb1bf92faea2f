// The two outputs of `tcpleak leaks`: NDJSON records (schema version 1, see
// docs/tcpleak-events.schema.json) and, for people, a per-process table of
// the sockets left in CLOSE_WAIT.
//
// The leak object (pid ... entered_time) is written by write_leak_members,
// as the leaks of `tcpleak run`'s JSON report
// (src/report/run_report_json.cpp), and the start/lost/summary conventions
// are those of `tcpleak trace` (src/output/trace_output.cpp).
//
// Process names and command lines are attacker-controlled bytes: the JSON
// goes through JsonWriter (append_json_string), the text through
// append_printable.

#include "tcpleak/output/leak_output.hpp"

#include "tcpleak/output/json_writer.hpp"
#include "tcpleak/core/records.hpp"
#include "tcpleak/output/report_format.hpp"
#include "tcpleak/output/text_format.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace tcpleak {

namespace {

std::uint64_t run_duration_ns(const LeakSummary& s) { return elapsed_ns(s.start_unix_ns, s.end_unix_ns); }

// Time in CLOSE_WAIT when the leak was reported.
std::uint64_t close_wait_at_report_ns(const Leak& leak) {
    return sub_sat(leak.reported_mono_ns, leak.entered_mono_ns);
}


// ---------------------------------------------------------------- NDJSON

class JsonLeakOutput final : public LeakOutput {
public:
    JsonLeakOutput(OutputBuffer& out, const ClockMapping& clock) : records_(out), clock_(clock) {}

    void start(const StartInfo& info, Duration threshold, std::uint32_t states) override {
        mode_ = info.mode;
        JsonWriter json = records_.begin_start(info.mode, info.unix_ns, info.version);
        json.field("threshold_ms", nonnegative_ns(threshold) / 1'000'000);
        json.key("states");
        json.begin_array();
        for (std::uint8_t state = 1; state < 32; ++state)
            if ((states >> state) & 1)
                json.string(tcp_state_name(state));
        json.end_array();
        records_.end(json);
    }

    void leak(const Leak& leak) override {
        if (records_.closed())
            return;
        JsonWriter json = records_.begin("leak", clock_.to_unix_ns(leak.reported_mono_ns));
        write_leak_members(json, leak, close_wait_at_report_ns(leak), clock_, records_.rfc3339());
        records_.end(json);
    }

    void resolved(const LeakResolved& r) override {
        if (records_.closed())
            return;
        const Leak& leak = r.leak;
        JsonWriter json = records_.begin("leak_resolved", clock_.to_unix_ns(r.resolved_mono_ns));
        write_pid_comm(json, "pid", "comm", leak_pid(leak), leak.comm);
        json.field("fd", leak.fd);
        write_address_members(json, leak.address);
        json.field("sock", leak.cookie);
        json.field("how", resolved_how_name(r.how));
        write_pid_comm(json, "by_pid", "by_comm", r.by_pid, r.by_comm);
        json.field("state", tcp_state_name(leak.state));
        if (r.to_state)
            json.field("to_state", tcp_state_name(*r.to_state));
        else
            json.field("to_state", std::nullopt);
        json.field("in_state_ms", r.in_state_ns / 1'000'000);
        if (leak.state == kTcpCloseWait)
            json.field("close_wait_ms", r.in_state_ns / 1'000'000);
        else
            json.field("close_wait_ms", std::nullopt);
        json.field("since_start", leak.since_start);
        json.field("verdict", verdict_name(leak.verdict));
        write_workload_members(json, leak.workload);
        records_.end(json);
    }

    void lost(std::uint64_t count, std::uint64_t total, std::uint64_t mono_ns) override {
        records_.lost(count, total, clock_.to_unix_ns(mono_ns));
    }

    void reconciled(const ReconcileNotice& report) override {
        if (records_.closed())
            return;
        JsonWriter json = records_.begin("reconciled", clock_.to_unix_ns(report.mono_ns));
        json.field("reason", "lost_events");
        write_time_field(json, records_.rfc3339(), "gap_start_time", clock_.to_unix_ns(report.gap_start_ns));
        json.field("events_lost", report.events_lost);
        json.field("found", report.found);
        json.field("vanished", report.vanished);
        json.field("covered", report.covered);
        records_.end(json);
    }

    void refresh(const std::vector<Leak>&, std::uint64_t) override {}

    void summary(const LeakSummary& summary) override {
        if (records_.closed())
            return;
        JsonWriter json = records_.begin_summary(mode_, summary.start_unix_ns, summary.end_unix_ns);
        json.field("threshold_ms", nonnegative_ns(summary.threshold) / 1'000'000);
        json.field("leaks", summary.leaks_reported);
        json.field("resolved", summary.leaks_resolved);
        json.field("still_leaked", static_cast<std::uint64_t>(summary.still_leaked.size()));
        json.field("close_wait_seen", summary.close_wait_seen);
        json.field("close_wait_unheld", summary.close_wait_unheld);
        write_tracking_members(json, summary.tracking);
        json.field("lost", summary.kernel.lost());
        write_kernel_field(json, summary.kernel);
        json.field("bpf_map_bytes", summary.bpf_map_bytes);
        records_.end(json);
    }

private:
    NdjsonRecords records_;
    const ClockMapping& clock_;
    std::string mode_ = "leaks";
};

// ---------------------------------------------------------------- text pieces

// Untrusted bytes, printable, in at most max_columns terminal columns: cut
// at a UTF-8 sequence boundary and ended with "..." when too long. Returns
// the columns used.
std::size_t append_printable_capped(std::string& out, std::string_view bytes, std::size_t max_columns) {
    const std::size_t start = out.size();
    const std::size_t columns = append_printable(out, bytes);
    if (columns <= max_columns)
        return columns;
    out.resize(start);
    std::size_t used = 0;
    std::string piece;
    for (std::size_t i = 0; i < bytes.size();) {
        const std::size_t length = next_utf8_sequence(bytes.substr(i)).length;
        piece.clear();
        const std::size_t width = append_printable(piece, bytes.substr(i, length));
        if (used + width + 3 > max_columns)
            break;
        out.append(piece);
        used += width;
        i += length;
    }
    out.append("...");
    return used + 3;
}


// ---------------------------------------------------------------- the table

constexpr std::size_t kPidWidth = 9;        // "PID" column of the process rows
constexpr std::size_t kCommWidth = 17;      // 16-byte comm
constexpr std::size_t kLeakedWidth = 6;     // "LEAKED", right-aligned
constexpr std::size_t kOldestWidth = 9;     // ">=59m59s" and a gap
constexpr std::size_t kCmdlineColumns = 60; // COMMAND is cut beyond this
constexpr std::size_t kFdWidth = 6;
constexpr std::size_t kEndpointWidth = 23;  // "255.255.255.255:65535"; IPv6 may overflow
constexpr std::size_t kCloseWaitWidth = 12; // "CLOSE_WAIT"
constexpr std::size_t kRecvQWidth = 8;      // "RECV-Q"
constexpr std::string_view kSocketIndent = "  ";

constexpr std::string_view kClearScreen = "\x1b[H\x1b[2J";

void cell(std::string& row, std::string_view text, std::size_t width) {
    row.append(text);
    append_padding(row, text.size(), width);
}

struct ProcessLeaks {
    std::uint32_t pid = 0;
    std::vector<const Leak*> leaks; // by fd (unknown last), then cookie
    std::uint64_t oldest_ns = 0;
    bool oldest_estimate = false;
};

// Groups by Leak::pid; most leaks first, then by pid.
std::vector<ProcessLeaks> group_by_process(const std::vector<Leak>& leaks, std::uint64_t now_mono_ns) {
    std::vector<const Leak*> sorted;
    sorted.reserve(leaks.size());
    for (const Leak& leak : leaks)
        sorted.push_back(&leak);
    std::sort(sorted.begin(), sorted.end(), [](const Leak* a, const Leak* b) {
        // nullopt sorts first in optional's <, so compare "unknown" explicitly
        const auto key = [](const Leak* l) {
            return std::tuple(l->pid, !l->fd.has_value(), l->fd.value_or(0), l->cookie);
        };
        return key(a) < key(b);
    });
    std::vector<ProcessLeaks> processes;
    for (const Leak* leak : sorted) {
        if (processes.empty() || processes.back().pid != leak->pid)
            processes.push_back({leak->pid, {}, 0, false});
        ProcessLeaks& p = processes.back();
        p.leaks.push_back(leak);
        const std::uint64_t age = sub_sat(now_mono_ns, leak->entered_mono_ns);
        if (p.leaks.size() == 1 || age > p.oldest_ns) {
            p.oldest_ns = age;
            p.oldest_estimate = leak->since_start;
        }
    }
    std::stable_sort(processes.begin(), processes.end(), [](const ProcessLeaks& a, const ProcessLeaks& b) {
        return a.leaks.size() > b.leaks.size();
    });
    return processes;
}

// The per-process table, without a title: a row per process, its sockets
// under it.
void append_process_table(std::string& out, const std::vector<Leak>& leaks, std::uint64_t now_mono_ns) {
    const std::vector<ProcessLeaks> processes = group_by_process(leaks, now_mono_ns);
    const bool close_wait_only =
        std::all_of(leaks.begin(), leaks.end(), [](const Leak& l) { return l.state == kTcpCloseWait; });
    cell(out, "PID", kPidWidth);
    cell(out, "COMM", kCommWidth);
    out.append("LEAKED  ");
    cell(out, "OLDEST", kOldestWidth);
    out.append("COMMAND\n");
    std::string text;
    bool any_estimate = false;
    for (const ProcessLeaks& p : processes) {
        const Leak& first = *p.leaks.front();
        std::size_t start = out.size();
        append_decimal(out, p.pid);
        append_padding(out, out.size() - start, kPidWidth);
        append_padding(out, append_printable(out, comm_view(first.comm)), kCommWidth);
        text.clear();
        append_decimal(text, p.leaks.size());
        if (text.size() < kLeakedWidth)
            out.append(kLeakedWidth - text.size(), ' ');
        out.append(text);
        out.append("  ");
        text.clear();
        append_age(text, p.oldest_ns, p.oldest_estimate);
        cell(out, text, kOldestWidth);
        std::string_view cmdline;
        for (const Leak* leak : p.leaks) // the first one known
            if (!(cmdline = leak->cmdline).empty())
                break;
        if (cmdline.empty())
            out.push_back('-');
        else
            append_printable_capped(out, cmdline, kCmdlineColumns);
        out.push_back('\n');

        out.append(kSocketIndent);
        cell(out, "FD", kFdWidth);
        cell(out, "LOCAL", kEndpointWidth);
        cell(out, "REMOTE", kEndpointWidth);
        cell(out, close_wait_only ? "CLOSE_WAIT" : "AGE", kCloseWaitWidth);
        cell(out, "RECV-Q", kRecvQWidth);
        out.append("VERDICT\n");
        for (const Leak* leak : p.leaks) {
            out.append(kSocketIndent);
            start = out.size();
            append_fd(out, leak->fd);
            append_padding(out, out.size() - start, kFdWidth);
            start = out.size();
            append_endpoint(out, leak->address.family, leak->address.saddr, leak->address.sport);
            append_padding(out, out.size() - start, kEndpointWidth);
            start = out.size();
            append_endpoint(out, leak->address.family, leak->address.daddr, leak->address.dport);
            append_padding(out, out.size() - start, kEndpointWidth);
            start = out.size();
            append_age(out, sub_sat(now_mono_ns, leak->entered_mono_ns), leak->since_start);
            append_padding(out, out.size() - start, kCloseWaitWidth);
            start = out.size();
            append_decimal(out, leak->rx_queue);
            append_padding(out, out.size() - start, kRecvQWidth);
            if (leak->state != kTcpCloseWait) {
                out.append(tcp_state_name(leak->state));
                out.append(": ");
            }
            append_verdict(out, *leak, VerdictForm::Compact);
            out.push_back('\n');
            any_estimate |= leak->since_start;
        }
    }
    if (any_estimate)
        out.append(">= already in its state when tcpleak started: the age is an estimate, at least this long\n");
}

// Title line, then the table or the all-clear message.
void append_screen(std::string& out, const std::vector<Leak>& leaks, std::uint64_t now_mono_ns,
                   std::uint64_t threshold_ns, std::uint32_t states, const ClockMapping& clock,
                   LocalTimeClock& local) {
    out.append("tcpleak leaks  ");
    const std::size_t start = out.size();
    local.append(out, clock.to_unix_ns(now_mono_ns));
    out.resize(std::min(out.size(), start + 8)); // "HH:MM:SS", no milliseconds
    out.append("  threshold ");
    append_threshold(out, threshold_ns);
    if (leaks.empty()) {
        out.append("\nNo socket has been in ");
        append_state_list(out, states);
        out.append(" longer than ");
        append_threshold(out, threshold_ns);
        out.append(".\n");
        return;
    }
    std::vector<std::uint32_t> pids;
    for (const Leak& leak : leaks)
        pids.push_back(leak.pid);
    std::sort(pids.begin(), pids.end());
    const auto processes = static_cast<std::uint64_t>(std::unique(pids.begin(), pids.end()) - pids.begin());
    out.append("  ");
    append_plural(out, leaks.size(), "socket", "sockets");
    out.append(" leaked by ");
    append_plural(out, processes, "process", "processes");
    out.push_back('\n');
    append_process_table(out, leaks, now_mono_ns);
}

// ---------------------------------------------------------------- text

class TextLeakOutput final : public LeakOutput {
public:
    TextLeakOutput(OutputBuffer& out, OutputBuffer& err, const ClockMapping& clock, bool interactive)
        : out_(out), err_(err), clock_(clock), interactive_(interactive) {}

    void start(const StartInfo&, Duration threshold, std::uint32_t states) override {
        threshold_ns_ = nonnegative_ns(threshold);
        states_ = states;
        std::string& line = err_.buffer();
        line.append("Watching for sockets left in ");
        append_state_list(line, states);
        line.append(" longer than ");
        append_threshold(line, threshold_ns_);
        line.append("; Ctrl-C to end.\n");
        err_.maybe_flush();
    }

    void leak(const Leak& leak) override {
        if (interactive_ || out_.closed())
            return;
        std::string& line = begin_line(leak.reported_mono_ns, "LEAK      ");
        append_leak_sentence(line, leak, close_wait_at_report_ns(leak));
        line.push_back('\n');
        // Under the socket words, past the time and the event name.
        append_explanation_lines(line, leak, "                       ");
        out_.maybe_flush();
    }

    void resolved(const LeakResolved& r) override {
        if (interactive_ || out_.closed())
            return;
        std::string& line = begin_line(r.resolved_mono_ns, "RESOLVED  ");
        append_leaked_socket(line, r.leak);
        line.append(" after ");
        append_age(line, r.in_state_ns, r.leak.since_start);
        line.append(": ");
        append_resolution(line, r);
        line.push_back('\n');
        out_.maybe_flush();
    }

    void lost(std::uint64_t count, std::uint64_t total, std::uint64_t) override {
        write_lost_line(err_, count, total);
    }

    void reconciled(const ReconcileNotice& notice) override {
        append_reconciled_line(err_.buffer(), notice);
        err_.maybe_flush();
    }

    void refresh(const std::vector<Leak>& active, std::uint64_t now_mono_ns) override {
        if (out_.closed())
            return;
        std::string& out = out_.buffer();
        if (interactive_) {
            out.append(kClearScreen);
        } else {
            // A log gets a table only when the set of leaks changed.
            std::vector<std::uint64_t> cookies;
            cookies.reserve(active.size());
            for (const Leak& leak : active)
                cookies.push_back(leak.cookie);
            std::sort(cookies.begin(), cookies.end());
            if (table_printed_ && cookies == printed_cookies_)
                return;
            printed_cookies_ = std::move(cookies);
            if (wrote_any_)
                out.push_back('\n');
            after_table_ = true;
            wrote_any_ = true;
        }
        table_printed_ = true;
        append_screen(out, active, now_mono_ns, threshold_ns_, states_, clock_, local_);
        out_.maybe_flush();
    }

    void summary(const LeakSummary& summary) override {
        std::string& out = err_.buffer();
        const std::uint64_t threshold = nonnegative_ns(summary.threshold);
        out.append("tcpleak leaks: ");
        std::string where;
        append_leaked_in(where, states_);
        where += " past ";
        if (summary.leaks_reported == 0) {
            out.append("no socket");
            out.append(where);
            append_threshold(out, threshold);
        } else {
            append_plural(out, summary.leaks_reported, "socket", "sockets");
            out.append(where);
            append_threshold(out, threshold);
            out.append(" (");
            append_decimal(out, summary.leaks_resolved);
            out.append(" resolved, ");
            append_decimal(out, summary.still_leaked.size());
            out.append(" still leaked)");
        }
        out.append(" in ");
        append_duration_short(out, run_duration_ns(summary));
        out.append("; ");
        append_plural(out, summary.kernel.lost(), "event", "events");
        out.append(" lost\n");
        if (!summary.still_leaked.empty())
            append_process_table(out, summary.still_leaked, clock_.to_mono_ns(summary.end_unix_ns));
        if (summary.close_wait_unheld > 0) {
            out.append("tcpleak: note: ");
            append_plural(out, summary.close_wait_unheld, "socket", "sockets");
            out.append(" in CLOSE_WAIT past the threshold held by no descriptor when looked at (never accepted,"
                       " or in flight over a unix socket): reported only once a descriptor holds them\n");
        }
        append_tracking_text(out, summary.tracking);
        append_kernel_line(out, summary.kernel, summary.bpf_map_bytes);
        err_.maybe_flush();
    }

private:
    // "08:10:01.123 LEAK      ", after a blank line when a table was the
    // last thing written.
    std::string& begin_line(std::uint64_t mono_ns, std::string_view what) {
        std::string& line = out_.buffer();
        if (after_table_)
            line.push_back('\n');
        after_table_ = false;
        wrote_any_ = true;
        local_.append(line, clock_.to_unix_ns(mono_ns));
        line.push_back(' ');
        line.append(what);
        return line;
    }

    OutputBuffer& out_;
    OutputBuffer& err_;
    const ClockMapping& clock_;
    const bool interactive_;
    std::uint64_t threshold_ns_ = 0;
    std::uint32_t states_ = 1U << kTcpCloseWait;
    LocalTimeClock local_;
    // Non-interactive: what the last table showed, and spacing between
    // tables and event lines.
    bool table_printed_ = false;
    std::vector<std::uint64_t> printed_cookies_;
    bool wrote_any_ = false;
    bool after_table_ = false;
};

} // namespace

std::unique_ptr<LeakOutput> make_json_leak_output(OutputBuffer& out, const ClockMapping& clock) {
    return std::make_unique<JsonLeakOutput>(out, clock);
}

std::unique_ptr<LeakOutput> make_text_leak_output(OutputBuffer& out, OutputBuffer& err, const ClockMapping& clock,
                                                  bool interactive) {
    return std::make_unique<TextLeakOutput>(out, err, clock, interactive);
}

} // namespace tcpleak
