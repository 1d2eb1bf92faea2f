// The two outputs of `tcpleak leaks`: NDJSON records (schema version 1, see
// docs/tcpleak-events.schema.json) and, for people, a per-process table of
// the sockets left in CLOSE_WAIT.
//
// The leak object (pid ... entered_time) has the field names and meanings of
// the leaks of `tcpleak run`'s JSON report (src/run_report.cpp), and the
// start/lost/summary conventions are those of `tcpleak trace`
// (src/trace_output.cpp).
//
// Process names and command lines are attacker-controlled bytes: the JSON
// goes through JsonWriter (append_json_string), the text through
// append_printable.

#include "tcpleak/leak_output.hpp"

#include "tcpleak/json_writer.hpp"
#include "tcpleak/records.hpp"
#include "tcpleak/text_format.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace tcpleak {

namespace {

// Kernel counters in the order and with the names of the trace summary's
// "kernel" object (as in trace_output.cpp and run_report.cpp).
struct CounterName {
    std::string_view name;
    std::uint64_t KernelCounters::*member;
};
constexpr CounterName kCounterNames[] = {
    {"transitions_seen", &KernelCounters::transitions},
    {"sent", &KernelCounters::sent},
    {"lost", &KernelCounters::lost},
    {"storage_failed", &KernelCounters::storage_failed},
    {"accept_map_full", &KernelCounters::accept_map_full},
    {"accept_missed", &KernelCounters::accept_missed},
    {"release_map_update_failed", &KernelCounters::release_map_update_failed},
    {"pids_full", &KernelCounters::pids_full},
};

std::uint64_t sub_sat(std::uint64_t a, std::uint64_t b) { return a > b ? a - b : 0; }

std::uint64_t nonnegative_ns(Duration d) { return d.count() > 0 ? static_cast<std::uint64_t>(d.count()) : 0; }

std::uint64_t run_duration_ns(const LeakSummary& summary) {
    const std::int64_t ns = summary.end_unix_ns - summary.start_unix_ns;
    return ns > 0 ? static_cast<std::uint64_t>(ns) : 0;
}

// Time in CLOSE_WAIT when the leak was reported.
std::uint64_t close_wait_at_report_ns(const Leak& leak) {
    return sub_sat(leak.reported_mono_ns, leak.entered_mono_ns);
}

// A CLOCK_MONOTONIC time of the event loop from a Unix time (the summary's end).
std::uint64_t to_mono_ns(const ClockMapping& clock, std::int64_t unix_ns) {
    const std::int64_t mono = unix_ns - clock.offset_ns;
    return mono > 0 ? static_cast<std::uint64_t>(mono) : 0;
}

// ---------------------------------------------------------------- NDJSON

class JsonLeakOutput final : public LeakOutput {
public:
    JsonLeakOutput(OutputBuffer& out, const ClockMapping& clock) : out_(out), clock_(clock) {}

    void start(const StartInfo& info, Duration threshold) override {
        mode_ = info.mode;
        JsonWriter json = begin_record("start", info.unix_ns);
        json.field("tool", "tcpleak");
        json.field("version", info.version);
        json.field("schema_version", kEventsSchemaVersion);
        json.field("mode", info.mode);
        json.field("threshold_ms", nonnegative_ns(threshold) / 1'000'000);
        end_record(json);
    }

    void leak(const Leak& leak) override {
        if (out_.closed())
            return;
        JsonWriter json = begin_record("leak", clock_.to_unix_ns(leak.reported_mono_ns));
        json.field("pid", leak.pid);
        json.field("comm", comm_view(leak.comm));
        json.field("fd", leak.fd);
        json.field("cmdline", std::string_view(leak.cmdline));
        address_fields(json, leak.address);
        json.field("close_wait_ms", close_wait_at_report_ns(leak) / 1'000'000);
        json.field("rx_queue", leak.rx_queue);
        json.field("since_start", leak.since_start);
        json.field("verdict", verdict_name(leak.verdict));
        if (leak.closed_by) {
            json.field("closed_by", leak.closed_by->pid);
            json.field("closed_by_comm", comm_view(leak.closed_by->comm));
            json.field("closed_by_fd", leak.closed_by->fd);
            json.field("closed_via", std::string_view(leak.closed_by->via));
        } else {
            json.field("closed_by", std::nullopt);
            json.field("closed_by_comm", std::nullopt);
            json.field("closed_by_fd", std::nullopt);
            json.field("closed_via", std::nullopt);
        }
        json.key("holders");
        json.begin_array();
        for (const Holder& h : leak.holders) {
            json.begin_object();
            json.field("pid", h.pid);
            json.field("comm", comm_view(h.comm));
            json.field("fd", h.fd);
            json.end_object();
        }
        json.end_array();
        json.field("owner_pid", leak.owner_pid);
        if (leak.owner_pid)
            json.field("owner_comm", comm_view(leak.owner_comm));
        else
            json.field("owner_comm", std::nullopt);
        json.field("sock", leak.cookie);
        time_field(json, "entered_time", clock_.to_unix_ns(leak.entered_mono_ns));
        end_record(json);
    }

    void resolved(const LeakResolved& r) override {
        if (out_.closed())
            return;
        const Leak& leak = r.leak;
        JsonWriter json = begin_record("leak_resolved", clock_.to_unix_ns(r.resolved_mono_ns));
        json.field("pid", leak.pid);
        json.field("comm", comm_view(leak.comm));
        json.field("fd", leak.fd);
        address_fields(json, leak.address);
        json.field("sock", leak.cookie);
        json.field("how", resolved_how_name(r.how));
        json.field("by_pid", r.by_pid);
        if (r.by_pid)
            json.field("by_comm", comm_view(r.by_comm));
        else
            json.field("by_comm", std::nullopt);
        json.field("close_wait_ms", r.close_wait_ns / 1'000'000);
        json.field("since_start", leak.since_start);
        json.field("verdict", verdict_name(leak.verdict));
        end_record(json);
    }

    void lost(std::uint64_t count, std::uint64_t total, std::int64_t unix_ns) override {
        if (out_.closed())
            return;
        JsonWriter json = begin_record("lost", unix_ns);
        json.field("count", count);
        json.field("total", total);
        end_record(json);
    }

    void refresh(const std::vector<Leak>&, std::uint64_t) override {}

    void summary(const LeakSummary& summary) override {
        if (out_.closed())
            return;
        JsonWriter json = begin_record("summary", summary.end_unix_ns);
        json.field("mode", std::string_view(mode_));
        json.field("duration_ms", run_duration_ns(summary) / 1'000'000);
        json.field("threshold_ms", nonnegative_ns(summary.threshold) / 1'000'000);
        json.field("leaks", summary.leaks_reported);
        json.field("resolved", summary.leaks_resolved);
        json.field("still_leaked", static_cast<std::uint64_t>(summary.still_leaked.size()));
        json.field("close_wait_seen", summary.close_wait_seen);
        json.field("tracker_evictions", summary.tracker_evictions);
        json.field("lost", summary.kernel.lost);
        json.key("kernel");
        json.begin_object();
        for (const CounterName& counter : kCounterNames)
            json.field(counter.name, summary.kernel.*counter.member);
        json.end_object();
        json.field("bpf_map_bytes", summary.bpf_map_bytes);
        end_record(json);
    }

private:
    // Opens a record with the members every record starts with.
    JsonWriter begin_record(std::string_view type, std::int64_t unix_ns) {
        JsonWriter json(out_.buffer());
        json.begin_object();
        json.field("type", type);
        time_field(json, "time", unix_ns);
        return json;
    }

    void end_record(JsonWriter& json) {
        json.end_object();
        json.end_line();
        out_.maybe_flush();
    }

    void time_field(JsonWriter& json, std::string_view key, std::int64_t unix_ns) {
        json.key(key);
        std::string& text = json.raw_value();
        text.push_back('"');
        rfc3339_.append(text, unix_ns);
        text.push_back('"');
    }

    // family, saddr, sport, daddr, dport, netns
    static void address_fields(JsonWriter& json, const SocketAddress& a) {
        json.field("family", family_name(a.family));
        address_field(json, "saddr", a.family, a.saddr);
        json.field("sport", a.sport);
        address_field(json, "daddr", a.family, a.daddr);
        json.field("dport", a.dport);
        json.field("netns", a.netns);
    }

    static void address_field(JsonWriter& json, std::string_view key, std::uint8_t family,
                              const std::array<std::uint8_t, 16>& addr) {
        json.key(key);
        std::string& text = json.raw_value();
        text.push_back('"');
        append_ip(text, family, addr);
        text.push_back('"');
    }

    OutputBuffer& out_;
    const ClockMapping& clock_;
    Rfc3339Clock rfc3339_;
    std::string mode_ = "leaks";
};

// ---------------------------------------------------------------- text pieces

// The threshold as people type it: "5s", "500ms", else the short form.
void append_threshold(std::string& out, std::uint64_t ns) {
    if (ns != 0 && ns % 1'000'000'000 == 0) {
        append_decimal(out, ns / 1'000'000'000);
        out.push_back('s');
    } else if (ns != 0 && ns % 1'000'000 == 0) {
        append_decimal(out, ns / 1'000'000);
        out.append("ms");
    } else {
        append_duration_short(out, ns);
    }
}

void append_plural(std::string& out, std::uint64_t n, std::string_view one, std::string_view many) {
    append_decimal(out, n);
    out.push_back(' ');
    out.append(n == 1 ? one : many);
}

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

// "1234 server"
void append_pid_comm(std::string& out, std::uint32_t pid, const Comm& comm) {
    append_decimal(out, pid);
    out.push_back(' ');
    append_printable(out, comm_view(comm));
}

// "127.0.0.1:8080 -> 127.0.0.1:50312"
void append_connection(std::string& out, const SocketAddress& a) {
    append_endpoint(out, a.family, a.saddr, a.sport);
    out.append(" -> ");
    append_endpoint(out, a.family, a.daddr, a.dport);
}

void append_fd(std::string& out, const std::optional<std::uint32_t>& fd) {
    if (fd)
        append_decimal(out, *fd);
    else
        out.push_back('-');
}

// "1233 server (fd 7, close)"
void append_closer(std::string& out, const ClosedBy& closed_by) {
    append_pid_comm(out, closed_by.pid, closed_by.comm);
    if (closed_by.fd || !closed_by.via.empty()) {
        out.append(" (");
        if (closed_by.fd) {
            out.append("fd ");
            append_decimal(out, *closed_by.fd);
            if (!closed_by.via.empty())
                out.append(", ");
        }
        append_printable(out, closed_by.via);
        out.push_back(')');
    }
}

// "1234 server fd 9, 1240 worker fd 9"
void append_holders(std::string& out, const std::vector<Holder>& holders) {
    bool first = true;
    for (const Holder& h : holders) {
        if (!first)
            out.append(", ");
        first = false;
        append_pid_comm(out, h.pid, h.comm);
        out.append(" fd ");
        append_decimal(out, h.fd);
    }
}

// Whether the socket is also held by another descriptor than the one of the
// process expected to close it (e.g. inherited by a child).
bool held_elsewhere(const Leak& leak) {
    return std::any_of(leak.holders.begin(), leak.holders.end(), [&leak](const Holder& h) {
        return h.pid != leak.pid || (leak.fd && h.fd != *leak.fd);
    });
}

// The verdict for people, with who closed it and who still holds it:
//   "never closed"
//   "never closed; held by 1234 server fd 7, 1240 worker fd 7"
//   "closed by 1233 server (fd 7, close); held by 1234 server fd 9"
//   "closed, still referenced; held by 1234 server fd 9" (closer unknown)
void append_verdict(std::string& out, const Leak& leak) {
    const bool closed = leak.verdict == Verdict::ClosedStillReferenced;
    if (closed && leak.closed_by) {
        out.append("closed by ");
        append_closer(out, *leak.closed_by);
    } else {
        out.append(verdict_label(leak.verdict));
        if (leak.closed_by) { // a never-closed socket with a closer: not expected, but say it
            out.append("; closed by ");
            append_closer(out, *leak.closed_by);
        }
    }
    if (!leak.holders.empty() && (closed || held_elsewhere(leak))) {
        out.append("; held by ");
        append_holders(out, leak.holders);
    }
}

// "close by 1234 server", "reset"
void append_resolution(std::string& out, const LeakResolved& r) {
    out.append(resolved_how_name(r.how));
    if (r.by_pid) {
        out.append(" by ");
        append_pid_comm(out, *r.by_pid, r.by_comm);
    }
}

// "1m03s", or "~1m03s" when the socket was already in CLOSE_WAIT at start
// (the entry time is an estimate).
void append_age(std::string& out, std::uint64_t ns, bool estimate) {
    if (estimate)
        out.push_back('~');
    append_duration_short(out, ns);
}

// "pid 1234 server fd 7 127.0.0.1:8080 -> 127.0.0.1:50312"
void append_socket_words(std::string& out, const Leak& leak) {
    out.append("pid ");
    append_pid_comm(out, leak.pid, leak.comm);
    out.append(" fd ");
    append_fd(out, leak.fd);
    out.push_back(' ');
    append_connection(out, leak.address);
}

// ---------------------------------------------------------------- the table

constexpr std::size_t kPidWidth = 9;        // "PID" column of the process rows
constexpr std::size_t kCommWidth = 17;      // 16-byte comm
constexpr std::size_t kLeakedWidth = 6;     // "LEAKED", right-aligned
constexpr std::size_t kOldestWidth = 9;     // "~59m59s" and a gap
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

// The command line of a leak's process: Leak::cmdline, else the one seen
// when the leak was reported (LeakTracker::active() does not keep it).
using CmdlineCache = std::unordered_map<std::uint64_t, std::string>; // by cookie

std::string_view cmdline_of(const Leak& leak, const CmdlineCache& cache) {
    if (!leak.cmdline.empty())
        return leak.cmdline;
    const auto it = cache.find(leak.cookie);
    return it == cache.end() ? std::string_view() : std::string_view(it->second);
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
void append_process_table(std::string& out, const std::vector<Leak>& leaks, std::uint64_t now_mono_ns,
                          const CmdlineCache& cmdlines) {
    const std::vector<ProcessLeaks> processes = group_by_process(leaks, now_mono_ns);
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
            if (!(cmdline = cmdline_of(*leak, cmdlines)).empty())
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
        cell(out, "CLOSE_WAIT", kCloseWaitWidth);
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
            append_verdict(out, *leak);
            out.push_back('\n');
            any_estimate |= leak->since_start;
        }
    }
    if (any_estimate)
        out.append("~ already in CLOSE_WAIT when tcpleak started: the age is an estimate, at least this long\n");
}

// Title line, then the table or the all-clear message.
void append_screen(std::string& out, const std::vector<Leak>& leaks, std::uint64_t now_mono_ns,
                   std::uint64_t threshold_ns, const ClockMapping& clock, LocalTimeClock& local,
                   const CmdlineCache& cmdlines) {
    out.append("tcpleak leaks  ");
    const std::size_t start = out.size();
    local.append(out, clock.to_unix_ns(now_mono_ns));
    out.resize(std::min(out.size(), start + 8)); // "HH:MM:SS", no milliseconds
    out.append("  threshold ");
    append_threshold(out, threshold_ns);
    if (leaks.empty()) {
        out.append("\nNo socket has been in CLOSE_WAIT longer than ");
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
    append_process_table(out, leaks, now_mono_ns, cmdlines);
}

// "kernel: storage_failed=3; BPF maps: 9.1 MiB", as the trace summary.
void append_kernel_line(std::string& out, const KernelCounters& kernel, std::uint64_t bpf_map_bytes) {
    bool any = false;
    for (const CounterName& counter : kCounterNames) {
        const std::uint64_t value = kernel.*counter.member;
        if (value == 0)
            continue;
        out.append(any ? " " : "kernel: ");
        out.append(counter.name);
        out.push_back('=');
        append_decimal(out, value);
        any = true;
    }
    out.append(any ? "; BPF maps: " : "BPF maps: ");
    append_bytes_iec(out, bpf_map_bytes);
    out.push_back('\n');
}

// ---------------------------------------------------------------- text

class TextLeakOutput final : public LeakOutput {
public:
    TextLeakOutput(OutputBuffer& out, OutputBuffer& err, const ClockMapping& clock, bool interactive)
        : out_(out), err_(err), clock_(clock), interactive_(interactive) {}

    void start(const StartInfo&, Duration threshold) override {
        threshold_ns_ = nonnegative_ns(threshold);
        std::string& line = err_.buffer();
        line.append("Watching for sockets left in CLOSE_WAIT longer than ");
        append_threshold(line, threshold_ns_);
        line.append("; Ctrl-C to end.\n");
        err_.maybe_flush();
    }

    void leak(const Leak& leak) override {
        if (!leak.cmdline.empty())
            cmdlines_[leak.cookie] = leak.cmdline;
        if (interactive_ || out_.closed())
            return;
        std::string& line = begin_line(leak.reported_mono_ns, "LEAK      ");
        append_socket_words(line, leak);
        line.append(" CLOSE_WAIT ");
        append_age(line, close_wait_at_report_ns(leak), leak.since_start);
        line.append(" recv-q ");
        append_decimal(line, leak.rx_queue);
        line.push_back(' ');
        append_verdict(line, leak);
        line.push_back('\n');
        out_.maybe_flush();
    }

    void resolved(const LeakResolved& r) override {
        cmdlines_.erase(r.leak.cookie);
        if (interactive_ || out_.closed())
            return;
        std::string& line = begin_line(r.resolved_mono_ns, "RESOLVED  ");
        append_socket_words(line, r.leak);
        line.append(" after ");
        append_age(line, r.close_wait_ns, r.leak.since_start);
        line.append(": ");
        append_resolution(line, r);
        line.push_back('\n');
        out_.maybe_flush();
    }

    void lost(std::uint64_t count, std::uint64_t total, std::int64_t) override {
        std::string& line = err_.buffer();
        line.append("tcpleak: ");
        append_decimal(line, count);
        line.append(count == 1 ? " event" : " events");
        line.append(" lost (ring buffer full), ");
        append_decimal(line, total);
        line.append(" in total\n");
        err_.maybe_flush();
    }

    void refresh(const std::vector<Leak>& active, std::uint64_t now_mono_ns) override {
        forget_cmdlines_except(active);
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
        append_screen(out, active, now_mono_ns, threshold_ns_, clock_, local_, cmdlines_);
        out_.maybe_flush();
    }

    void summary(const LeakSummary& summary) override {
        std::string& out = err_.buffer();
        const std::uint64_t threshold = nonnegative_ns(summary.threshold);
        out.append("tcpleak leaks: ");
        if (summary.leaks_reported == 0) {
            out.append("no socket leaked in CLOSE_WAIT past ");
            append_threshold(out, threshold);
        } else {
            append_plural(out, summary.leaks_reported, "socket", "sockets");
            out.append(" leaked in CLOSE_WAIT past ");
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
        append_plural(out, summary.kernel.lost, "event", "events");
        out.append(" lost\n");
        if (!summary.still_leaked.empty())
            append_process_table(out, summary.still_leaked, to_mono_ns(clock_, summary.end_unix_ns), cmdlines_);
        if (summary.tracker_evictions > 0) {
            out.append("tcpleak: warning: ");
            append_plural(out, summary.tracker_evictions, "socket", "sockets");
            out.append(" in CLOSE_WAIT not tracked (too many at once): leaks may have been missed\n");
        }
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

    // Keeps the cache to the leaks still active (the tracker may drop some
    // without a resolution).
    void forget_cmdlines_except(const std::vector<Leak>& active) {
        if (cmdlines_.size() <= active.size())
            return;
        CmdlineCache kept;
        for (const Leak& leak : active) {
            const auto it = cmdlines_.find(leak.cookie);
            if (it != cmdlines_.end())
                kept.emplace(leak.cookie, std::move(it->second));
        }
        cmdlines_ = std::move(kept);
    }

    OutputBuffer& out_;
    OutputBuffer& err_;
    const ClockMapping& clock_;
    const bool interactive_;
    std::uint64_t threshold_ns_ = 0;
    LocalTimeClock local_;
    CmdlineCache cmdlines_;
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
