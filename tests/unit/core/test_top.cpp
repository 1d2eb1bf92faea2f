#include "tcpleak/core/top.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace tcpleak;

namespace {

constexpr std::uint64_t kSec = 1'000'000'000;
constexpr std::uint64_t kT0 = 9000 * kSec; // CLOCK_MONOTONIC of the first census
constexpr std::uint32_t kHostNetns = 4026531840u;
constexpr std::uint32_t kTestNetns = 4026532777u;
constexpr std::uint64_t kWebCgroup = 501;
constexpr std::uint64_t kDbCgroup = 502;

// A small fake host: sockets by cookie, and who holds them, censused at a
// time the test chooses (the fake clock).
class FakeHost {
public:
    void add(std::uint64_t cookie, std::uint8_t state, std::uint32_t pid, const char* comm,
             std::uint64_t cgroup = kWebCgroup, std::optional<std::uint64_t> close_wait_age = std::nullopt) {
        TcpSocket s;
        s.cookie = cookie;
        s.state = state;
        s.netns = kHostNetns;
        s.age_ns = close_wait_age;
        sockets_.push_back(s);
        if (pid == 0)
            return;
        SocketHolder h;
        h.cookie = cookie;
        h.pid = pid;
        h.comm = make_comm(comm);
        h.fd = static_cast<std::uint32_t>(cookie);
        h.cgroup = cgroup;
        h.netns = kHostNetns;
        holders_.push_back(h);
    }
    // Nobody holds these: a time-wait socket, or one its program closed.
    void add_time_wait(std::uint64_t cookie, std::uint32_t netns) { add_unheld(cookie, kTcpTimeWait, netns, true); }
    void add_orphan(std::uint64_t cookie, std::uint8_t state) { add_unheld(cookie, state, kHostNetns, false); }
    Census census(std::uint64_t at) {
        for (TcpSocket& s : sockets_)
            s.read_mono_ns = at;
        for (SocketHolder& h : holders_)
            h.read_mono_ns = at;
        return take_census(sockets_, holders_, at);
    }

private:
    void add_unheld(std::uint64_t cookie, std::uint8_t state, std::uint32_t netns, bool time_wait) {
        TcpSocket s;
        s.cookie = cookie;
        s.state = state;
        s.time_wait = time_wait;
        s.orphan = true;
        s.netns = netns;
        sockets_.push_back(s);
    }

    std::vector<TcpSocket> sockets_;
    std::vector<SocketHolder> holders_;
};

const TopRow& row_of(const TopSnapshot& snap, std::uint32_t pid) {
    for (const TopRow& row : snap.rows)
        if (row.pid == pid)
            return row;
    FAIL("no row for pid " << pid);
    return snap.rows.front();
}

std::vector<std::uint32_t> pids_in_order(const TopSnapshot& snap) {
    std::vector<std::uint32_t> pids;
    for (const TopRow& row : snap.rows)
        pids.push_back(row.pid);
    return pids;
}

std::optional<TcpSysctls> test_limits(std::uint32_t netns) {
    if (netns != kTestNetns)
        return std::nullopt;
    TcpSysctls limits;
    limits.max_tw_buckets = 1024;
    limits.fin_timeout_s = 5;
    return limits;
}

std::string by_cgroup(const CensusProcess& p) { return p.cgroup == kWebCgroup ? "/web" : "/db"; }

} // namespace

TEST_CASE("top: the first census has counts but no rates; the next one has new connections per second") {
    FakeHost host;
    host.add(1, kTcpListen, 100, "api");
    host.add(2, kTcpEstablished, 100, "api");
    TopModel model(TopGrouping::Process, {}, 60 * kSec);
    const TopSnapshot first = model.update(host.census(kT0), {}, {});
    CHECK(first.interval_ns == 0);
    CHECK(first.new_connections == 0);
    CHECK(row_of(first, 100).sockets[kTcpEstablished] == 1);
    CHECK(row_of(first, 100).close_wait_growth.over_ns == 0);

    for (std::uint64_t cookie = 10; cookie < 20; ++cookie)
        host.add(cookie, kTcpEstablished, 100, "api");
    const TopSnapshot second = model.update(host.census(kT0 + 2 * kSec), {}, {});
    CHECK(second.interval_ns == 2 * kSec);
    CHECK(second.new_connections == 10);
    CHECK(second.new_per_second == doctest::Approx(5.0));
    CHECK(row_of(second, 100).new_per_second == doctest::Approx(5.0));
}

TEST_CASE("top: CLOSE_WAIT growth is measured over the window, not over one interval") {
    FakeHost host;
    host.add(1, kTcpEstablished, 100, "api");
    TopModel model(TopGrouping::Process, {}, 60 * kSec);
    model.update(host.census(kT0), {}, {});
    // One socket leaked every 10 s, censused every 2 s: growth stays +6/min
    // over the window instead of flickering between +30/min and 0.
    std::uint64_t cookie = 100;
    TopSnapshot snap;
    for (std::uint64_t t = 2; t <= 120; t += 2) {
        if (t % 10 == 0)
            host.add(cookie++, kTcpCloseWait, 100, "api");
        snap = model.update(host.census(kT0 + t * kSec), {}, {});
        if (t >= 60) {
            const Growth growth = row_of(snap, 100).close_wait_growth;
            CHECK(growth.over_ns >= 60 * kSec);
            CHECK(growth.over_ns < 62 * kSec);
            CHECK(growth.per_minute() == doctest::Approx(6.0).epsilon(0.1));
        }
    }
    CHECK(row_of(snap, 100).close_wait() == 12);
}

TEST_CASE("top: the growth window keeps a bounded number of baselines, however short the interval") {
    GrowthWindow window(60 * kSec);
    Growth growth;
    for (std::uint64_t t = 0; t <= 180 * 10; ++t) { // every 100 ms for 3 minutes, +1 every second
        window.record(kT0 + t * kSec / 10, {{"api", static_cast<std::uint32_t>(t / 10)}});
        growth = window.growth("api");
        CHECK(window.baselines() <= GrowthWindow::kBaselinesPerWindow + 1);
    }
    CHECK(growth.over_ns >= 60 * kSec);
    CHECK(growth.over_ns <= 60 * kSec + 60 * kSec / GrowthWindow::kBaselinesPerWindow + kSec / 10);
    CHECK(growth.per_minute() == doctest::Approx(60.0).epsilon(0.05));
    CHECK(window.growth("gone").change == 0);
}

TEST_CASE("top: growing CLOSE_WAIT ranks first, then the most CLOSE_WAIT, then closing states, then sockets") {
    FakeHost host;
    for (std::uint64_t c = 1; c <= 50; ++c)
        host.add(c, kTcpEstablished, 10, "busy");           // most sockets
    for (std::uint64_t c = 101; c <= 120; ++c)
        host.add(c, kTcpCloseWait, 20, "bigleak");          // most CLOSE_WAIT, not growing
    host.add(201, kTcpCloseWait, 30, "newleak");             // growing (below)
    host.add(301, kTcpFinWait2, 40, "halfclose");            // a closing state
    host.add(302, kTcpEstablished, 40, "halfclose");
    host.add(401, kTcpEstablished, 50, "idle");
    host.add(402, kTcpEstablished, 50, "idle");
    TopModel model(TopGrouping::Process, {}, 60 * kSec);
    model.update(host.census(kT0), {}, {});
    host.add(202, kTcpCloseWait, 30, "newleak");
    const TopSnapshot snap = model.update(host.census(kT0 + 2 * kSec), {}, {});
    CHECK(pids_in_order(snap) == std::vector<std::uint32_t>{30, 20, 40, 10, 50});
    CHECK(snap.growing == 1);
    CHECK(row_of(snap, 30).close_wait_growth.per_minute() == doctest::Approx(30.0));
}

TEST_CASE("top: a new process's CLOSE_WAIT counts as growth from none") {
    FakeHost host;
    host.add(1, kTcpEstablished, 10, "old");
    TopModel model(TopGrouping::Process, {}, 60 * kSec);
    model.update(host.census(kT0), {}, {});
    host.add(2, kTcpCloseWait, 11, "young");
    const TopSnapshot snap = model.update(host.census(kT0 + 2 * kSec), {}, {});
    CHECK(row_of(snap, 11).close_wait_growth.change == 1);
}

TEST_CASE("top: the oldest CLOSE_WAIT is the kernel's lower bound, the largest of the process") {
    FakeHost host;
    host.add(1, kTcpCloseWait, 10, "api", kWebCgroup, 5 * kSec);
    host.add(2, kTcpCloseWait, 10, "api", kWebCgroup, 90 * kSec);
    host.add(3, kTcpCloseWait, 10, "api", kWebCgroup);
    TopModel model(TopGrouping::Process, {}, 60 * kSec);
    const TopSnapshot snap = model.update(host.census(kT0), {}, {});
    CHECK(row_of(snap, 10).oldest_close_wait_ns == 90 * kSec);
}

TEST_CASE("top: -p and -c keep only the named processes' rows, and the unheld rows") {
    FakeHost host;
    host.add(1, kTcpEstablished, 10, "api");
    host.add(2, kTcpEstablished, 11, "worker");
    host.add(3, kTcpEstablished, 12, "worker");
    host.add_orphan(4, kTcpFinWait1);
    TopModel by_pid(TopGrouping::Process, TopFilter{{11, 10}, {}}, 60 * kSec);
    CHECK(pids_in_order(by_pid.update(host.census(kT0), {}, {})) == std::vector<std::uint32_t>{10, 11});
    TopModel by_comm(TopGrouping::Process, TopFilter{{}, "worker"}, 60 * kSec);
    const TopSnapshot snap = by_comm.update(host.census(kT0), {}, {});
    CHECK(pids_in_order(snap) == std::vector<std::uint32_t>{11, 12});
    CHECK(snap.processes == 3);
    REQUIRE(snap.unheld.size() == 1);
    CHECK(snap.unheld[0].kind == UnheldKind::Orphaned);
    CHECK(snap.orphans == 1);
}

TEST_CASE("top: unheld sockets per network namespace, with that namespace's limits") {
    FakeHost host;
    host.add_time_wait(1, kHostNetns);
    host.add_time_wait(2, kTestNetns);
    host.add_time_wait(3, kTestNetns);
    host.add_orphan(4, kTcpLastAck);
    TopModel model(TopGrouping::Process, {}, 60 * kSec);
    const TopSnapshot snap = model.update(host.census(kT0), {}, test_limits);
    REQUIRE(snap.unheld.size() == 3);
    CHECK(snap.unheld[0].netns == kHostNetns);
    CHECK(snap.unheld[0].kind == UnheldKind::Orphaned);
    CHECK(snap.unheld[0].sockets[kTcpLastAck] == 1);
    CHECK(snap.unheld[1].kind == UnheldKind::TimeWait);
    CHECK(snap.unheld[1].sockets[kTcpTimeWait] == 1);
    CHECK_FALSE(snap.unheld[1].limits.has_value());
    CHECK(snap.unheld[2].netns == kTestNetns);
    CHECK(snap.unheld[2].sockets[kTcpTimeWait] == 2);
    REQUIRE(snap.unheld[2].limits.has_value());
    CHECK(snap.unheld[2].limits->max_tw_buckets == 1024u);
    CHECK(snap.time_wait == 3);
    CHECK(snap.orphans == 1);
}

TEST_CASE("top: --by container adds up its processes, and its growth is the container's") {
    FakeHost host;
    host.add(1, kTcpCloseWait, 20, "web", kWebCgroup, 7 * kSec);
    host.add(2, kTcpEstablished, 21, "web", kWebCgroup);
    host.add(3, kTcpEstablished, 30, "db", kDbCgroup);
    TopModel model(TopGrouping::Container, {}, 60 * kSec);
    model.update(host.census(kT0), by_cgroup, {});
    host.add(4, kTcpCloseWait, 21, "web", kWebCgroup, 1 * kSec);
    host.add(5, kTcpEstablished, 30, "db", kDbCgroup);
    const TopSnapshot snap = model.update(host.census(kT0 + 2 * kSec), by_cgroup, {});
    REQUIRE(snap.rows.size() == 2);
    const TopRow& web = snap.rows[0];
    CHECK(web.container == "/web");
    CHECK(web.processes == 2);
    CHECK(web.pid == 20);
    CHECK(web.close_wait() == 2);
    CHECK(web.sockets[kTcpEstablished] == 1);
    CHECK(web.close_wait_growth.change == 1);
    CHECK(web.oldest_close_wait_ns == 7 * kSec);
    CHECK(web.new_connections == 1);
    CHECK(snap.rows[1].container == "/db");
    CHECK(snap.rows[1].new_connections == 1);
}

TEST_CASE("top: SYN_RECV's column counts the requests (NEW_SYN_RECV) too") {
    StateCounts counts;
    counts.add(kTcpSynRecv);
    counts.add(kTcpNewSynRecv, 2);
    CHECK(top_column(counts, kTcpSynRecv) == 3);
    CHECK(top_column(counts, kTcpEstablished) == 0);
}
