// The leak watch against a fake kernel: scripted descriptor tables, TCP
// tables, counters and ring-buffer records, and a fake clock.
#include "tcpleak/core/tcp_state.hpp"
#include "tcpleak/session/leak_watch.hpp"

#include <doctest/doctest.h>
#include <linux/types.h>

#include <cstring>
#include <deque>
#include <map>
#include <vector>

extern "C" {
#include "tcpleak.h"
}

using namespace tcpleak;

namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kSec = 1'000'000'000;
constexpr std::uint32_t kNetns = 4026531840u;
constexpr std::uint32_t kServer = 100;

class FakeKernel final : public SocketScanner, public EventSource {
public:
    std::vector<SocketHolder> existing;
    std::vector<SocketHolder> close_wait;
    std::map<std::uint32_t, std::vector<std::uint64_t>> table; // netns -> cookies in CLOSE_WAIT
    std::map<std::uint64_t, SocketOwner> owners;
    KernelCounters kernel;
    std::deque<std::vector<std::byte>> ring;
    RecordSink* sink = nullptr;
    int holder_scans = 0;

    std::vector<SocketHolder> existing_sockets() override { return existing; }
    std::vector<SocketHolder> holders_in_states(std::uint32_t states) override {
        ++holder_scans;
        std::vector<SocketHolder> in_states;
        for (const SocketHolder& h : close_wait)
            if ((states >> h.state) & 1)
                in_states.push_back(h);
        return in_states;
    }
    std::optional<std::vector<TcpSocket>> tcp_table(std::uint32_t netns, std::uint32_t) override {
        const auto it = table.find(netns);
        if (it == table.end())
            return std::nullopt;
        std::vector<TcpSocket> sockets;
        for (const std::uint64_t cookie : it->second) {
            TcpSocket s;
            s.cookie = cookie;
            s.state = kTcpCloseWait;
            s.netns = netns;
            sockets.push_back(s);
        }
        return sockets;
    }
    std::vector<std::uint32_t> namespaces() override { return {kNetns}; }
    std::optional<TcpSysctls> tcp_sysctls(std::uint32_t) override { return TcpSysctls{}; }
    std::optional<SocketOwner> remembered_owner(std::uint64_t cookie) override {
        const auto it = owners.find(cookie);
        return it == owners.end() ? std::nullopt : std::optional<SocketOwner>(it->second);
    }
    KernelCounters counters() override { return kernel; }
    std::size_t drain() override {
        const std::size_t n = ring.size();
        for (; !ring.empty(); ring.pop_front())
            sink->on_record(ring.front());
        return n;
    }

    void transition(std::uint64_t cookie, std::uint8_t from, std::uint8_t to, std::uint64_t ts_ns,
                    std::uint8_t flags = TL_F_HAS_FILE) {
        tl_transition r{};
        r.kind = TL_REC_TRANSITION;
        r.family = kFamilyIpv4;
        r.old_state = from;
        r.new_state = to;
        r.flags = flags;
        r.sport = 8080;
        r.dport = 50000;
        r.netns = kNetns;
        r.ts_ns = ts_ns;
        r.cookie = cookie;
        r.ctx_pid = kServer;
        std::memcpy(r.ctx_comm, "server", 7);
        if (to == kTcpCloseWait) {
            r.flags |= TL_F_OWNER_KNOWN;
            r.owner_pid = kServer;
            std::memcpy(r.owner_comm, "server", 7);
        }
        std::vector<std::byte> bytes(sizeof(r));
        std::memcpy(bytes.data(), &r, sizeof(r));
        ring.push_back(std::move(bytes));
    }
};

SocketHolder held(std::uint64_t cookie, std::uint32_t fd, std::uint64_t read_ns = 0, std::uint64_t age_ns = 0) {
    SocketHolder h;
    h.cookie = cookie;
    h.state = kTcpCloseWait;
    h.pid = kServer;
    h.comm = make_comm("server");
    h.fd = fd;
    h.netns = kNetns;
    h.read_mono_ns = read_ns;
    h.close_wait_age_ns = age_ns;
    return h;
}

struct Recorder final : LeakEvents {
    std::vector<Leak> leaks;
    std::vector<LeakResolved> resolutions;
    std::vector<std::uint64_t> lost_counts;
    std::vector<ReconcileNotice> reconciliations;
    void leak(const Leak& leak) override { leaks.push_back(leak); }
    void resolved(const LeakResolved& r) override { resolutions.push_back(r); }
    void lost(std::uint64_t count, std::uint64_t, std::uint64_t) override { lost_counts.push_back(count); }
    void reconciled(const ReconcileNotice& notice) override { reconciliations.push_back(notice); }
};

// Everything a watch needs, on a clock the test moves.
struct Setup {
    FakeKernel kernel;
    LeakTracker tracker{std::chrono::seconds(1)};
    Coverage coverage{std::chrono::seconds(1)};
    Recorder events;
    std::uint64_t now = 100 * kSec;
    LeakWatch watch{kernel, tracker, coverage, events, ScanPolicy{}, [this] { return now; }};
    Setup() { kernel.sink = &watch; }
    void advance_to(std::uint64_t t) {
        now = t;
        watch.tick(now, kernel);
    }
};

} // namespace

TEST_CASE("leak watch: sockets older than tcpleak are reported by the start-up scan") {
    Setup s;
    s.kernel.existing = {held(7, 4, s.now, 5 * kSec), held(8, 5, s.now, 0)};
    s.kernel.existing.back().state = kTcpEstablished; // not in CLOSE_WAIT: only seeds owners
    s.watch.start();
    REQUIRE(s.events.leaks.size() == 1);
    CHECK(s.events.leaks[0].cookie == 7);
    CHECK(s.events.leaks[0].since_start);
    CHECK(s.events.leaks[0].verdict == Verdict::Held);
    CHECK(s.watch.stats().close_wait_seen == 1);
}

TEST_CASE("leak watch: a socket past the threshold is confirmed by one batched scan") {
    Setup s;
    s.watch.start();
    s.kernel.transition(7, kTcpEstablished, kTcpCloseWait, s.now);
    s.kernel.transition(8, kTcpEstablished, kTcpCloseWait, s.now + 10 * kMs);
    s.kernel.drain();
    s.kernel.close_wait = {held(7, 4), held(8, 5)};
    const int scans_before = s.kernel.holder_scans;
    s.advance_to(s.now + 500 * kMs);
    CHECK(s.events.leaks.empty());
    CHECK(s.kernel.holder_scans == scans_before); // nothing due: no scan
    s.advance_to(s.now + 600 * kMs);              // both due by now
    CHECK(s.kernel.holder_scans == scans_before + 1);
    REQUIRE(s.events.leaks.size() == 2);
    CHECK(s.events.leaks[0].owner_pid == kServer);
    CHECK(s.events.leaks[0].verdict == Verdict::NeverClosed);
    // A close then resolves it.
    s.kernel.transition(7, kTcpCloseWait, kTcpLastAck, s.now, TL_F_FILE_RELEASED);
    s.kernel.drain();
    REQUIRE(s.events.resolutions.size() == 1);
    CHECK(s.events.resolutions[0].how == ResolvedHow::Close);
}

TEST_CASE("leak watch: lost events are told, then reconciled: found, vanished, covered") {
    Setup s;
    s.watch.start();
    s.kernel.transition(7, kTcpEstablished, kTcpCloseWait, s.now);
    s.kernel.drain();
    s.kernel.close_wait = {held(7, 4)};
    s.advance_to(s.now + 1100 * kMs);
    REQUIRE(s.events.leaks.size() == 1);

    // The ring buffer overflows: 7's close and 9's entry are lost.
    s.kernel.kernel[TL_CNT_LOST] = 2;
    s.kernel.close_wait = {held(9, 6, s.now, 2 * kSec)};
    s.kernel.table[kNetns] = {9};
    s.advance_to(s.now + 300 * kMs); // noticed, and past the minimum gap between scans
    CHECK(s.events.lost_counts == std::vector<std::uint64_t>{2});
    // The reconciliation ran in the same tick: 9 found (and past the
    // threshold: reported), 7 gone from the TCP table.
    REQUIRE(s.events.reconciliations.size() == 1);
    const ReconcileNotice& notice = s.events.reconciliations[0];
    CHECK(notice.found == 1);
    CHECK(notice.vanished == 1);
    CHECK(notice.events_lost == 2);
    CHECK(notice.covered);
    REQUIRE(s.events.leaks.size() == 2);
    CHECK(s.events.leaks[1].cookie == 9);
    CHECK(s.events.leaks[1].seen_by == SeenBy::SocketTable);
    REQUIRE(s.events.resolutions.size() == 1);
    CHECK(s.events.resolutions[0].leak.cookie == 7);
    CHECK(s.events.resolutions[0].how == ResolvedHow::Unknown);
    CHECK(s.coverage.complete());
}

TEST_CASE("leak watch: a loss longer than the threshold before the scan: incomplete") {
    Setup s;
    s.watch.start();
    s.advance_to(s.now + 150 * kMs); // a clean check
    // Stalled 5 s (SIGSTOP): when it runs again the loss is noticed and reconciled.
    s.kernel.kernel[TL_CNT_LOST] = 676'400;
    s.advance_to(s.now + 5 * kSec);
    REQUIRE(s.events.reconciliations.size() == 1);
    CHECK_FALSE(s.events.reconciliations[0].covered);
    CHECK_FALSE(s.coverage.complete());
}

TEST_CASE("leak watch: program runs the kernel skipped count as lost events; full maps as incomplete") {
    Setup s;
    s.watch.start();
    s.kernel.kernel.recursion_misses = 3;
    s.advance_to(s.now + 300 * kMs);
    CHECK(s.events.lost_counts.empty()); // not ring-buffer losses
    CHECK(s.events.reconciliations.size() == 1);
    CHECK(s.coverage.complete());
    s.kernel.kernel[TL_CNT_PIDS_FULL] = 1;
    s.advance_to(s.now + 150 * kMs);
    CHECK_FALSE(s.coverage.complete());
}

TEST_CASE("leak watch: finish scans what is due, with everything still attached") {
    Setup s;
    s.watch.start();
    s.kernel.transition(7, kTcpEstablished, kTcpCloseWait, s.now);
    s.kernel.close_wait = {held(7, 4)};
    s.now += 2 * kSec; // stopped before any tick saw it due
    s.watch.finish(s.kernel);
    REQUIRE(s.events.leaks.size() == 1);
    CHECK(s.events.leaks[0].cookie == 7);
}

TEST_CASE("leak watch: a loss while the start-up scan ran is a loss like any other") {
    Setup s;
    s.kernel.kernel[TL_CNT_LOST] = 10; // counted while tcpleak was stalled in its first scan
    s.watch.start();
    s.advance_to(s.now + 300 * kMs);
    CHECK(s.events.lost_counts == std::vector<std::uint64_t>{10});
    CHECK(s.events.reconciliations.size() == 1);
}

TEST_CASE("leak watch: a stream of late leaks gets its details in batches, not a scan per leak") {
    Setup s;
    s.watch.start();
    const std::uint64_t entered = s.now;
    for (std::uint64_t cookie = 1; cookie <= 50; ++cookie)
        s.kernel.transition(cookie, kTcpEstablished, kTcpCloseWait, entered);
    // Each closed 2 s later (past the 1 s threshold) before any scan got to it.
    for (std::uint64_t cookie = 1; cookie <= 50; ++cookie)
        s.kernel.transition(cookie, kTcpCloseWait, kTcpLastAck, entered + 2 * kSec, TL_F_FILE_RELEASED);
    s.now = entered + 2 * kSec;
    const int scans_before = s.kernel.holder_scans;
    s.kernel.drain();
    CHECK(s.events.leaks.empty()); // waiting for their details
    s.advance_to(s.now + 600 * kMs);
    REQUIRE(s.events.leaks.size() == 50);
    REQUIRE(s.events.resolutions.size() == 50);
    CHECK(s.kernel.holder_scans - scans_before <= 2); // the batch's read, and at most one periodic scan
    for (std::size_t i = 0; i < 50; ++i) {
        CHECK(s.events.leaks[i].cookie == i + 1);
        CHECK(s.events.resolutions[i].leak.cookie == i + 1);
        CHECK(s.events.resolutions[i].how == ResolvedHow::Close);
    }
}

TEST_CASE("leak watch: finish tells the late leaks still waiting for their details") {
    Setup s;
    s.watch.start();
    s.kernel.transition(7, kTcpEstablished, kTcpCloseWait, s.now);
    s.kernel.transition(7, kTcpCloseWait, kTcpLastAck, s.now + 2 * kSec, TL_F_FILE_RELEASED);
    s.now += 2 * kSec;
    s.watch.finish(s.kernel);
    REQUIRE(s.events.leaks.size() == 1);
    REQUIRE(s.events.resolutions.size() == 1);
    CHECK(s.events.resolutions[0].leak.cookie == 7);
}
