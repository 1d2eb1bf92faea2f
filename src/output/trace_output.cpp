#include "tcpleak/output/trace_output.hpp"

#include "tcpleak/output/json_writer.hpp"
#include "tcpleak/output/report_format.hpp"
#include "tcpleak/core/tcp_state.hpp"
#include "tcpleak/output/text_format.hpp"

#include <algorithm>
#include <cstring>
#include <charconv>
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

// Room for a transition line: its fixed text, numbers, two IPv6 addresses
// and two comms escaped byte by byte (6 * 16 + 2 each).
constexpr std::size_t kMaxTransitionLine = 1024;

char* put(char* p, std::string_view text) {
    std::memcpy(p, text.data(), text.size());
    return p + text.size();
}

template <std::integral T>
char* put_number(char* p, T value) {
    return std::to_chars(p, p + 24, value).ptr;
}

// The kernel name, quoted, or the bare number for a state without one.
char* put_state(char* p, std::uint8_t state) {
    const std::string_view name = tcp_state_name(state);
    if (name.empty())
        return put_number(p, state);
    *p++ = '"';
    p = put(p, name);
    *p++ = '"';
    return p;
}

class JsonTraceOutput final : public TraceOutput {
public:
    explicit JsonTraceOutput(OutputBuffer& out) : records_(out) {}

    void start(const StartInfo& info) override {
        mode_ = info.mode;
        JsonWriter json = records_.begin_start(info.mode, info.unix_ns, info.version);
        records_.end(json);
    }

    // The hot path: written straight into a stack buffer, no per-member
    // append. The key order is that of docs/tcpleak-events.schema.json.
    void transition(const Transition& t, const Attribution& a, std::int64_t unix_ns) override {
        if (records_.closed())
            return;
        char line[kMaxTransitionLine];
        char* p = put(line, R"({"type":"transition","time":")");
        p = records_.rfc3339().put(p, unix_ns);
        if (a.owner) {
            p = put_number(put(p, R"(","pid":)"), a.owner->pid);
            p = put_json_string(put(p, R"(,"comm":)"), comm_view(a.owner->comm));
            p = put(put(p, R"(,"owner_via":")"), owner_via_name(a.owner->via));
            *p++ = '"';
        } else {
            p = put(p, R"(","pid":null,"comm":null,"owner_via":null)");
        }
        p = put(put(p, R"(,"family":")"), family_name(t.family));
        p = put_ip(put(p, R"(","saddr":")"), t.family, t.saddr);
        p = put_number(put(p, R"(","sport":)"), t.sport);
        p = put_ip(put(p, R"(,"daddr":")"), t.family, t.daddr);
        p = put_number(put(p, R"(","dport":)"), t.dport);
        p = put_state(put(p, R"(,"old_state":)"), t.old_state);
        p = put_state(put(p, R"(,"new_state":)"), t.new_state);
        p = put(p, R"(,"old_state_us":)");
        p = a.old_state_ns ? put_number(p, *a.old_state_ns / 1000) : put(p, "null");
        p = put_number(put(p, R"(,"sock":)"), t.cookie);
        p = put_number(put(p, R"(,"rx_queue":)"), t.rx_queue);
        p = put_number(put(p, R"(,"ctx_pid":)"), t.ctx_pid);
        p = put_json_string(put(p, R"(,"ctx_comm":)"), comm_view(t.ctx_comm));
        p = put_number(put(p, R"(,"uid":)"), t.uid);
        p = put_number(put(p, R"(,"netns":)"), t.netns);
        p = put(p, R"(,"cgroup":)");
        p = a.owner && a.owner->cgroup != 0 ? put_number(p, a.owner->cgroup) : put(p, "null");
        p = put(p, "}\n");
        records_.append_line(line, p);
    }

    void lost(std::uint64_t count, std::uint64_t total, std::int64_t unix_ns) override {
        records_.lost(count, total, unix_ns);
    }

    void summary(const TraceSummary& summary) override {
        if (records_.closed())
            return;
        JsonWriter json = records_.begin_summary(mode_, summary.start_unix_ns, summary.end_unix_ns);
        json.field("events", summary.events);
        json.field("lost", summary.kernel.lost());
        json.field("owner_unknown", summary.owner_unknown);
        json.field("unowned_hidden", summary.unowned_hidden);
        json.field("owners_evicted", summary.owners_evicted);
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

    void transition(const Transition& t, const Attribution& a, std::int64_t unix_ns) override {
        if (out_.closed())
            return;
        std::string& row = out_.buffer();
        std::size_t start = row.size();
        clock_.append(row, unix_ns);
        append_padding(row, row.size() - start, kTimeWidth);

        start = row.size();
        if (a.owner)
            append_decimal(row, a.owner->pid);
        else
            row.push_back('-');
        append_padding(row, row.size() - start, kPidWidth);

        std::size_t comm_columns = 1;
        if (a.owner)
            comm_columns = append_printable(row, comm_view(a.owner->comm));
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

        if (a.old_state_ns)
            append_duration_short(row, *a.old_state_ns);
        else
            row.push_back('-');
        row.push_back('\n');
        out_.maybe_flush();
    }

    void lost(std::uint64_t count, std::uint64_t total, std::int64_t) override {
        write_lost_line(err_, count, total);
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
    append_decimal(out, summary.kernel.lost());
    out.append(" lost\n");
    append_transition_counts(out, summary);
    out.append("owner unknown: ");
    append_decimal(out, summary.owner_unknown);
    out.append(" of ");
    append_decimal(out, summary.events);
    out.append(" transitions\n");
    if (summary.unowned_hidden > 0) {
        out.append("not shown: ");
        append_plural(out, summary.unowned_hidden, "transition", "transitions");
        out.append(" of connections no single process owned yet (a shared listener's, before accept())\n");
    }
    append_owners_evicted_warning(out, summary.owners_evicted);
    append_kernel_line(out, summary.kernel, summary.bpf_map_bytes);
}

} // namespace tcpleak
