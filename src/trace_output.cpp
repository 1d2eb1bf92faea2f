#include "tcpleak/trace_output.hpp"

#include "tcpleak/json_writer.hpp"
#include "tcpleak/report_format.hpp"
#include "tcpleak/tcp_state.hpp"
#include "tcpleak/text_format.hpp"

#include <algorithm>
#include <vector>

namespace tcpleak {

namespace {

std::uint64_t duration_ns(const TraceSummary& s) { return elapsed_ns(s.start_unix_ns, s.end_unix_ns); }

// "ESTABLISHED->CLOSE_WAIT" (JSON key) or "ESTABLISHED -> CLOSE_WAIT" (text).
void append_transition_name(std::string& out, std::uint8_t old_state, std::uint8_t new_state,
                            std::string_view arrow) {
    append_state(out, old_state);
    out.append(arrow);
    append_state(out, new_state);
}

// ---------------------------------------------------------------- NDJSON

class JsonTraceOutput final : public TraceOutput {
public:
    explicit JsonTraceOutput(OutputBuffer& out) : records_(out) {}

    void start(const StartInfo& info) override {
        mode_ = info.mode;
        JsonWriter json = records_.begin_start(info.mode, info.unix_ns, info.version);
        records_.end(json);
    }

    void transition(const Transition& t, std::int64_t unix_ns) override {
        if (records_.closed())
            return;
        JsonWriter json = records_.begin("transition", unix_ns);
        if (t.owner_known) {
            json.field("pid", t.owner_pid);
            json.field("comm", comm_view(t.owner_comm));
            json.field("owner_via", owner_via_name(t.owner_via));
        } else {
            json.field("pid", std::nullopt);
            json.field("comm", std::nullopt);
            json.field("owner_via", std::nullopt);
        }
        json.field("family", family_name(t.family));
        write_address_field(json, "saddr", t.family, t.saddr);
        json.field("sport", t.sport);
        write_address_field(json, "daddr", t.family, t.daddr);
        json.field("dport", t.dport);
        state_field(json, "old_state", t.old_state);
        state_field(json, "new_state", t.new_state);
        json.key("old_state_us");
        if (t.old_state_ns)
            json.number(*t.old_state_ns / 1000);
        else
            json.null();
        json.field("sock", t.cookie);
        json.field("rx_queue", t.rx_queue);
        json.field("ctx_pid", t.ctx_pid);
        json.field("ctx_comm", comm_view(t.ctx_comm));
        json.field("uid", t.uid);
        json.field("netns", t.netns);
        json.key("cgroup");
        if (t.owner_known && t.owner_cgroup != 0)
            json.number(t.owner_cgroup);
        else
            json.null();
        records_.end(json);
    }

    void lost(std::uint64_t count, std::uint64_t total, std::int64_t unix_ns) override {
        records_.lost(count, total, unix_ns);
    }

    void summary(const TraceSummary& summary) override {
        if (records_.closed())
            return;
        JsonWriter json = records_.begin("summary", summary.end_unix_ns);
        json.field("mode", std::string_view(mode_));
        json.field("duration_ms", duration_ns(summary) / 1'000'000);
        json.field("events", summary.events);
        json.field("lost", summary.kernel.lost);
        json.field("owner_unknown", summary.owner_unknown);
        json.key("transitions");
        json.begin_object();
        std::string name;
        for (const auto& [states, count] : summary.transitions) {
            name.clear();
            append_transition_name(name, states.first, states.second, "->");
            json.field(name, count);
        }
        json.end_object();
        write_kernel_field(json, summary.kernel);
        json.field("bpf_map_bytes", summary.bpf_map_bytes);
        records_.end(json);
    }

private:
    // The kernel name, or the bare number for a state without one.
    static void state_field(JsonWriter& json, std::string_view key, std::uint8_t state) {
        const std::string_view name = tcp_state_name(state);
        if (name.empty())
            json.field(key, state);
        else
            json.field(key, name);
    }

    NdjsonRecords records_;
    std::string mode_ = "trace";
};

// ---------------------------------------------------------------- table

constexpr std::size_t kTimeWidth = 14;       // "07:44:06.123"
constexpr std::size_t kPidWidth = 8;         // pid_max is at most 4194304
constexpr std::size_t kCommWidth = 17;       // 16-byte comm
constexpr std::size_t kEndpointWidth = 23;   // "255.255.255.255:65535"; IPv6 may overflow
constexpr std::size_t kTransitionWidth = 29; // "NEW_SYN_RECV -> NEW_SYN_RECV"

class TextTraceOutput final : public TraceOutput {
public:
    TextTraceOutput(OutputBuffer& out, OutputBuffer& err) : out_(out), err_(err) {}

    void start(const StartInfo& info) override {
        mode_ = info.mode;
        err_.buffer().append("Tracing TCP state transitions; owners from connect/listen/accept. Ctrl-C to end.\n");
        err_.maybe_flush();

        std::string& row = out_.buffer();
        cell(row, "TIME", kTimeWidth);
        cell(row, "PID", kPidWidth);
        cell(row, "COMM", kCommWidth);
        cell(row, "LOCAL", kEndpointWidth);
        cell(row, "REMOTE", kEndpointWidth);
        cell(row, "TRANSITION", kTransitionWidth);
        row.append("IN OLD STATE\n");
        out_.maybe_flush();
    }

    void transition(const Transition& t, std::int64_t unix_ns) override {
        if (out_.closed())
            return;
        std::string& row = out_.buffer();
        std::size_t start = row.size();
        clock_.append(row, unix_ns);
        append_padding(row, row.size() - start, kTimeWidth);

        start = row.size();
        if (t.owner_known)
            append_decimal(row, t.owner_pid);
        else
            row.push_back('-');
        append_padding(row, row.size() - start, kPidWidth);

        std::size_t comm_columns = 1;
        if (t.owner_known)
            comm_columns = append_printable(row, comm_view(t.owner_comm));
        else
            row.push_back('?');
        append_padding(row, comm_columns, kCommWidth);

        start = row.size();
        append_endpoint(row, t.family, t.saddr, t.sport);
        append_padding(row, row.size() - start, kEndpointWidth);

        start = row.size();
        append_endpoint(row, t.family, t.daddr, t.dport);
        append_padding(row, row.size() - start, kEndpointWidth);

        start = row.size();
        append_transition_name(row, t.old_state, t.new_state, " -> ");
        append_padding(row, row.size() - start, kTransitionWidth);

        if (t.old_state_ns)
            append_duration_short(row, *t.old_state_ns);
        else
            row.push_back('-');
        row.push_back('\n');
        out_.maybe_flush();
    }

    void lost(std::uint64_t count, std::uint64_t total, std::int64_t) override {
        append_lost_line(err_.buffer(), count, total);
        err_.maybe_flush();
    }

    void summary(const TraceSummary& summary) override {
        append_summary_text(err_.buffer(), summary, mode_);
        err_.maybe_flush();
    }

private:
    static void cell(std::string& row, std::string_view text, std::size_t width) {
        row.append(text);
        append_padding(row, text.size(), width);
    }

    OutputBuffer& out_;
    OutputBuffer& err_;
    LocalTimeClock clock_;
    std::string mode_ = "trace";
};

// ---------------------------------------------------------------- summary text

void append_transition_counts(std::string& out, const TraceSummary& summary) {
    struct Row {
        std::string name;
        std::uint64_t count;
    };
    std::vector<Row> rows;
    std::size_t name_width = 0;
    std::size_t count_width = 0;
    for (const auto& [states, count] : summary.transitions) {
        Row row{{}, count};
        append_transition_name(row.name, states.first, states.second, " -> ");
        name_width = std::max(name_width, row.name.size());
        count_width = std::max(count_width, std::to_string(count).size());
        rows.push_back(std::move(row));
    }
    // Most frequent first; the map order (by state numbers) breaks ties.
    std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.count > b.count; });
    for (const Row& row : rows) {
        out.append("  ");
        out.append(row.name);
        const std::string count = std::to_string(row.count);
        out.append(name_width - row.name.size() + 2 + count_width - count.size(), ' ');
        out.append(count);
        out.push_back('\n');
    }
}

} // namespace

std::unique_ptr<TraceOutput> make_json_trace_output(OutputBuffer& out) {
    return std::make_unique<JsonTraceOutput>(out);
}

std::unique_ptr<TraceOutput> make_text_trace_output(OutputBuffer& out, OutputBuffer& err) {
    return std::make_unique<TextTraceOutput>(out, err);
}

void append_summary_text(std::string& out, const TraceSummary& summary, std::string_view mode) {
    out.append("tcpleak ");
    out.append(mode);
    out.append(": ");
    append_decimal(out, summary.events);
    out.append(summary.events == 1 ? " transition in " : " transitions in ");
    append_duration_short(out, duration_ns(summary));
    out.append(", ");
    append_decimal(out, summary.kernel.lost);
    out.append(" lost\n");
    append_transition_counts(out, summary);
    out.append("owner unknown: ");
    append_decimal(out, summary.owner_unknown);
    out.append(" of ");
    append_decimal(out, summary.events);
    out.append(" transitions\n");
    append_kernel_line(out, summary.kernel, summary.bpf_map_bytes);
}

} // namespace tcpleak
