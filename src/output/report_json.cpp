// The JSON members every NDJSON record and report shares: times, addresses,
// the leak's members, the tcp/peer/explanation/workload objects, tracking,
// and the lines about losses (report_format.cpp: the text words).
#include "tcpleak/output/report_format.hpp"

#include "tcpleak/core/tcp_state.hpp"

#include <algorithm>
#include <optional>

namespace tcpleak {

// ---------------------------------------------------------------- JSON

void write_time_field(JsonWriter& json, Rfc3339Clock& clock, std::string_view key, std::int64_t unix_ns) {
    json.key(key);
    std::string& out = json.raw_value();
    out.push_back('"');
    clock.append(out, unix_ns);
    out.push_back('"');
}

void write_address_field(JsonWriter& json, std::string_view key, std::uint8_t family,
                         const std::array<std::uint8_t, 16>& addr) {
    json.key(key);
    std::string& out = json.raw_value();
    out.push_back('"');
    append_ip(out, family, addr);
    out.push_back('"');
}

void write_address_members(JsonWriter& json, const SocketAddress& a) {
    json.field("family", family_name(a.family));
    write_address_field(json, "saddr", a.family, a.saddr);
    json.field("sport", a.sport);
    write_address_field(json, "daddr", a.family, a.daddr);
    json.field("dport", a.dport);
    json.field("netns", a.netns);
}

void write_kernel_field(JsonWriter& json, const KernelCounters& kernel) {
    json.key("kernel");
    json.begin_object();
    for_each_kernel_counter(kernel, [&](std::string_view name, std::uint64_t value) { json.field(name, value); });
    json.end_object();
}

void write_pid_comm(JsonWriter& json, std::string_view pid_key, std::string_view comm_key,
                    std::optional<std::uint32_t> pid, const Comm& comm) {
    json.field(pid_key, pid);
    if (pid)
        json.field(comm_key, comm_view(comm));
    else
        json.field(comm_key, std::nullopt);
}

std::optional<std::uint32_t> leak_pid(const Leak& leak) {
    if (leak.verdict == Verdict::Orphaned && leak.pid == 0)
        return std::nullopt;
    return leak.pid;
}

namespace {

std::string_view tcp_timer_name(TcpTimer timer) {
    switch (timer) {
    case TcpTimer::None: return "none";
    case TcpTimer::Retransmit: return "retransmit";
    case TcpTimer::Probe: return "probe";
    case TcpTimer::Keepalive: return "keepalive";
    case TcpTimer::TimeWait: return "time_wait";
    case TcpTimer::SynAck: return "syn_ack";
    }
    return "none";
}

// key: an object of the members write_members writes of the value, or null
// without one.
template <typename T, typename WriteMembers>
void write_optional_object(JsonWriter& json, std::string_view key, const std::optional<T>& value,
                           WriteMembers&& write_members) {
    json.key(key);
    if (!value) {
        json.null();
        return;
    }
    json.begin_object();
    write_members(*value);
    json.end_object();
}

// "tcp": the TCP table's record of it when reported, or null.
void write_tcp_field(JsonWriter& json, const std::optional<TcpSocket>& tcp) {
    write_optional_object(json, "tcp", tcp, [&json](const TcpSocket& t) {
        json.field("tx_queue", t.tx_queue);
        json.field("snd_wnd", t.snd_wnd);
        json.field("retransmits", t.retransmits);
        json.field("probes", t.probes_out);
        json.field("total_retrans", t.total_retrans);
        json.field("timer", tcp_timer_name(t.timer));
        json.field("timer_left_ms", t.timer_left_ms);
    });
}

// "peer": the other end on this host, or null.
void write_peer_field(JsonWriter& json, const std::optional<LeakPeer>& peer) {
    write_optional_object(json, "peer", peer, [&json](const LeakPeer& p) {
        if (p.holder) {
            json.field("pid", p.holder->pid);
            json.field("comm", comm_view(p.holder->comm));
            json.field("fd", p.holder->fd);
        } else {
            json.field("pid", std::nullopt);
            json.field("comm", std::nullopt);
            json.field("fd", std::nullopt);
        }
        json.field("state", tcp_state_name(p.state));
        json.field("sock", p.cookie);
        json.field("netns", p.netns);
    });
}

// "cause", "why", "hint", "sysctls".
void write_explanation_members(JsonWriter& json, const std::optional<StuckExplanation>& e) {
    if (!e) {
        json.field("cause", std::nullopt);
        json.field("why", std::nullopt);
        json.field("hint", std::nullopt);
        json.key("sysctls");
        json.begin_object();
        json.end_object();
        return;
    }
    json.field("cause", stuck_cause_name(e->cause));
    json.field("why", std::string_view(e->why));
    json.field("hint", std::string_view(e->hint));
    json.key("sysctls");
    json.begin_object();
    for (const SysctlValue& v : e->sysctls)
        json.field(v.name, v.value);
    json.end_object();
}

} // namespace

void write_workload_members(JsonWriter& json, const std::optional<Workload>& workload) {
    if (!workload)
        return;
    const auto field = [&](std::string_view name, const std::string& value) {
        if (value.empty())
            json.field(name, std::nullopt);
        else
            json.field(name, std::string_view(value));
    };
    field("cgroup", workload->cgroup);
    field("container_id", workload->container_id);
    field("container", workload->container);
    field("pod_uid", workload->pod_uid);
    field("pod", workload->pod);
    field("namespace", workload->namespace_name);
    field("unit", workload->unit);
}

void write_leak_members(JsonWriter& json, const Leak& leak, std::uint64_t in_state_ns, const ClockMapping& clock,
                        Rfc3339Clock& rfc3339) {
    write_pid_comm(json, "pid", "comm", leak_pid(leak), leak.comm);
    json.field("fd", leak.fd);
    json.field("cmdline", std::string_view(leak.cmdline));
    write_address_members(json, leak.address);
    json.field("state", tcp_state_name(leak.state));
    json.field("in_state_ms", in_state_ns / 1'000'000);
    if (leak.state == kTcpCloseWait)
        json.field("close_wait_ms", in_state_ns / 1'000'000);
    else
        json.field("close_wait_ms", std::nullopt);
    json.field("rx_queue", leak.rx_queue);
    json.field("since_start", leak.since_start);
    json.field("verdict", verdict_name(leak.verdict));
    if (leak.closed_by) {
        json.field("closed_by", leak.closed_by->pid);
        json.field("closed_by_comm", comm_view(leak.closed_by->comm));
        json.field("closed_by_fd", leak.closed_by->fd);
        json.field("closed_via", release_via_name(leak.closed_by->via));
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
    write_pid_comm(json, "owner_pid", "owner_comm", leak.owner_pid, leak.owner_comm);
    json.field("sock", leak.cookie);
    write_time_field(json, rfc3339, "entered_time", clock.to_unix_ns(leak.entered_mono_ns));
    json.field("seen_by", seen_by_name(leak.seen_by));
    write_explanation_members(json, leak.explanation);
    write_tcp_field(json, leak.tcp);
    write_peer_field(json, leak.peer);
    write_workload_members(json, leak.workload);
}

void write_lost_line(OutputBuffer& err, std::uint64_t count, std::uint64_t total) {
    std::string& out = err.buffer();
    out.append("tcpleak: ");
    append_plural(out, count, "event", "events");
    out.append(" lost (ring buffer full), ");
    append_decimal(out, total);
    out.append(" in total\n");
    err.maybe_flush();
}

void append_reconciled_line(std::string& out, const ReconcileNotice& report) {
    out.append("tcpleak: reconciled with the kernel's socket tables after ");
    append_plural(out, report.events_lost, "lost event", "lost events");
    out.append(": ");
    append_plural(out, report.found, "socket", "sockets");
    out.append(" in CLOSE_WAIT found, ");
    append_decimal(out, report.vanished);
    out.append(" gone unseen\n");
    if (!report.covered) {
        out.append("tcpleak: warning: the loss lasted ");
        append_duration_short(out, sub_sat(report.mono_ns, report.gap_start_ns));
        out.append(" before the tables were read, longer than the threshold: a leak that began and ended in"
                   " that time may be missed\n");
    }
}

void append_tracking_text(std::string& out, const TrackingState& tracking) {
    for (const std::string& reason : tracking.incomplete_reasons) {
        out.append("tcpleak: warning: tracking incomplete: ");
        out.append(reason);
        out.push_back('\n');
    }
    if (!tracking.complete)
        out.append("tcpleak: exit status 4 unless a leak was found: tcpleak could not watch everything\n");
}

void write_tracking_members(JsonWriter& json, const TrackingState& tracking) {
    json.field("tracking_complete", tracking.complete);
    json.key("incomplete_reasons");
    json.begin_array();
    for (const std::string& reason : tracking.incomplete_reasons)
        json.string(reason);
    json.end_array();
    json.field("reconciliations", tracking.reconciliations);
    json.field("found_by_scan", tracking.found_by_scan);
    json.field("scans", tracking.scans);
    json.field("scan_ms", tracking.scan_busy_ns / 1'000'000);
}

void append_owners_evicted_warning(std::string& out, std::uint64_t evicted) {
    if (evicted == 0)
        return;
    out.append("tcpleak: warning: ");
    append_plural(out, evicted, "socket", "sockets");
    out.append(" forgotten by the owner table (too many open at once): their owners show as unknown\n");
}

JsonWriter NdjsonRecords::begin(std::string_view type, std::int64_t unix_ns) {
    JsonWriter json(out_.buffer());
    json.begin_object();
    json.field("type", type);
    write_time_field(json, rfc3339_, "time", unix_ns);
    return json;
}

void NdjsonRecords::end(JsonWriter& json) {
    json.end_object();
    json.end_line();
    out_.maybe_flush();
}

JsonWriter NdjsonRecords::begin_start(std::string_view mode, std::int64_t unix_ns, std::string_view version) {
    JsonWriter json = begin("start", unix_ns);
    json.field("tool", "tcpleak");
    json.field("version", version);
    json.field("schema_version", kEventsSchemaVersion);
    json.field("mode", mode);
    return json;
}

JsonWriter NdjsonRecords::begin_summary(std::string_view mode, std::int64_t start_unix_ns, std::int64_t end_unix_ns) {
    JsonWriter json = begin("summary", end_unix_ns);
    json.field("mode", mode);
    json.field("duration_ms", elapsed_ns(start_unix_ns, end_unix_ns) / 1'000'000);
    return json;
}

void NdjsonRecords::append_line(const char* begin, const char* end) {
    append_range(out_.buffer(), begin, end);
    out_.maybe_flush();
}

void NdjsonRecords::lost(std::uint64_t count, std::uint64_t total, std::int64_t unix_ns) {
    if (out_.closed())
        return;
    JsonWriter json = begin("lost", unix_ns);
    json.field("count", count);
    json.field("total", total);
    end(json);
}

} // namespace tcpleak
