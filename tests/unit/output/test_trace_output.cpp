#include "tcpleak/output/trace_output.hpp"

#include "tcpleak/core/tcp_state.hpp"

#include "support.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <memory>
#include <string>
#include <vector>

using namespace tcpleak;
using namespace tcpleak::test;

namespace {

// A transition as the kernel sent it, and what the attributor said of it.
struct Sample {
    Transition t;
    Attribution a;
};

Sample sample_transition() {
    Sample s;
    Transition& t = s.t;
    t.cookie = 4101;
    on_loopback(t, 45678, 54132);
    t.old_state = kTcpEstablished;
    t.new_state = kTcpCloseWait;
    t.ctx_pid = 2508;
    t.ctx_comm = make_comm("client");
    s.a.owner = Owner{2506, make_comm("server"), 1234, OwnerVia::Accept};
    s.a.old_state_ns = 1'234'567;
    return s;
}

Sample unknown_owner_transition() {
    Sample s = sample_transition();
    s.a = {};
    s.t.old_state = 13; // a state this build has no name for
    s.t.new_state = kTcpClose;
    return s;
}

Sample ipv6_transition() {
    Sample s = sample_transition();
    Transition& t = s.t;
    t.family = kFamilyIpv6;
    t.saddr = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
    t.sport = 443;
    t.daddr = {0xfe, 0x80, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc};
    t.dport = 54321;
    return s;
}

const std::string kHostileComm = "a\"b\\c\x01\x1b[31m\xff\xe2\x82";

TraceSummary sample_summary() {
    TraceSummary summary;
    summary.start_unix_ns = kSample;
    summary.end_unix_ns = kSample + 10'200'000'000;
    summary.events = 1234;
    summary.owner_unknown = 12;
    summary.transitions[{kTcpEstablished, kTcpCloseWait}] = 600;
    summary.transitions[{kTcpCloseWait, kTcpLastAck}] = 598;
    summary.transitions[{kTcpSynSent, kTcpEstablished}] = 30;
    summary.transitions[{13, kTcpClose}] = 6;
    summary.kernel[TL_CNT_TRANSITIONS] = 5000;
    summary.kernel[TL_CNT_SENT] = 1234;
    summary.kernel[TL_CNT_SELECTED_FULL] = 3;
    summary.bpf_map_bytes = 9'542'042;
    return summary;
}

const std::vector<std::string> kTransitionKeys = {
    "type",      "time",      "pid",          "comm", "owner_via", "family",   "saddr",   "sport",
    "daddr",     "dport",     "old_state",    "new_state", "old_state_us", "sock", "rx_queue", "ctx_pid",
    "ctx_comm",  "uid",       "netns",        "cgroup",
};

void write(TraceOutput& output, const Sample& s) { output.transition(s.t, s.a, kSample); }


// A trace output writing into captured buffers: the JSON one, and the text
// one (in UTC, for the local times of its rows).
struct JsonTraceOutput {
    CapturedOutput out;
    std::unique_ptr<TraceOutput> output = make_json_trace_output(out.buffer());
};

struct TextTraceOutput {
    const ScopedTimeZone utc{"UTC"};
    CapturedOutput out;
    CapturedOutput err;
    std::unique_ptr<TraceOutput> output = make_text_trace_output(out.buffer(), err.buffer());
};

} // namespace

// ---------------------------------------------------------------- NDJSON

TEST_CASE_FIXTURE(JsonTraceOutput, "JSON trace output: start line") {
    output->start({"trace", kSample, "0.1.0"});
    CHECK(out.text() == R"({"type":"start","time":"2026-11-21T07:44:06.123456Z","tool":"tcpleak","version":"0.1.0",)"
                        R"("schema_version":3,"mode":"trace"})"
                        "\n");
    CHECK(keys_in_order(out.lines().at(0)) ==
          std::vector<std::string>{"type", "time", "tool", "version", "schema_version", "mode"});
}

TEST_CASE_FIXTURE(JsonTraceOutput, "JSON trace output: a transition, field by field") {
    write(*output, sample_transition());
    CHECK(out.text() ==
          R"({"type":"transition","time":"2026-11-21T07:44:06.123456Z","pid":2506,"comm":"server",)"
          R"("owner_via":"accept","family":"ipv4","saddr":"127.0.0.1","sport":45678,"daddr":"127.0.0.1",)"
          R"("dport":54132,"old_state":"ESTABLISHED","new_state":"CLOSE_WAIT","old_state_us":1234,"sock":4101,)"
          R"("rx_queue":0,"ctx_pid":2508,"ctx_comm":"client","uid":0,"netns":4026531840,"cgroup":1234})"
          "\n");
    CHECK(keys_in_order(out.lines().at(0)) == kTransitionKeys);
}

TEST_CASE_FIXTURE(JsonTraceOutput, "JSON trace output: unknown owner, duration and state") {
    write(*output, unknown_owner_transition());
    const auto line = nlohmann::json::parse(out.lines().at(0));
    CHECK(line["pid"].is_null());
    CHECK(line["comm"].is_null());
    CHECK(line["owner_via"].is_null());
    CHECK(line["cgroup"].is_null()); // even though the record carries one
    CHECK(line["old_state_us"].is_null());
    CHECK(line["old_state"] == 13);
    CHECK(line["new_state"] == "CLOSE");
    CHECK(line["ctx_comm"] == "client");
    CHECK(keys_in_order(out.lines().at(0)) == kTransitionKeys);
    CHECK(out.text().find(R"("old_state":13,"new_state":"CLOSE","old_state_us":null,)") != std::string::npos);
}

TEST_CASE_FIXTURE(JsonTraceOutput, "JSON trace output: a known owner without a cgroup") {
    Sample s = sample_transition();
    s.a.owner->cgroup = 0;
    write(*output, s);
    CHECK(nlohmann::json::parse(out.lines().at(0))["cgroup"].is_null());
}

TEST_CASE_FIXTURE(JsonTraceOutput, "JSON trace output: IPv6 addresses") {
    write(*output, ipv6_transition());
    const auto line = nlohmann::json::parse(out.lines().at(0));
    CHECK(line["family"] == "ipv6");
    CHECK(line["saddr"] == "2001:db8::1");
    CHECK(line["daddr"] == "fe80:1234:5678:9abc:def0:1234:5678:9abc");
    CHECK(line["sport"] == 443);
}

TEST_CASE_FIXTURE(JsonTraceOutput, "JSON trace output: a hostile comm stays one valid line") {
    Sample s = sample_transition();
    s.a.owner->comm = make_comm(kHostileComm);
    s.t.ctx_comm = make_comm(kHostileComm);
    write(*output, s);
    REQUIRE(out.lines().size() == 1);
    const auto line = nlohmann::json::parse(out.lines().at(0));
    const std::string expected = "a\"b\\c\x01\x1b[31m\xEF\xBF\xBD\xEF\xBF\xBD";
    CHECK(line["comm"] == expected);
    CHECK(line["ctx_comm"] == expected);
    const std::string json_line = out.lines().at(0);
    for (char c : json_line)
        CHECK(static_cast<unsigned char>(c) >= 0x20);
}

TEST_CASE_FIXTURE(JsonTraceOutput, "JSON trace output: lost and summary lines") {
    output->start({"trace", kSample, "0.1.0"});
    output->lost(12, 40, kSample);
    output->summary(sample_summary());
    const auto lines = out.lines();
    REQUIRE(lines.size() == 3);
    CHECK(lines[1] == R"({"type":"lost","time":"2026-11-21T07:44:06.123456Z","count":12,"total":40})");
    CHECK(lines[2] ==
          R"({"type":"summary","time":"2026-11-21T07:44:16.323456Z","mode":"trace","duration_ms":10200,)"
          R"("events":1234,"lost":0,"owner_unknown":12,"unowned_hidden":0,"owners_evicted":0,)"
          R"("transitions":{"ESTABLISHED->CLOSE_WAIT":600,)"
          R"("SYN_SENT->ESTABLISHED":30,"CLOSE_WAIT->LAST_ACK":598,"13->CLOSE":6},)"
          R"("kernel":{"transitions_seen":5000,"sent":1234,"lost":0,"selected_full":3,)"
          R"("release_map_update_failed":0,"pids_full":0,"unnamed_sockets":0,"recursion_misses":0},"bpf_map_bytes":9542042})");
    CHECK(keys_in_order(lines[2]) ==
          std::vector<std::string>{"type", "time", "mode", "duration_ms", "events", "lost", "owner_unknown",
                                   "unowned_hidden", "owners_evicted", "transitions", "kernel", "bpf_map_bytes"});
}

TEST_CASE("JSON trace output: nothing is formatted once the reader is gone") {
    std::signal(SIGPIPE, SIG_IGN);
    Pipe pipe;
    pipe.close_read();
    {
        OutputBuffer out(pipe.write_end);
        auto output = make_json_trace_output(out);
        write(*output, sample_transition());
        CHECK_FALSE(out.flush());
        write(*output, sample_transition());
        output->summary(sample_summary());
        CHECK(out.buffer().empty());
    }
}

// ---------------------------------------------------------------- table

TEST_CASE_FIXTURE(TextTraceOutput, "text trace output: banner, header and a row") {
    output->start({"trace", kSample, "0.1.0"});
    write(*output, sample_transition());
    CHECK(err.text() == "Tracing TCP state transitions; owners from connect/listen/accept. Ctrl-C to end.\n");
    CHECK(out.text() ==
          "TIME          PID     COMM             LOCAL                  REMOTE                 TRANSITION   "
          "                IN OLD STATE\n"
          "07:44:06.123  2506    server           127.0.0.1:45678        127.0.0.1:54132        ESTABLISHED -> "
          "CLOSE_WAIT    1.23ms\n");
}

TEST_CASE_FIXTURE(TextTraceOutput, "text trace output: unknown owner, duration and state") {
    write(*output, unknown_owner_transition());
    CHECK(out.text() ==
          "07:44:06.123  -       ?                127.0.0.1:45678        127.0.0.1:54132        13 -> CLOSE     "
          "             -\n");
}

TEST_CASE_FIXTURE(TextTraceOutput, "text trace output: IPv6 endpoints may overflow their column") {
    write(*output, ipv6_transition());
    CHECK(out.text() == "07:44:06.123  2506    server           [2001:db8::1]:443      "
                        "[fe80:1234:5678:9abc:def0:1234:5678:9abc]:54321 ESTABLISHED -> CLOSE_WAIT    1.23ms\n");
}

TEST_CASE_FIXTURE(TextTraceOutput, "text trace output: a hostile comm cannot reach the terminal raw") {
    Sample s = sample_transition();
    s.a.owner->comm = make_comm(kHostileComm);
    write(*output, s);
    const std::string& row = out.text();
    CHECK(row.find(R"( a"b\\c\x01\x1b[31m\xff\xe2\x82 127.0.0.1:45678)") != std::string::npos);
    REQUIRE(out.lines().size() == 1);
    const std::string text_row = out.lines().at(0);
    for (char c : text_row) {
        const auto byte = static_cast<unsigned char>(c);
        CHECK((byte >= 0x20 && byte < 0x7f));
    }
}

TEST_CASE_FIXTURE(TextTraceOutput, "text trace output: lost events and the summary go to stderr") {
    output->lost(12, 40, kSample);
    output->summary(sample_summary());
    CHECK(out.text().empty());
    CHECK(err.text() == "tcpleak: 12 events lost (ring buffer full), 40 in total\n"
                        "tcpleak trace: 1234 transitions in 10.2s, 0 lost\n"
                        "  ESTABLISHED -> CLOSE_WAIT  600\n"
                        "  CLOSE_WAIT -> LAST_ACK     598\n"
                        "  SYN_SENT -> ESTABLISHED     30\n"
                        "  13 -> CLOSE                  6\n"
                        "owner unknown: 12 of 1234 transitions\n"
                        "kernel: transitions_seen=5000 sent=1234 selected_full=3; BPF maps: 9.1 MiB\n");
}

TEST_CASE("summary text of an empty run") {
    TraceSummary summary;
    summary.start_unix_ns = kSample;
    summary.end_unix_ns = kSample + 1'500'000'000;
    std::string text;
    append_summary_text(text, summary, "trace");
    CHECK(text == "tcpleak trace: 0 transitions in 1.50s, 0 lost\n"
                  "owner unknown: 0 of 0 transitions\n"
                  "BPF maps: 0 B\n");
}
