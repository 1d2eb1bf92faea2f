#include "tcpleak/output/top_output.hpp"

#include "support.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

using namespace tcpleak;
using tcpleak::test::CapturedOutput;
using tcpleak::test::kSample;

namespace {

constexpr std::uint64_t kSec = 1'000'000'000;

TopSnapshot sample_snapshot(TopGrouping by = TopGrouping::Process) {
    TopSnapshot snap;
    snap.taken_ns = 100 * kSec;
    snap.interval_ns = 2 * kSec;
    snap.by = by;
    snap.growth_window_ns = 60 * kSec;
    TopRow leaker;
    leaker.pid = 4242;
    leaker.comm = make_comm("api\x1b[31m");
    leaker.container = "/kubepods/\x1b]0;evil\x07";
    leaker.processes = 3;
    leaker.sockets.add(kTcpCloseWait, 40);
    leaker.sockets.add(kTcpEstablished, 7);
    leaker.new_connections = 6;
    leaker.new_per_second = 3;
    leaker.close_wait_growth = {20, 60 * kSec};
    leaker.oldest_close_wait_ns = 95 * kSec;
    snap.rows.push_back(leaker);
    TopRow idle;
    idle.pid = 17;
    idle.comm = make_comm("sshd");
    idle.sockets.add(kTcpListen);
    snap.rows.push_back(idle);
    TopUnheldRow time_wait;
    time_wait.netns = 4026532777u;
    time_wait.kind = UnheldKind::TimeWait;
    time_wait.sockets.add(kTcpTimeWait, 12);
    TcpSysctls limits;
    limits.max_tw_buckets = 4321;
    limits.fin_timeout_s = 60;
    limits.tw_reuse = 2;
    time_wait.limits = limits;
    snap.unheld.push_back(time_wait);
    for (const TopRow& row : snap.rows)
        for (std::size_t s = 0; s < kTcpStateSlots; ++s)
            snap.all.by_state[s] += row.sockets.by_state[s];
    snap.all.add(kTcpTimeWait, 12);
    snap.processes = 2;
    snap.growing = 1;
    snap.time_wait = 12;
    return snap;
}

std::vector<std::string> words(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> result;
    for (std::string w; in >> w;)
        result.push_back(w);
    return result;
}

const std::string& line_starting(const std::vector<std::string>& lines, std::string_view first_word) {
    for (const std::string& line : lines)
        if (!words(line).empty() && words(line)[0] == first_word)
            return line;
    FAIL("no line starting with " << first_word);
    return lines.front();
}

} // namespace

TEST_CASE("top text: one line per process in fixed columns, the name last and escaped") {
    CapturedOutput out;
    auto output = make_text_top_output(out.buffer(), false, {});
    output->start({{"top", kSample, "test"}, 2 * kSec, 60 * kSec, TopGrouping::Process});
    output->snapshot(sample_snapshot(), kSample, {});
    const std::vector<std::string> lines = out.lines();
    CHECK(lines[0].starts_with("tcpleak top  "));
    CHECK(lines[0].find("every 2s, CLOSE_WAIT growth over 60s, by process") != std::string::npos);
    CHECK(lines[1].find("2 processes holding some, 1 with CLOSE_WAIT growing") != std::string::npos);
    const std::vector<std::string> heading = words(line_starting(lines, "PID"));
    const std::vector<std::string> row = words(line_starting(lines, "4242"));
    REQUIRE(row.size() == heading.size());
    const auto cell = [&](std::string_view column) {
        return row[static_cast<std::size_t>(std::find(heading.begin(), heading.end(), column) - heading.begin())];
    };
    CHECK(cell("C_WAIT") == "40");
    CHECK(cell("ESTAB") == "7");
    CHECK(cell("TOTAL") == "47");
    CHECK(cell("NEW/s") == "3.0");
    CHECK(cell("CW/MIN") == "+20.0");
    CHECK(cell("OLDEST_CW") == ">=1m35s");
    CHECK(cell("COMM") == "api\\x1b[31m");
    CHECK(out.text().find('\x1b') == std::string::npos);
    CHECK(words(line_starting(lines, "time-wait"))[9] == "12");
    const auto time_wait = std::find(lines.begin(), lines.end(), line_starting(lines, "time-wait"));
    CHECK(time_wait->ends_with("  netns 4026532777"));
    CHECK(*(time_wait + 1) == "           tcp_max_tw_buckets 4321, tcp_fin_timeout 60s, tcp_tw_reuse 2");
}

TEST_CASE("top text: a terminal is cleared and the rows cut to its height") {
    CapturedOutput out;
    // 12 lines: the last one stays empty (a newline there would scroll the
    // screen), 9 go to the header and the unheld rows.
    auto output = make_text_top_output(out.buffer(), true, [] { return std::size_t{12}; });
    output->start({{"top", kSample, "test"}, 2 * kSec, 60 * kSec, TopGrouping::Process});
    out.clear();
    TopSnapshot snap = sample_snapshot();
    snap.rows.push_back(snap.rows.back());
    snap.rows.push_back(snap.rows.back());
    output->snapshot(snap, kSample, {});
    CHECK(out.text().starts_with("\x1b[H\x1b[2J"));
    const std::vector<std::string> lines = out.lines();
    CHECK(lines.size() == 11);
    CHECK(words(lines[6]) == std::vector<std::string>{"3", "more", "rows", "(a", "taller", "terminal,", "-p/-c,", "or",
                                                      "--json", "shows", "them)"});
}

TEST_CASE("top text: --by container names the container, escaped, with its processes") {
    CapturedOutput out;
    auto output = make_text_top_output(out.buffer(), false, {});
    output->snapshot(sample_snapshot(TopGrouping::Container), kSample, {});
    const std::string& row = line_starting(out.lines(), "3");
    CHECK(row.ends_with("/kubepods/\\x1b]0;evil\\x07 (4242 api\\x1b[31m)"));
}

TEST_CASE("top JSON: a census record with every state, rates, rows and the unheld row's limits") {
    CapturedOutput out;
    auto output = make_json_top_output(out.buffer());
    output->start({{"top", kSample, "test"}, 2 * kSec, 60 * kSec, TopGrouping::Process});
    TopScan scan{1'234'567, 100, 80, 2, 0};
    output->snapshot(sample_snapshot(), kSample, scan);
    TopSummary summary;
    summary.start_unix_ns = kSample;
    summary.end_unix_ns = kSample + 4 * static_cast<std::int64_t>(kSec);
    summary.snapshots = 1;
    summary.scan_ns_total = summary.scan_ns_max = scan.took_ns;
    output->summary(summary);
    const std::vector<std::string> lines = out.lines();
    REQUIRE(lines.size() == 3);
    const auto start = nlohmann::json::parse(lines[0]);
    CHECK(start["mode"] == "top");
    CHECK(start["interval_ms"] == 2000);
    CHECK(start["by"] == "process");
    const auto census = nlohmann::json::parse(lines[1]);
    CHECK(census["type"] == "census");
    CHECK(census["interval_ms"] == 2000);
    CHECK(census["states"]["TIME_WAIT"] == 12);
    CHECK(census["sockets"] == 60);
    const auto& row = census["rows"][0];
    CHECK(row["pid"] == 4242);
    CHECK(row["comm"] == "api\x1b[31m"); // JSON escapes it: parsed back, the bytes
    CHECK(lines[1].find('\x1b') == std::string::npos);
    CHECK(row["container"].is_null());
    CHECK(row["states"]["CLOSE_WAIT"] == 40);
    CHECK(row["states"].size() == kTopStates.size());
    CHECK(row["close_wait_growth"] == 20);
    CHECK(row["close_wait_per_minute"] == 20.0);
    CHECK(row["new_per_second"] == 3.0);
    CHECK(row["oldest_close_wait_ms"] == 95000);
    CHECK(census["rows"][1]["oldest_close_wait_ms"].is_null());
    const auto& unheld = census["unheld"][0];
    CHECK(unheld["kind"] == "time_wait");
    CHECK(unheld["limits"]["tcp_max_tw_buckets"] == 4321);
    CHECK(unheld["limits"].size() == 3);
    CHECK(census["scan"]["us"] == 1234);
    const auto end = nlohmann::json::parse(lines[2]);
    CHECK(end["mode"] == "top");
    CHECK(end["snapshots"] == 1);
    CHECK(end["duration_ms"] == 4000);
}
