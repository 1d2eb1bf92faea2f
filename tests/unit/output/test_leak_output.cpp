// Over 500 lines: every record and text the leak output writes, one case each, with the samples they share.
#include "tcpleak/output/leak_output.hpp"

#include "golden.hpp"
#include "support.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace tcpleak;
using namespace tcpleak::test;

namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kSecond = 1000 * kMs;

// pid 1234 never closed fd 7, reported 5 s after it entered CLOSE_WAIT.
Leak never_closed_leak() {
    Leak leak = server_leak(4101, 50312, 7, "/usr/bin/server --port 8080", Verdict::NeverClosed);
    leak.owner_pid = 1234;
    leak.owner_comm = make_comm("server");
    leak.entered_mono_ns = kMono;
    leak.reported_mono_ns = kMono + 5 * kSecond;
    leak.rx_queue = 0;
    return leak;
}

// pid 1233 closed its fd 7, pid 1234 and its child 1240 still hold fd 9.
Leak closed_leak() {
    Leak leak = server_leak(4102, 50318, 9, "/usr/bin/server --port 8080", Verdict::ClosedStillReferenced);
    leak.holders.push_back({1240, make_comm("worker"), 9});
    leak.closed_by = ClosedBy{1233, make_comm("server"), 7, ReleaseVia::Close};
    leak.entered_mono_ns = kMono + 51 * kSecond + 500 * kMs;
    leak.reported_mono_ns = kMono + 56 * kSecond + 750 * kMs;
    leak.rx_queue = 512;
    return leak;
}

// Already in CLOSE_WAIT at start, IPv6, descriptor unknown.
Leak since_start_leak() {
    Leak leak;
    leak.cookie = 4103;
    leak.address.family = kFamilyIpv6;
    leak.address.saddr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    leak.address.sport = 443;
    leak.address.daddr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    leak.address.dport = 40000;
    leak.pid = 1240;
    leak.comm = make_comm("worker");
    leak.holders = {{1240, make_comm("worker"), 3}};
    leak.cmdline = "worker --queue jobs";
    leak.owner_pid = 1240;
    leak.owner_comm = make_comm("worker");
    leak.since_start = true;
    leak.entered_mono_ns = kMono - 3 * 60 * kSecond;
    leak.reported_mono_ns = kMono + 100 * kMs;
    leak.rx_queue = 17;
    return leak;
}

// A process with a lower pid than 1234 and 1240 and a single leak.
Leak low_pid_leak() {
    Leak leak = never_closed_leak();
    leak.cookie = 4104;
    leak.address = loopback(22, 60000);
    leak.pid = 99;
    leak.comm = make_comm("sshd");
    leak.fd = 4;
    leak.holders = {{99, make_comm("sshd"), 4}};
    leak.cmdline = "sshd: /usr/sbin/sshd -D";
    leak.owner_pid = 99;
    leak.owner_comm = make_comm("sshd");
    leak.entered_mono_ns = kMono + 60 * kSecond;
    leak.reported_mono_ns = kMono + 65 * kSecond;
    return leak;
}

// How leak left CLOSE_WAIT: how, when, after how long in it, and by whom.
LeakResolved resolution(const Leak& leak, ResolvedHow how, std::uint64_t resolved_mono_ns, std::uint64_t in_state_ns,
                        std::optional<std::uint32_t> by_pid = std::nullopt, const char* by_comm = "") {
    LeakResolved r;
    r.leak = leak;
    r.how = how;
    r.by_pid = by_pid;
    if (by_pid)
        r.by_comm = make_comm(by_comm);
    r.resolved_mono_ns = resolved_mono_ns;
    r.in_state_ns = in_state_ns;
    return r;
}

LeakResolved resolved_by_close() {
    return resolution(never_closed_leak(), ResolvedHow::Close, kMono + 13 * kSecond + 345 * kMs,
                      13 * kSecond + 345 * kMs + 678, 1234, "server");
}

LeakResolved resolved_by_exit() {
    return resolution(closed_leak(), ResolvedHow::Exit, kMono + 70 * kSecond, 18 * kSecond + 500 * kMs, 1240, "worker");
}

LeakResolved resolved_by_reset() {
    return resolution(since_start_leak(), ResolvedHow::Reset, kMono + 2 * kSecond, 182 * kSecond);
}

LeakSummary sample_summary() {
    LeakSummary summary;
    summary.start_unix_ns = kSample;
    summary.end_unix_ns = kSample + 62 * static_cast<std::int64_t>(kSecond) + 500'000'000;
    summary.threshold = std::chrono::seconds(5);
    summary.leaks_reported = 2;
    summary.leaks_resolved = 1;
    summary.still_leaked = {closed_leak()};
    summary.close_wait_seen = 37;
    summary.tracking.scans = 12;
    summary.tracking.scan_busy_ns = 30'000'000;
    summary.kernel[TL_CNT_TRANSITIONS] = 5000;
    summary.kernel[TL_CNT_SENT] = 40;
    summary.kernel[TL_CNT_SELECTED_FULL] = 3;
    summary.bpf_map_bytes = 9'542'042;
    return summary;
}

StartInfo start_info() { return {"leaks", kSample, "0.1.0"}; }

const std::vector<std::string> kLeakKeys = {
    "type",       "time",        "pid",          "comm",       "fd",       "cmdline",        "family",
    "saddr",      "sport",       "daddr",        "dport",      "netns",    "state",          "in_state_ms",
    "close_wait_ms", "rx_queue", "since_start",  "verdict",    "closed_by", "closed_by_comm", "closed_by_fd",
    "closed_via", "holders",     "owner_pid",    "owner_comm", "sock",     "entered_time",   "seen_by",
    "cause",      "why",         "hint",         "sysctls",    "tcp",      "peer",
};
const std::vector<std::string> kResolvedKeys = {
    "type",    "time",     "pid",   "comm",        "fd",            "family",      "saddr",
    "sport",   "daddr",    "dport", "netns",       "sock",          "how",         "by_pid",
    "by_comm", "state",    "to_state", "in_state_ms", "close_wait_ms", "since_start", "verdict",
};
const std::vector<std::string> kSummaryKeys = {
    "type",  "time",          "mode",      "duration_ms", "threshold_ms", "leaks",         "resolved",
    "still_leaked", "close_wait_seen", "close_wait_unheld", "tracking_complete", "incomplete_reasons",
    "reconciliations", "found_by_scan", "scans", "scan_ms", "lost", "kernel", "bpf_map_bytes",
};

// Appends NDJSON lines to $TCPLEAK_LEAK_SAMPLES/leaks.ndjson when set: for
// checking them against docs/tcpleak-events.schema.json with jsonschema.
void save_samples(const std::string& ndjson) {
    const char* dir = std::getenv("TCPLEAK_LEAK_SAMPLES");
    if (!dir)
        return;
    std::ofstream(std::string(dir) + "/leaks.ndjson", std::ios::app) << ndjson;
}

// A leak output writing into captured buffers, with the sample clock: the
// JSON one, the text one of a log, and the text one of a terminal (in UTC,
// for the local times of the text).
struct JsonLeakOutput {
    CapturedOutput out;
    const ClockMapping clock = sample_clock();
    std::unique_ptr<LeakOutput> output = make_json_leak_output(out.buffer(), clock);
};

template <bool Interactive>
struct TextLeakOutputOf {
    const ScopedTimeZone utc{"UTC"};
    CapturedOutput out, err;
    const ClockMapping clock = sample_clock();
    std::unique_ptr<LeakOutput> output = make_text_leak_output(out.buffer(), err.buffer(), clock, Interactive);
};
using TextLeakOutput = TextLeakOutputOf<false>;
using InteractiveLeakOutput = TextLeakOutputOf<true>;

} // namespace

// ---------------------------------------------------------------- NDJSON

TEST_CASE_FIXTURE(JsonLeakOutput, "JSON leak output: start line carries the threshold") {
    output->start(start_info(), std::chrono::seconds(5));
    CHECK(out.text() == R"({"type":"start","time":"2026-11-21T07:44:06.123456Z","tool":"tcpleak","version":"0.1.0",)"
                        R"("schema_version":3,"mode":"leaks","threshold_ms":5000,"states":["CLOSE_WAIT"]})"
                        "\n");
    CHECK(keys_in_order(out.lines().at(0)) == std::vector<std::string>{"type", "time", "tool", "version",
                                                                       "schema_version", "mode", "threshold_ms",
                                                                       "states"});
    save_samples(out.text());
}

TEST_CASE_FIXTURE(JsonLeakOutput, "JSON leak output: a never-closed leak") {
    output->leak(never_closed_leak());
    check_golden("leak_never_closed.ndjson", out.text());
    CHECK(keys_in_order(out.lines().at(0)) == kLeakKeys);
    save_samples(out.text());
}

TEST_CASE_FIXTURE(JsonLeakOutput, "JSON leak output: closed but still referenced, with the closer and two holders") {
    output->leak(closed_leak());
    check_golden("leak_closed_still_referenced.ndjson", out.text());
    CHECK(keys_in_order(out.lines().at(0)) == kLeakKeys);
    save_samples(out.text());
}

TEST_CASE_FIXTURE(JsonLeakOutput, "JSON leak output: an orphaned FIN_WAIT1 with its cause, TCP record and peer") {
    Leak leak = never_closed_leak();
    leak.state = kTcpFinWait1;
    leak.verdict = Verdict::Orphaned;
    leak.holders.clear();
    leak.fd.reset();
    leak.tcp = TcpSocket{};
    leak.tcp->tx_queue = 2'803'712;
    leak.tcp->snd_wnd = 0;
    leak.tcp->timer = TcpTimer::Probe;
    leak.tcp->timer_left_ms = 748;
    leak.tcp->probes_out = 3;
    leak.explanation = StuckExplanation{StuckCause::PeerNotReading, true, "The peer stopped reading.",
                                        "Find why the peer stops reading.",
                                        {{"tcp_orphan_retries", 0}, {"tcp_max_orphans", std::nullopt}}};
    leak.peer = LeakPeer{4200, kTcpEstablished, 4026531840, Holder{1300, make_comm("reader"), 5}};
    output->leak(leak);
    LeakResolved r = resolution(leak, ResolvedHow::StateChange, leak.reported_mono_ns + 1'000'000'000, 6'000'000'000);
    r.to_state = kTcpFinWait2;
    output->resolved(r);
    check_golden("leak_orphaned_fin_wait1.ndjson", out.text());
    CHECK(keys_in_order(out.lines().at(0)) == kLeakKeys);
    CHECK(keys_in_order(out.lines().at(1)) == kResolvedKeys);
    save_samples(out.text());
}

TEST_CASE_FIXTURE(JsonLeakOutput, "JSON leak output: unknown fd, since start, IPv6, closer without fd") {
    Leak leak = since_start_leak();
    leak.verdict = Verdict::ClosedStillReferenced;
    leak.closed_by = ClosedBy{1, make_comm("init"), std::nullopt, ReleaseVia::Exit};
    output->leak(leak);
    const auto j = nlohmann::json::parse(out.lines().at(0));
    CHECK(j["fd"].is_null());
    CHECK(j["family"] == "ipv6");
    CHECK(j["saddr"] == "::1");
    CHECK(j["since_start"] == true);
    CHECK(j["close_wait_ms"] == 180'100);
    CHECK(j["closed_by"] == 1);
    CHECK(j["closed_by_fd"].is_null());
    CHECK(j["closed_via"] == "exit");
    CHECK(j["entered_time"] == "2026-11-21T07:41:06.123456Z");
    CHECK(keys_in_order(out.lines().at(0)) == kLeakKeys);
    save_samples(out.text());
}

TEST_CASE_FIXTURE(JsonLeakOutput, "JSON leak output: leak_resolved by close, exit and reset") {
    output->resolved(resolved_by_close());
    output->resolved(resolved_by_exit());
    output->resolved(resolved_by_reset());
    const auto lines = out.lines();
    REQUIRE(lines.size() == 3);
    check_golden("leak_resolved_json.ndjson", out.text());
    for (const std::string& line : lines)
        CHECK(keys_in_order(line) == kResolvedKeys);
    save_samples(out.text());
}

TEST_CASE_FIXTURE(JsonLeakOutput, "JSON leak output: lost record as trace's") {
    output->lost(3, 10, kMono);
    CHECK(out.text() == R"({"type":"lost","time":"2026-11-21T07:44:06.123456Z","count":3,"total":10})"
                        "\n");
    save_samples(out.text());
}

TEST_CASE_FIXTURE(JsonLeakOutput, "JSON leak output: summary; refresh writes nothing") {
    output->start(start_info(), std::chrono::seconds(5));
    out.clear();
    output->refresh({never_closed_leak()}, kMono + 10 * kSecond);
    CHECK(out.text().empty());
    LeakSummary summary = sample_summary();
    summary.kernel[TL_CNT_LOST] = 4;
    output->summary(summary);
    CHECK(out.text() == R"({"type":"summary","time":"2026-11-21T07:45:08.623456Z","mode":"leaks","duration_ms":62500,)"
                        R"("threshold_ms":5000,"leaks":2,"resolved":1,"still_leaked":1,"close_wait_seen":37,)"
                        R"("close_wait_unheld":0,"tracking_complete":true,"incomplete_reasons":[],)"
                        R"("reconciliations":0,"found_by_scan":0,"scans":12,"scan_ms":30,)"
                        R"("lost":4,"kernel":{"transitions_seen":5000,"sent":40,"lost":4,)"
                        R"("selected_full":3,"release_map_update_failed":0,)"
                        R"("pids_full":0,"unnamed_sockets":0,"recursion_misses":0},"bpf_map_bytes":9542042})"
                        "\n");
    CHECK(keys_in_order(out.lines().at(0)) == kSummaryKeys);
    save_samples(out.text());
}

TEST_CASE_FIXTURE(JsonLeakOutput, "JSON leak output: hostile names stay valid JSON") {
    const std::string hostile = "a\"b\\c\x01\x1b[31m\xff\xe2\x82";
    Leak leak = closed_leak();
    leak.comm = make_comm(hostile);
    leak.cmdline = hostile + " --x\n{\"type\":\"summary\"}\x7f";
    leak.holders[1].comm = make_comm(hostile);
    leak.closed_by->comm = make_comm(hostile);
    leak.owner_pid = 1234;
    leak.owner_comm = make_comm(hostile);
    output->leak(leak);
    LeakResolved r = resolved_by_exit();
    r.leak = leak;
    r.by_comm = make_comm(hostile);
    output->resolved(r);
    const auto lines = out.lines();
    REQUIRE(lines.size() == 2); // the newline in the cmdline is escaped
    for (const std::string& line : lines) {
        const auto j = nlohmann::json::parse(line); // throws on invalid JSON or UTF-8
        CHECK(j["comm"].get<std::string>().find('\x1b') != std::string::npos); // escaped, not dropped
        CHECK(line.find('\x1b') == std::string::npos);
        CHECK(line.find('\x7f') == std::string::npos);
    }
    const auto j = nlohmann::json::parse(lines[0]);
    CHECK(j["cmdline"].get<std::string>().find("\n{\"type\":\"summary\"}") != std::string::npos);
    CHECK(j["holders"][1]["comm"] == j["comm"]);
    CHECK(keys_in_order(lines[0]) == kLeakKeys);
    CHECK(keys_in_order(lines[1]) == kResolvedKeys);
    save_samples(out.text());
}

TEST_CASE("JSON leak output: nothing is formatted once stdout is closed") {
    Pipe pipe;
    pipe.close_read();
    const auto old = std::signal(SIGPIPE, SIG_IGN);
    {
        OutputBuffer out(pipe.write_end, 0);
        const ClockMapping clock = sample_clock();
        auto output = make_json_leak_output(out, clock);
        output->leak(never_closed_leak());
        CHECK(!out.flush());
        CHECK(out.closed());
        output->leak(never_closed_leak());
        output->resolved(resolved_by_close());
        output->summary(sample_summary());
        CHECK(out.buffer().empty());
    }
    std::signal(SIGPIPE, old);
}

// ---------------------------------------------------------------- text

TEST_CASE_FIXTURE(TextLeakOutput, "text leak output: banner on stderr") {
    output->start(start_info(), std::chrono::seconds(5));
    CHECK(err.text() == "Watching for sockets left in CLOSE_WAIT longer than 5s; Ctrl-C to end.\n");
    CHECK(out.text().empty());

    CapturedOutput err2;
    auto output2 = make_text_leak_output(out.buffer(), err2.buffer(), clock, true);
    output2->start(start_info(), std::chrono::milliseconds(1500));
    CHECK(err2.text() == "Watching for sockets left in CLOSE_WAIT longer than 1500ms; Ctrl-C to end.\n");
}

TEST_CASE_FIXTURE(TextLeakOutput, "text leak output: a line per leak and per resolution when not interactive") {
    output->leak(never_closed_leak());
    output->leak(closed_leak());
    output->leak(since_start_leak());
    output->resolved(resolved_by_close());
    output->resolved(resolved_by_exit());
    output->resolved(resolved_by_reset());
    check_golden("leaks_text_lines.txt", out.text());
    CHECK(err.text().empty());
}

TEST_CASE_FIXTURE(TextLeakOutput, "text leak output: stuck states say what waits in the queue and name the other end") {
    Leak fin_wait1 = never_closed_leak(); // orphaned behind a zero window, the reader on this host
    fin_wait1.state = kTcpFinWait1;
    fin_wait1.verdict = Verdict::Orphaned;
    fin_wait1.holders.clear();
    fin_wait1.fd.reset();
    fin_wait1.tcp = TcpSocket{};
    fin_wait1.tcp->tx_queue = 6145; // 6144 bytes and the FIN
    fin_wait1.tcp->snd_wnd = 0;
    fin_wait1.explanation = StuckExplanation{StuckCause::PeerNotReading, true, "The peer stopped reading.",
                                             "Find why the peer stops reading.", {}};
    fin_wait1.peer = LeakPeer{4200, kTcpEstablished, 4026531840, Holder{1300, make_comm("reader"), 5}};
    output->leak(fin_wait1);
    Leak last_ack = fin_wait1; // only the FIN left, the peer gone and its end orphaned
    last_ack.state = kTcpLastAck;
    last_ack.tcp->tx_queue = 1;
    last_ack.tcp->snd_wnd = 65536;
    last_ack.explanation.reset();
    last_ack.peer = LeakPeer{4201, kTcpFinWait2, 4026531840, std::nullopt};
    output->leak(last_ack);
    Leak fin_wait2 = never_closed_leak(); // held after shutdown(), nothing queued
    fin_wait2.state = kTcpFinWait2;
    fin_wait2.tcp = TcpSocket{};
    fin_wait2.peer = LeakPeer{4202, kTcpCloseWait, 4026531840, Holder{1301, make_comm("api"), 7}};
    output->leak(fin_wait2);
    check_golden("leaks_stuck_lines.txt", out.text());
}

TEST_CASE_FIXTURE(TextLeakOutput, "text leak output: the table") {
    output->start(start_info(), std::chrono::seconds(5));
    // Given in report order; shown by leaked count, then pid; sockets by fd.
    output->refresh({low_pid_leak(), closed_leak(), since_start_leak(), never_closed_leak()},
                    kMono + 63 * kSecond + 500 * kMs);
    check_golden("leaks_table.txt", out.text());
}

TEST_CASE_FIXTURE(TextLeakOutput, "text leak output: empty table") {
    output->start(start_info(), std::chrono::seconds(5));
    output->refresh({}, kMono);
    CHECK(out.text() == "tcpleak leaks  07:44:06  threshold 5s\n"
                        "No socket has been in CLOSE_WAIT longer than 5s.\n");
}

TEST_CASE_FIXTURE(TextLeakOutput, "text leak output: a log gets a table only when the set of leaks changed") {
    output->start(start_info(), std::chrono::seconds(5));
    output->refresh({}, kMono);
    output->refresh({}, kMono + 2 * kSecond); // unchanged: nothing
    CHECK(count(out.text(), "tcpleak leaks  ") == 1);

    output->leak(never_closed_leak());
    output->refresh({never_closed_leak()}, kMono + 6 * kSecond);
    output->refresh({never_closed_leak()}, kMono + 8 * kSecond); // same set, older: nothing
    CHECK(count(out.text(), "tcpleak leaks  ") == 2);

    output->leak(closed_leak());
    output->refresh({closed_leak(), never_closed_leak()}, kMono + 60 * kSecond);
    output->refresh({never_closed_leak(), closed_leak()}, kMono + 62 * kSecond); // same set, other order
    CHECK(count(out.text(), "tcpleak leaks  ") == 3);

    output->resolved(resolved_by_exit());
    output->refresh({never_closed_leak()}, kMono + 70 * kSecond); // changed back: printed again
    CHECK(count(out.text(), "tcpleak leaks  ") == 4);
    CHECK(out.text().find('\x1b') == std::string::npos);

    // A blank line between a table and event lines, one between tables.
    const std::string& text = out.text();
    CHECK(text.find("5s.\n\n07:44:11.123 LEAK ") != std::string::npos);
    CHECK(text.find("never closed\n\ntcpleak leaks  07:44:12  threshold 5s  1 socket leaked by 1 process\n") !=
          std::string::npos);
    CHECK(text.find("\n\n\n") == std::string::npos);
}

TEST_CASE_FIXTURE(InteractiveLeakOutput, "text leak output: interactive refresh redraws the screen every time") {
    output->start(start_info(), std::chrono::seconds(5));
    output->leak(never_closed_leak()); // no line: the screen is redrawn
    CHECK(out.text().empty());
    output->refresh({never_closed_leak()}, kMono + 6 * kSecond);
    CHECK(out.text().starts_with("\x1b[H\x1b[2J"
                                 "tcpleak leaks  07:44:12  threshold 5s  1 socket leaked by 1 process\n"
                                 "PID      COMM             LEAKED  OLDEST   COMMAND\n"
                                 "1234     server                1  6.00s    /usr/bin/server --port 8080\n"));
    out.clear();
    output->refresh({never_closed_leak()}, kMono + 7 * kSecond); // same set: redrawn anyway (ages)
    CHECK(out.text().starts_with("\x1b[H\x1b[2Jtcpleak leaks  07:44:13  "));
    CHECK(out.text().find("  7     127.0.0.1:8080         127.0.0.1:50312        7.00s ") != std::string::npos);
    out.clear();
    output->resolved(resolved_by_close());
    CHECK(out.text().empty());
    output->refresh({}, kMono + 14 * kSecond);
    CHECK(out.text() == "\x1b[H\x1b[2J"
                        "tcpleak leaks  07:44:20  threshold 5s\n"
                        "No socket has been in CLOSE_WAIT longer than 5s.\n");
}

TEST_CASE_FIXTURE(InteractiveLeakOutput, "text leak output: the table shows the command line the tracker kept") {
    output->start(start_info(), std::chrono::seconds(5));
    output->leak(never_closed_leak());
    // LeakTracker::active() carries the cmdline (LeakTracker::set_cmdline).
    output->refresh({never_closed_leak()}, kMono + 6 * kSecond);
    CHECK(out.text().find("6.00s    /usr/bin/server --port 8080\n") != std::string::npos);

    out.clear();
    Leak unknown = low_pid_leak();
    unknown.cmdline.clear(); // never seen: "-"
    output->refresh({unknown}, kMono + 66 * kSecond);
    CHECK(out.text().find("1  6.00s    -\n") != std::string::npos);
}

TEST_CASE_FIXTURE(TextLeakOutput, "text leak output: hostile names are printable and the command line is capped") {
    Leak leak = never_closed_leak();
    leak.comm = make_comm("a\x1b[31m\\b");
    leak.cmdline = "/usr/bin/\x1b]0;pwned\x07" + std::string(100, 'x');
    output->leak(leak);
    output->refresh({leak}, kMono + 6 * kSecond);
    const std::string& text = out.text();
    CHECK(text.find('\x1b') == std::string::npos);
    CHECK(text.find('\x07') == std::string::npos);
    CHECK(text.find("pid 1234 a\\x1b[31m\\\\b fd 7 ") != std::string::npos);
    const std::string row = "1234     a\\x1b[31m\\\\b          1  6.00s    ";
    const std::size_t at = text.find(row);
    REQUIRE(at != std::string::npos);
    const std::string cmdline = text.substr(at + row.size(), text.find('\n', at) - at - row.size());
    CHECK(cmdline == "/usr/bin/\\x1b]0;pwned\\x07" + std::string(60 - 3 - 25, 'x') + "...");
    CHECK(cmdline.size() == 60);
}

TEST_CASE_FIXTURE(TextLeakOutput, "text leak output: lost events on stderr") {
    output->lost(1, 1, kSample);
    output->lost(5, 6, kSample);
    CHECK(err.text() == "tcpleak: 1 event lost (ring buffer full), 1 in total\n"
                        "tcpleak: 5 events lost (ring buffer full), 6 in total\n");
    CHECK(out.text().empty());
}

TEST_CASE_FIXTURE(TextLeakOutput, "text leak output: summary") {
    output->summary(sample_summary());
    CHECK(err.text() ==
          "tcpleak leaks: 2 sockets leaked in CLOSE_WAIT past 5s (1 resolved, 1 still leaked) in 1m02s; "
          "0 events lost\n"
          "PID      COMM             LEAKED  OLDEST   COMMAND\n"
          "1234     server                1  11.0s    /usr/bin/server --port 8080\n"
          "  FD    LOCAL                  REMOTE                 CLOSE_WAIT  RECV-Q  VERDICT\n"
          "  9     127.0.0.1:8080         127.0.0.1:50318        11.0s       512     "
          "closed by 1233 server (fd 7, close); held by 1234 server fd 9, 1240 worker fd 9\n"
          "kernel: transitions_seen=5000 sent=40 selected_full=3; BPF maps: 9.1 MiB\n");
    CHECK(out.text().empty());
}

TEST_CASE_FIXTURE(TextLeakOutput, "text leak output: summary without leaks, with incomplete tracking and lost events") {
    LeakSummary summary = sample_summary();
    summary.leaks_reported = 0;
    summary.leaks_resolved = 0;
    summary.still_leaked.clear();
    summary.tracking.complete = false;
    summary.tracking.incomplete_reasons = {"events were lost"};
    summary.close_wait_unheld = 1;
    summary.kernel = {};
    summary.kernel[TL_CNT_LOST] = 1;
    summary.bpf_map_bytes = 512;
    output->summary(summary);
    CHECK(err.text() == "tcpleak leaks: no socket leaked in CLOSE_WAIT past 5s in 1m02s; 1 event lost\n"
                        "tcpleak: note: 1 socket in CLOSE_WAIT past the threshold held by no descriptor "
                        "when looked at (never accepted, or in flight over a unix socket): reported only "
                        "once a descriptor holds them\n"
                        "tcpleak: warning: tracking incomplete: events were lost\n"
                        "tcpleak: exit status 4 unless a leak was found: tcpleak could not watch everything\n"
                        "kernel: lost=1; BPF maps: 512 B\n");
}
