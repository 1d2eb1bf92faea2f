// Over 500 lines: one case per rule of the census join (held, unheld kinds, namespaces, deltas).
#include "tcpleak/core/census.hpp"

#include "support/tcp_sockets.hpp"
#include "support/names.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

using namespace tcpleak;

namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kSec = 1'000'000'000;
constexpr std::uint64_t kT0 = 5000 * kSec; // CLOCK_MONOTONIC of the first census
constexpr std::uint32_t kInitNetns = 4026531840u;
constexpr std::uint32_t kPodNetns = 4026532513u;
constexpr std::uint64_t kSystemSlice = 8412; // cgroup ids
constexpr std::uint64_t kPodCgroup = 23877;

// A full socket of the TCP table: 10.0.0.5:sport -> 10.0.0.9:dport.
TcpSocket full(std::uint64_t cookie, std::uint8_t state, std::uint16_t sport = 8080, std::uint16_t dport = 51000) {
    TcpSocket s;
    s.cookie = cookie;
    s.state = state;
    s.sport = sport;
    s.dport = dport;
    s.saddr = {10, 0, 0, 5};
    s.daddr = {10, 0, 0, 9};
    s.netns = kInitNetns;
    s.read_mono_ns = kT0 - 40 * kMs;
    return s;
}

TcpSocket listener(std::uint64_t cookie, std::uint16_t port) {
    TcpSocket s = full(cookie, kTcpListen, port, 0);
    s.daddr = {};
    return s;
}

// Closed by its program: no file.
TcpSocket orphaned(std::uint64_t cookie, std::uint8_t state) {
    TcpSocket s = full(cookie, state);
    s.orphan = true;
    return s;
}

// Orphan FIN_WAIT1 whose peer stopped reading (support/tcp_sockets.hpp).
TcpSocket zero_window_fin_wait1(std::uint64_t cookie) { return test::with_zero_window(orphaned(cookie, kTcpFinWait1)); }

TcpSocket time_wait(std::uint64_t cookie, std::uint8_t substate) {
    TcpSocket s = full(cookie, substate, 58270, 40003);
    s.time_wait = true;
    s.orphan = true;
    s.timer = TcpTimer::TimeWait;
    s.timer_left_ms = 59'000;
    return s;
}

TcpSocket request(std::uint64_t cookie) {
    TcpSocket s = full(cookie, kTcpNewSynRecv);
    s.request = true;
    s.orphan = true;
    s.timer = TcpTimer::SynAck;
    s.retransmits = 2;
    s.age_ns = 3 * kSec;
    return s;
}

// In CLOSE_WAIT for at least `age` when it was read.
TcpSocket close_wait(std::uint64_t cookie, std::uint64_t age) {
    TcpSocket s = full(cookie, kTcpCloseWait);
    s.rx_queue = 1; // the FIN, as ss counts it
    s.age_ns = age;
    return s;
}

SocketHolder holder(std::uint64_t cookie, std::uint32_t pid, const char* comm, std::uint32_t fd,
                    std::uint64_t cgroup = kSystemSlice) {
    SocketHolder h;
    h.cookie = cookie;
    h.pid = pid;
    h.comm = make_comm(comm);
    h.fd = fd;
    h.cgroup = cgroup;
    h.netns = kInitNetns;
    h.read_mono_ns = kT0 - 20 * kMs;
    return h;
}

const CensusProcess& process(const Census& c, std::uint32_t pid) {
    const CensusProcess* p = c.find(pid);
    REQUIRE(p != nullptr);
    return *p;
}

std::vector<std::uint32_t> pids_in_order(const Census& c) {
    std::vector<std::uint32_t> pids;
    for (const CensusProcess& p : c.processes)
        pids.push_back(p.pid);
    return pids;
}

} // namespace

TEST_CASE("census: a process's sockets per state, and every unheld kind apart") {
    const std::vector<TcpSocket> sockets = {
        listener(100, 8080),
        full(101, kTcpEstablished),
        full(102, kTcpEstablished),
        close_wait(103, 90 * kSec),
        zero_window_fin_wait1(200),            // the program closed it
        orphaned(201, kTcpLastAck),            // likewise
        time_wait(300, kTcpFinWait2),          // an orphan's FIN_WAIT2 timeout runs in a time-wait socket
        time_wait(301, kTcpTimeWait),
        time_wait(302, kTcpTimeWait),
        request(400),
        orphaned(500, kTcpEstablished),        // in the accept queue
        close_wait(501, 12 * kSec),            // peer closed before accept()
        full(600, kTcpCloseWait),              // a file, but no descriptor: in flight over a unix socket
    };
    std::vector<TcpSocket> with_flags = sockets;
    with_flags[11].orphan = true; // 501: not accepted, so no file
    const std::vector<SocketHolder> holders = {
        holder(100, 2047, "api", 3), holder(101, 2047, "api", 4), holder(102, 2047, "api", 5),
        holder(103, 2047, "api", 6),
    };
    const Census c = take_census(with_flags, holders, kT0);

    REQUIRE(c.processes.size() == 1);
    const CensusProcess& api = process(c, 2047);
    CHECK(comm_view(api.comm) == "api");
    CHECK(api.cgroup == kSystemSlice);
    CHECK(api.sockets[kTcpListen] == 1);
    CHECK(api.sockets[kTcpEstablished] == 2);
    CHECK(api.close_wait() == 1);
    CHECK(api.total() == 4);
    CHECK(api.sockets.closing() == 1);
    CHECK(api.also_held.total() == 0);
    CHECK(api.oldest_close_wait_ns == 90 * kSec + 40 * kMs); // read 40 ms before the census

    const UnheldCensus& u = c.unheld;
    CHECK(u[UnheldKind::Orphaned][kTcpFinWait1] == 1);
    CHECK(u[UnheldKind::Orphaned][kTcpLastAck] == 1);
    CHECK(u[UnheldKind::TimeWait][kTcpFinWait2] == 1);
    CHECK(u[UnheldKind::TimeWait][kTcpTimeWait] == 2);
    CHECK(u[UnheldKind::Request][kTcpNewSynRecv] == 1);
    CHECK(u[UnheldKind::NotAccepted][kTcpEstablished] == 1);
    CHECK(u[UnheldKind::NotAccepted][kTcpCloseWait] == 1);
    CHECK(u[UnheldKind::NoDescriptor][kTcpCloseWait] == 1);
    CHECK(u.total() == 9);
    CHECK(u.oldest_not_accepted_close_wait_ns == 12 * kSec + 40 * kMs);

    CHECK(c.all.total() == 13);
    CHECK(c.all[kTcpFinWait2] == 1); // the time-wait socket, by the state ss shows
    CHECK(c.all[kTcpCloseWait] == 3);
    CHECK(c.sockets() == 13);
    CHECK(c.stale_holders == 0);
    CHECK(c.duplicate_sockets == 0);
}

TEST_CASE("census: the closing states") {
    for (std::uint8_t state : {kTcpFinWait1, kTcpFinWait2, kTcpLastAck, kTcpClosing, kTcpCloseWait})
        CHECK(is_closing_state(state));
    for (std::uint8_t state : {kTcpEstablished, kTcpSynSent, kTcpSynRecv, kTcpTimeWait, kTcpClose, kTcpListen,
                               kTcpNewSynRecv, std::uint8_t{0}, std::uint8_t{200}})
        CHECK_FALSE(is_closing_state(state));
    StateCounts counts;
    counts.add(kTcpCloseWait, 3);
    counts.add(kTcpFinWait2);
    counts.add(kTcpTimeWait, 7);
    counts.add(200); // a state this build does not know: slot 0
    CHECK(counts.closing() == 4);
    CHECK(counts.total() == 12);
    CHECK(counts[0] == 1);
    CHECK(counts[200] == 0);
}

TEST_CASE("census: unheld kind names") {
    test::check_names<UnheldKind>(unheld_kind_name, {{UnheldKind::Orphaned, "orphaned"},
                                                     {UnheldKind::TimeWait, "time_wait"},
                                                     {UnheldKind::Request, "request"},
                                                     {UnheldKind::NotAccepted, "not_accepted"},
                                                     {UnheldKind::NoDescriptor, "no_descriptor"}});
}

TEST_CASE("census: a socket several processes hold counts once, for the lowest pid; the others see it in also_held") {
    // The worker accepted, forked a handler and forgot its own copy: both
    // hold the CLOSE_WAIT socket; the handler also dup()ed it.
    const std::vector<TcpSocket> sockets = {close_wait(700, 30 * kSec), full(701, kTcpEstablished)};
    std::vector<SocketHolder> holders = {
        holder(700, 3101, "handler", 4), holder(700, 3101, "handler", 9), holder(700, 3100, "worker", 7),
        holder(701, 3101, "handler", 5),
    };
    for (int order = 0; order < 2; ++order) {
        CAPTURE(order);
        const Census c = take_census(sockets, holders, kT0);
        const CensusProcess& worker = process(c, 3100);
        const CensusProcess& handler = process(c, 3101);
        CHECK(worker.close_wait() == 1);
        CHECK(worker.oldest_close_wait_ns.has_value());
        CHECK(worker.also_held.total() == 0);
        CHECK(handler.close_wait() == 0);
        CHECK(handler.sockets[kTcpEstablished] == 1);
        CHECK_FALSE(handler.oldest_close_wait_ns.has_value()); // its only CLOSE_WAIT counts for the worker
        CHECK(handler.also_held[kTcpCloseWait] == 1);           // once, though it holds two descriptors of it
        CHECK(handler.also_held.total() == 1);
        CHECK(c.all.total() == 2);
        CHECK(pids_in_order(c) == std::vector<std::uint32_t>{3100, 3101});
        std::reverse(holders.begin(), holders.end()); // the walk's order does not matter
    }
}

TEST_CASE("census: a listener inherited by prefork workers counts for the master; workers get rows of their own") {
    std::vector<TcpSocket> sockets = {listener(10, 80), listener(11, 443)};
    std::vector<SocketHolder> holders;
    for (std::uint32_t pid = 1410; pid <= 1414; ++pid) { // master 1410, workers 1411..1414
        holders.push_back(holder(10, pid, pid == 1410 ? "nginx" : "nginx", 6));
        holders.push_back(holder(11, pid, "nginx", 7));
    }
    sockets.push_back(full(20, kTcpEstablished, 443, 40112));
    holders.push_back(holder(20, 1412, "nginx", 12));
    const Census c = take_census(sockets, holders, kT0);
    REQUIRE(c.processes.size() == 5);
    CHECK(process(c, 1410).sockets[kTcpListen] == 2);
    for (std::uint32_t pid = 1411; pid <= 1414; ++pid) {
        CHECK(process(c, pid).sockets[kTcpListen] == 0);
        CHECK(process(c, pid).also_held[kTcpListen] == 2);
    }
    CHECK(process(c, 1412).sockets[kTcpEstablished] == 1);
    CHECK(c.all[kTcpListen] == 2);
}

TEST_CASE("census: when the snapshots disagree, a socket's life only goes forward") {
    const std::vector<TcpSocket> sockets = {
        orphaned(800, kTcpFinWait1), // closed after the descriptor walk saw it: unheld, the record is stale
        orphaned(801, kTcpEstablished), // no file in the TCP walk, a descriptor later: accepted in between
        time_wait(802, kTcpTimeWait),   // the time-wait socket keeps the cookie of the socket it replaced
    };
    const std::vector<SocketHolder> holders = {
        holder(800, 2500, "client", 3), holder(801, 2500, "client", 4), holder(802, 2500, "client", 5),
        holder(999, 2500, "client", 6), // not in the TCP table at all: closed in between
    };
    const Census c = take_census(sockets, holders, kT0);
    const CensusProcess& client = process(c, 2500);
    CHECK(client.total() == 1);
    CHECK(client.sockets[kTcpEstablished] == 1);
    CHECK(c.unheld[UnheldKind::Orphaned][kTcpFinWait1] == 1);
    CHECK(c.unheld[UnheldKind::TimeWait][kTcpTimeWait] == 1);
    CHECK(c.unheld[UnheldKind::NotAccepted].total() == 0);
    CHECK(c.stale_holders == 3);
}

TEST_CASE("census: a cookie the walk met twice counts once, as its newer record says") {
    TcpSocket before = orphaned(900, kTcpFinWait2);
    before.read_mono_ns = kT0 - 50 * kMs;
    TcpSocket after = time_wait(900, kTcpFinWait2);
    after.read_mono_ns = kT0 - 30 * kMs;
    for (const auto& sockets : {std::vector<TcpSocket>{before, after}, std::vector<TcpSocket>{after, before}}) {
        const Census c = take_census(sockets, {}, kT0);
        CHECK(c.duplicate_sockets == 1);
        CHECK(c.sockets() == 1);
        CHECK(c.all.total() == 1);
        CHECK(c.unheld[UnheldKind::TimeWait][kTcpFinWait2] == 1);
        CHECK(c.unheld[UnheldKind::Orphaned].total() == 0);
    }
    // Read at the same moment: the time-wait socket is the later stage.
    after.read_mono_ns = before.read_mono_ns;
    const Census tie = take_census(std::vector<TcpSocket>{after, before}, {}, kT0);
    CHECK(tie.unheld[UnheldKind::TimeWait][kTcpFinWait2] == 1);
}

TEST_CASE("census: descriptors of sockets in namespaces the TCP walk did not cover are not stale") {
    const std::vector<TcpSocket> sockets = {full(1, kTcpEstablished)};
    SocketHolder elsewhere = holder(2, 10, "x", 4);
    elsewhere.netns = kPodNetns; // only the initial namespace was walked
    const std::vector<SocketHolder> holders = {holder(1, 10, "x", 3), elsewhere, holder(3, 10, "x", 5)};
    const Census c = take_census(sockets, holders, kT0);
    CHECK(c.holders_not_walked == 1);
    CHECK(c.stale_holders == 1); // cookie 3: the initial namespace was walked and has no such socket
    CHECK(process(c, 10).total() == 1);
}

TEST_CASE("census: records with cookie 0 are ignored and counted") {
    const std::vector<TcpSocket> sockets = {full(0, kTcpEstablished), full(5, kTcpEstablished)};
    const std::vector<SocketHolder> holders = {holder(0, 10, "x", 3), holder(5, 10, "x", 4)};
    const Census c = take_census(sockets, holders, kT0);
    CHECK(c.no_cookie == 1);
    CHECK(c.sockets() == 1);
    CHECK(process(c, 10).total() == 1);
    CHECK(c.stale_holders == 1);
}

TEST_CASE("census: the oldest CLOSE_WAIT, from sockets read at different moments, or the holder's estimate") {
    TcpSocket a = close_wait(1, 10 * kSec);
    a.read_mono_ns = kT0 - 2 * kSec; // older than b although its age reads lower: read 2 s earlier
    TcpSocket b = close_wait(2, 11 * kSec);
    b.read_mono_ns = kT0 - 500 * kMs;
    TcpSocket c = close_wait(3, 0);
    c.age_ns.reset(); // the TCP table did not know it: the holder record did
    TcpSocket d = close_wait(4, 0);
    d.age_ns.reset(); // nobody knows
    const std::vector<TcpSocket> sockets = {a, b, c, d};
    SocketHolder hc = holder(3, 30, "other", 3);
    hc.close_wait_age_ns = 40 * kSec;
    hc.read_mono_ns = kT0 - kSec;
    const std::vector<SocketHolder> holders = {holder(1, 20, "api", 3), holder(2, 20, "api", 4), hc,
                                               holder(4, 40, "unknown-age", 3)};
    const Census census = take_census(sockets, holders, kT0);
    CHECK(process(census, 20).oldest_close_wait_ns == 12 * kSec);
    CHECK(process(census, 30).oldest_close_wait_ns == 41 * kSec);
    CHECK_FALSE(process(census, 40).oldest_close_wait_ns.has_value());
    CHECK(process(census, 40).close_wait() == 1);
}

TEST_CASE("census: most CLOSE_WAIT first, then by pid; find() by pid") {
    std::vector<TcpSocket> sockets;
    std::vector<SocketHolder> holders;
    std::uint64_t cookie = 1;
    const auto give = [&](std::uint32_t pid, std::uint8_t state, int n) {
        for (int k = 0; k < n; ++k, ++cookie) {
            sockets.push_back(state == kTcpCloseWait ? close_wait(cookie, kSec) : full(cookie, state));
            holders.push_back(holder(cookie, pid, "p", static_cast<std::uint32_t>(3 + k)));
        }
    };
    give(50, kTcpEstablished, 9);
    give(40, kTcpCloseWait, 2);
    give(30, kTcpCloseWait, 5);
    give(20, kTcpCloseWait, 2);
    give(10, kTcpEstablished, 1);
    const Census c = take_census(sockets, holders, kT0);
    CHECK(pids_in_order(c) == std::vector<std::uint32_t>{30, 20, 40, 10, 50});
    CHECK(c.find(40)->close_wait() == 2);
    CHECK(c.find(50)->total() == 9);
    CHECK(c.find(45) == nullptr);
    for (std::size_t k = 0; k < c.cookies.size(); ++k) { // rows follow the sorting
        const auto it = std::find_if(holders.begin(), holders.end(),
                                     [&](const SocketHolder& h) { return h.cookie == c.cookies[k]; });
        REQUIRE(it != holders.end());
        CHECK(c.processes[c.rows[k]].pid == it->pid);
    }
}

TEST_CASE("census: several network namespaces, same addresses, different sockets") {
    TcpSocket host = close_wait(61, 5 * kSec);
    TcpSocket pod = close_wait(62, 5 * kSec);
    pod.netns = kPodNetns; // a container's loopback connection with the very same 4-tuple
    SocketHolder in_pod = holder(62, 91234, "java", 88, kPodCgroup);
    in_pod.netns = kPodNetns;
    const Census c = take_census(std::vector<TcpSocket>{host, pod}, std::vector<SocketHolder>{holder(61, 700, "sshd", 3), in_pod}, kT0);
    CHECK(c.all[kTcpCloseWait] == 2);
    CHECK(process(c, 91234).cgroup == kPodCgroup);
    CHECK(process(c, 700).close_wait() == 1);
}

TEST_CASE("census: nothing in, nothing out") {
    const Census c = take_census({}, {}, kT0);
    CHECK(c.processes.empty());
    CHECK(c.unheld.total() == 0);
    CHECK(c.sockets() == 0);
    CHECK(c.taken_ns == kT0);
}

// ---- delta ----

namespace {

// pid's sockets: `established` connections and `waiting` CLOSE_WAITs, with
// cookies from `first`.
void add_process(std::vector<TcpSocket>& sockets, std::vector<SocketHolder>& holders, std::uint32_t pid,
                 std::uint64_t first, int established, int waiting, std::uint64_t cgroup = kSystemSlice) {
    std::uint32_t fd = 3;
    for (int k = 0; k < established + waiting; ++k) {
        const std::uint64_t cookie = first + static_cast<std::uint64_t>(k);
        sockets.push_back(k < established ? full(cookie, kTcpEstablished) : close_wait(cookie, kSec));
        holders.push_back(holder(cookie, pid, "svc", fd++, cgroup));
    }
}

const ProcessDelta& delta_of(const CensusDelta& d, std::uint32_t pid) {
    const auto it = std::find_if(d.processes.begin(), d.processes.end(), [pid](const ProcessDelta& p) { return p.pid == pid; });
    REQUIRE(it != d.processes.end());
    return *it;
}

} // namespace

TEST_CASE("census delta: new connections per second and CLOSE_WAIT growth per minute") {
    std::vector<TcpSocket> s0, s1;
    std::vector<SocketHolder> h0, h1;
    // 30 s apart. pid 100 keeps 10 connections and gains 60, its CLOSE_WAIT
    // goes 5 -> 11; pid 200 is steady; pid 300 appears.
    add_process(s0, h0, 100, 1000, 10, 5);
    add_process(s0, h0, 200, 2000, 4, 1);
    const Census before = take_census(s0, h0, kT0);

    add_process(s1, h1, 100, 1000, 10, 5);  // the same 15 sockets
    add_process(s1, h1, 100, 1100, 60, 6);  // 66 new, 6 of them in CLOSE_WAIT already
    add_process(s1, h1, 200, 2000, 4, 1);
    add_process(s1, h1, 300, 3000, 3, 0);
    s1.push_back(listener(3999, 9000)); // a new listener is not a new connection
    h1.push_back(holder(3999, 300, "svc", 40));
    s1.push_back(request(4000));         // a new connection nobody holds yet
    const Census now = take_census(s1, h1, kT0 + 30 * kSec);

    const CensusDelta d = census_delta(before, now);
    CHECK(d.interval_ns == 30 * kSec);
    CHECK(d.new_connections == 66 + 3 + 1);
    CHECK(d.new_unheld == 1);
    CHECK(d.new_per_second == doctest::Approx(70.0 / 30));

    const ProcessDelta& p100 = delta_of(d, 100);
    CHECK(p100.new_connections == 66);
    CHECK(p100.new_per_second == doctest::Approx(2.2));
    CHECK(p100.close_wait_change == 6);
    CHECK(p100.close_wait_per_minute == doctest::Approx(12.0));
    CHECK(p100.growing());
    CHECK_FALSE(p100.new_process);

    const ProcessDelta& p200 = delta_of(d, 200);
    CHECK(p200.new_connections == 0);
    CHECK(p200.close_wait_change == 0);
    CHECK_FALSE(p200.growing());

    const ProcessDelta& p300 = delta_of(d, 300);
    CHECK(p300.new_process);
    CHECK(p300.new_connections == 3);
    CHECK(now.processes[p300.row].pid == 300);
    CHECK(d.growing == 1);
    CHECK(d.processes_gone == 0);
}

TEST_CASE("census delta: sorted for top: growing first (fastest first), then most CLOSE_WAIT, then most sockets") {
    std::vector<TcpSocket> s0, s1;
    std::vector<SocketHolder> h0, h1;
    add_process(s0, h0, 10, 10000, 0, 50);   // many CLOSE_WAIT, shrinking
    add_process(s0, h0, 20, 20000, 5, 1);    // grows by 2
    add_process(s0, h0, 30, 30000, 0, 0);    // nothing before
    add_process(s0, h0, 40, 40000, 500, 0);  // many sockets, no CLOSE_WAIT
    add_process(s0, h0, 50, 50000, 1, 0);
    add_process(s0, h0, 60, 60000, 2, 3);    // steady CLOSE_WAIT 3
    const Census before = take_census(s0, h0, kT0);
    add_process(s1, h1, 10, 10000, 0, 40);
    add_process(s1, h1, 20, 20000, 5, 3);
    add_process(s1, h1, 30, 30000, 0, 7);    // grows by 7: first
    add_process(s1, h1, 40, 40000, 500, 0);
    add_process(s1, h1, 50, 50000, 1, 0);
    add_process(s1, h1, 60, 60000, 2, 3);
    const Census now = take_census(s1, h1, kT0 + 2 * kSec);
    const CensusDelta d = census_delta(before, now);
    std::vector<std::uint32_t> order;
    for (const ProcessDelta& p : d.processes)
        order.push_back(p.pid);
    CHECK(order == std::vector<std::uint32_t>{30, 20, 10, 60, 40, 50});
    CHECK(delta_of(d, 10).close_wait_change == -10);
    CHECK(delta_of(d, 10).close_wait_per_minute == doctest::Approx(-300.0));
    CHECK(d.growing == 2);
}

TEST_CASE("census delta: a pid reused by another cgroup is a new process; processes that went away are counted") {
    std::vector<TcpSocket> s0, s1;
    std::vector<SocketHolder> h0, h1;
    add_process(s0, h0, 10, 100, 0, 4);
    add_process(s0, h0, 11, 200, 1, 0);
    const Census before = take_census(s0, h0, kT0);
    add_process(s1, h1, 10, 300, 0, 2, kPodCgroup); // pid 10 again, elsewhere
    const Census now = take_census(s1, h1, kT0 + kSec);
    const CensusDelta d = census_delta(before, now);
    const ProcessDelta& p = delta_of(d, 10);
    CHECK(p.new_process);
    CHECK(p.close_wait_change == 2); // from nothing, not 4 -> 2
    CHECK(d.processes_gone == 1);    // pid 11
}

TEST_CASE("census delta: CLOSE_WAIT nobody holds, and no rates without a later census") {
    std::vector<TcpSocket> s0 = {close_wait(1, kSec)};
    s0[0].orphan = true; // in an accept queue
    const Census before = take_census(s0, {}, kT0);
    std::vector<TcpSocket> s1 = s0;
    s1.push_back(close_wait(2, kSec));
    s1.back().orphan = true;
    s1.push_back(close_wait(3, kSec)); // a file, no descriptor
    const Census now = take_census(s1, {}, kT0 + kSec);
    CHECK(census_delta(before, now).unheld_close_wait_change == 2);
    CHECK(census_delta(before, now).new_unheld == 2);

    const CensusDelta same_time = census_delta(before, take_census(s1, {}, kT0));
    CHECK(same_time.interval_ns == 0);
    CHECK(same_time.new_connections == 2);
    CHECK(same_time.new_per_second == 0.0);
}

TEST_CASE("census: 100,000 sockets of 200 processes, some shared, in several namespaces") {
    // The size `top` is built for; `tcpleak_unit_tests -tc='census: 100,000*' -d` times it.
    constexpr std::uint32_t kSockets = 100'000;
    constexpr std::uint32_t kProcesses = 200;
    std::mt19937_64 random(42);
    std::vector<TcpSocket> sockets;
    std::vector<SocketHolder> holders;
    sockets.reserve(kSockets);
    holders.reserve(kSockets + kSockets / 10);
    const std::uint8_t mix[] = {kTcpEstablished, kTcpEstablished, kTcpEstablished, kTcpEstablished, kTcpCloseWait,
                                kTcpFinWait2, kTcpTimeWait, kTcpFinWait1, kTcpSynSent, kTcpNewSynRecv};
    std::uint32_t held = 0;
    for (std::uint32_t k = 0; k < kSockets; ++k) {
        const std::uint64_t cookie = 0x4151f24 + k * 7; // sparse, as per-CPU cookie batches make them
        const std::uint8_t state = mix[random() % std::size(mix)];
        TcpSocket s = state == kTcpCloseWait ? close_wait(cookie, (random() % 600) * kSec) : full(cookie, state);
        s.netns = kInitNetns + static_cast<std::uint32_t>(random() % 8);
        s.time_wait = state == kTcpTimeWait;
        s.request = state == kTcpNewSynRecv;
        s.orphan = s.time_wait || s.request;
        sockets.push_back(s);
        if (s.orphan)
            continue;
        const std::uint32_t pid = 1000 + static_cast<std::uint32_t>(random() % kProcesses);
        holders.push_back(holder(cookie, pid, "worker", 3 + k));
        ++held;
        if (random() % 10 == 0) // forked and not closed: a second holder
            holders.push_back(holder(cookie, pid + 1, "child", 3 + k));
    }
    std::shuffle(holders.begin(), holders.end(), random);

    const Census before = take_census(sockets, holders, kT0);
    CHECK(before.sockets() == kSockets);
    CHECK(before.processes.size() <= kProcesses + 1);
    std::uint32_t counted = 0;
    for (const CensusProcess& p : before.processes)
        counted += p.total();
    CHECK(counted == held);
    CHECK(counted + before.unheld.total() == kSockets);
    CHECK(std::is_sorted(before.processes.begin(), before.processes.end(),
                         [](const CensusProcess& a, const CensusProcess& b) { return a.close_wait() > b.close_wait(); }));

    // A second census a second later, a tenth of the sockets replaced.
    for (std::uint32_t k = 0; k < kSockets; k += 10)
        sockets[k].cookie += 1; // new cookies, never used above (the step is 7)
    for (SocketHolder& h : holders)
        if ((h.cookie - 0x4151f24) % 7 == 0 && ((h.cookie - 0x4151f24) / 7) % 10 == 0)
            h.cookie += 1;
    const Census now = take_census(sockets, holders, kT0 + kSec);
    const CensusDelta d = census_delta(before, now);
    std::uint32_t replaced_connections = 0;
    for (std::uint32_t k = 0; k < kSockets; k += 10)
        replaced_connections += sockets[k].state != kTcpListen;
    CHECK(d.new_connections == replaced_connections);
    CHECK(d.processes.size() == now.processes.size());
}
