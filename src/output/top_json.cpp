// `tcpleak top --json`: the start record, one `census` record per interval
// (docs/tcpleak-events.schema.json, $defs/census) and the summary.
#include "tcpleak/output/report_format.hpp"
#include "tcpleak/output/top_output.hpp"

namespace tcpleak {

namespace {

constexpr std::uint64_t kNsPerMs = 1'000'000;

std::string_view grouping_name(TopGrouping by) { return by == TopGrouping::Container ? "container" : "process"; }

void write_fixed_field(JsonWriter& json, std::string_view key, double value) {
    json.key(key);
    append_fixed(json.raw_value(), value, 2);
}

// {"SYN_SENT": n, ..., "TIME_WAIT": n}: every column of top, zeros included,
// so a reader need not guess a missing key.
void write_states_field(JsonWriter& json, const StateCounts& counts) {
    json.key("states");
    json.begin_object();
    for (const std::uint8_t state : kTopStates)
        json.field(tcp_state_name(state), top_column(counts, state));
    json.end_object();
}

void write_row(JsonWriter& json, const TopRow& row, TopGrouping by) {
    json.begin_object();
    json.field("pid", row.pid);
    json.field("comm", comm_view(row.comm));
    if (by == TopGrouping::Container)
        json.field("container", row.container);
    else
        json.field("container", std::nullopt);
    json.field("processes", row.processes);
    write_states_field(json, row.sockets);
    json.field("total", row.sockets.total());
    json.field("new_connections", row.new_connections);
    write_fixed_field(json, "new_per_second", row.new_per_second);
    json.field("close_wait_growth", row.close_wait_growth.change);
    json.field("growth_ms", row.close_wait_growth.over_ns / kNsPerMs);
    write_fixed_field(json, "close_wait_per_minute", row.close_wait_growth.per_minute());
    json.key("oldest_close_wait_ms");
    if (row.oldest_close_wait_ns)
        json.number(*row.oldest_close_wait_ns / kNsPerMs);
    else
        json.null();
    json.end_object();
}

// The sysctls that govern a kind of unheld socket; the others are left out.
void write_limits(JsonWriter& json, UnheldKind kind, const TcpSysctls& limits) {
    json.begin_object();
    for (const GoverningSysctl& sysctl : governing_sysctls(kind))
        json.field(sysctl.name, limits.*sysctl.value);
    json.end_object();
}

void write_unheld_row(JsonWriter& json, const TopUnheldRow& row) {
    json.begin_object();
    json.field("kind", unheld_kind_name(row.kind));
    json.field("netns", row.netns);
    write_states_field(json, row.sockets);
    json.field("total", row.sockets.total());
    json.key("limits");
    if (row.limits)
        write_limits(json, row.kind, *row.limits);
    else
        json.null();
    json.end_object();
}

void write_scan_field(JsonWriter& json, const TopScan& scan) {
    json.key("scan");
    json.begin_object();
    json.field("ms", scan.took_ns / kNsPerMs);
    json.field("us", scan.took_ns / 1000);
    json.field("sockets", scan.sockets);
    json.field("holders", scan.holders);
    json.field("namespaces", scan.namespaces_walked);
    json.field("namespaces_unreachable", scan.namespaces_unreachable);
    json.end_object();
}

class JsonTopOutput final : public TopOutput {
public:
    explicit JsonTopOutput(OutputBuffer& out) : records_(out) {}

    void start(const TopStart& start) override {
        JsonWriter json = records_.begin_start(start.info.mode, start.info.unix_ns, start.info.version);
        json.field("interval_ms", start.interval_ns / kNsPerMs);
        json.field("growth_window_ms", start.growth_window_ns / kNsPerMs);
        json.field("by", grouping_name(start.by));
        records_.end(json);
    }

    void snapshot(const TopSnapshot& snap, std::int64_t unix_ns, const TopScan& scan) override {
        JsonWriter json = records_.begin("census", unix_ns);
        write_totals(json, snap);
        json.key("rows");
        json.begin_array();
        for (const TopRow& row : snap.rows)
            write_row(json, row, snap.by);
        json.end_array();
        json.key("unheld");
        json.begin_array();
        for (const TopUnheldRow& row : snap.unheld)
            write_unheld_row(json, row);
        json.end_array();
        write_scan_field(json, scan);
        records_.end(json);
    }

    void summary(const TopSummary& summary) override {
        JsonWriter json = records_.begin_summary("top", summary.start_unix_ns, summary.end_unix_ns);
        json.field("snapshots", summary.snapshots);
        json.field("scan_ms", summary.scan_ns_total / kNsPerMs);
        json.field("scan_ms_max", summary.scan_ns_max / kNsPerMs);
        write_kernel_field(json, summary.kernel);
        json.field("bpf_map_bytes", summary.bpf_map_bytes);
        records_.end(json);
    }

private:
    static void write_totals(JsonWriter& json, const TopSnapshot& snap) {
        json.key("interval_ms");
        if (snap.interval_ns)
            json.number(snap.interval_ns / kNsPerMs);
        else
            json.null();
        json.field("by", grouping_name(snap.by));
        json.field("sockets", snap.all.total());
        write_states_field(json, snap.all);
        json.field("processes", snap.processes);
        json.field("new_connections", snap.new_connections);
        write_fixed_field(json, "new_per_second", snap.new_per_second);
        json.field("growth_window_ms", snap.growth_window_ns / kNsPerMs);
        json.field("growing", snap.growing);
        json.field("orphans", snap.orphans);
        json.field("time_wait", snap.time_wait);
    }

    NdjsonRecords records_;
};

} // namespace

std::unique_ptr<TopOutput> make_json_top_output(OutputBuffer& out) { return std::make_unique<JsonTopOutput>(out); }

} // namespace tcpleak
