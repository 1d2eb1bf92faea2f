#include "tcpleak/core/stuck.hpp"
#include "tcpleak/core/tcp_state.hpp"

#include "support/tcp_sockets.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace tcpleak;

namespace {

constexpr std::uint64_t kSec = 1'000'000'000;

// This machine's initial namespace (Debian 12, kernel 6.18).
TcpSysctls defaults() {
    TcpSysctls s;
    s.fin_timeout_s = 60;
    s.orphan_retries = 0;
    s.retries2 = 15;
    s.tw_reuse = 2;
    s.max_tw_buckets = 131072;
    s.max_orphans = 131072;
    return s;
}

TcpSocket socket_in(std::uint8_t state, bool orphan) {
    TcpSocket s;
    s.cookie = 0xcae9f0;
    s.state = state;
    s.orphan = orphan;
    s.saddr = {10, 9, 0, 1};
    s.sport = 40010;
    s.daddr = {10, 9, 0, 2};
    s.dport = 60006;
    s.netns = 4026532513u;
    return s;
}

// FIN_WAIT1 after close() with 2.8 MB unsent to a peer that stopped reading
// (support/tcp_sockets.hpp).
TcpSocket zero_window(bool orphan) { return test::with_zero_window(socket_in(kTcpFinWait1, orphan)); }

// An orphan in state whose FIN (one byte) is unsent or unacknowledged with
// the peer's window open, timer running.
TcpSocket fin_pending(std::uint8_t state, TcpTimer timer) {
    TcpSocket s = socket_in(state, true);
    s.tx_queue = 1;
    s.snd_wnd = 64512;
    s.timer = timer;
    return s;
}

// LAST_ACK whose FIN the peer (gone) never acknowledges:
//   LAST-ACK 1 1 10.9.0.1:40010 10.9.0.2:58096 timer:(on,5.256ms,5) ... rto:6528 backoff:5 ... retrans:1/6
TcpSocket last_ack_retransmitting(bool orphan) {
    TcpSocket s = socket_in(kTcpLastAck, orphan);
    s.rx_queue = 1;
    s.tx_queue = 1; // the FIN
    s.snd_wnd = 64512;
    s.timer = TcpTimer::Retransmit;
    s.timer_left_ms = 5;
    s.retransmits = 5;
    s.backoff = 5;
    s.total_retrans = 6;
    return s;
}

// An orphan's FIN_WAIT2 timeout, run by a time-wait socket:
//   FIN-WAIT-2 0 0 127.0.0.1:58270 127.0.0.1:40003 timer:(timewait,59sec,0) ino:0
TcpSocket fin_wait2_time_wait() {
    TcpSocket s = socket_in(kTcpFinWait2, true);
    s.time_wait = true;
    s.timer = TcpTimer::TimeWait;
    s.timer_left_ms = 59'000;
    return s;
}

const std::vector<Holder> kOneHolder = {{3100, make_comm("uploader"), 5}};

StuckExplanation explain(const TcpSocket& s, std::span<const Holder> holders = {},
                         std::optional<Verdict> verdict = std::nullopt, TcpSysctls sysctls = defaults(),
                         std::optional<std::uint64_t> in_state = std::nullopt) {
    StuckContext c;
    c.holders = holders;
    c.verdict = verdict;
    c.sysctls = sysctls;
    c.in_state_ns = in_state;
    return explain_stuck(s, c);
}

bool has(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("stuck: an orphaned FIN_WAIT1 whose peer stopped reading") {
    const StuckExplanation e = explain(zero_window(true), {}, std::nullopt, defaults(), 95 * kSec);
    CHECK(e.cause == StuckCause::PeerNotReading);
    CHECK(e.orphaned);
    CHECK(e.why ==
          "The program closed it for at least 1m35s, but the peer stopped reading: its receive window is 0, so "
          "2803712 bytes and the FIN wait unsent while the kernel probes the window (next probe in 748ms).");
    CHECK(e.hint ==
          "Find why the peer stops reading; the kernel drops this socket after 8 (tcp_orphan_retries=0) unanswered "
          "probes, once the probes are 120 s apart even if the peer answers (minutes), or at once beyond 131072 "
          "(tcp_max_orphans) orphans.");
    CHECK(e.sysctls == std::vector<SysctlValue>{{"tcp_orphan_retries", 0u}, {"tcp_max_orphans", 131072u}});
}

TEST_CASE("stuck: a FIN_WAIT1 the program shut down and still holds, the peer not reading") {
    const StuckExplanation e = explain(zero_window(false), kOneHolder);
    CHECK(e.cause == StuckCause::PeerNotReading);
    CHECK_FALSE(e.orphaned);
    CHECK(has(e.why, "The program shut down sending, but the peer stopped reading"));
    CHECK(has(e.hint, "while a descriptor holds it (pid 3100 fd 5) the kernel probes for as long as the peer "
                      "answers (15 (tcp_retries2) unanswered probes end it)"));
    CHECK(e.sysctls == std::vector<SysctlValue>{{"tcp_retries2", 15u}});
}

TEST_CASE("stuck: a zero window with only the FIN left, and a window too small for the next segment") {
    TcpSocket s = zero_window(true);
    s.tx_queue = 1;
    const StuckExplanation e = explain(s);
    CHECK(e.cause == StuckCause::PeerNotReading);
    CHECK(has(e.why, "so the FIN wait unsent"));

    TcpSocket slow = zero_window(true);
    slow.snd_wnd = 1200; // less than the 2.8 MB waiting: the next segment does not fit
    const StuckExplanation small = explain(slow);
    CHECK(small.cause == StuckCause::PeerNotReading);
    CHECK(has(small.why, "the peer stopped reading: its receive window, 1200 bytes, is too small for the next "
                         "segment, so 2803712 bytes and the FIN wait unsent"));
}

TEST_CASE("stuck: a LAST_ACK whose peer is gone, orphaned and held") {
    const StuckExplanation orphan = explain(last_ack_retransmitting(true));
    CHECK(orphan.cause == StuckCause::PeerGone);
    CHECK(orphan.why == "The program closed it and the peer does not acknowledge: 5 retransmissions of the current "
                        "segment so far, the next in 5ms.");
    CHECK(orphan.hint == "The peer is gone or unreachable, nothing to fix in this program: the kernel gives up after "
                         "8 (tcp_orphan_retries=0) retransmissions, about 1m42s after the first, sooner beyond "
                         "131072 (tcp_max_orphans) orphans.");

    const StuckExplanation held = explain(last_ack_retransmitting(false), kOneHolder);
    CHECK(held.cause == StuckCause::PeerGone);
    CHECK(has(held.why, "The program shut down sending and the peer does not acknowledge"));
    CHECK(has(held.hint, "resets it after 15 (tcp_retries2) retransmissions, about 15m24s after the first"));
    CHECK(held.sysctls == std::vector<SysctlValue>{{"tcp_retries2", 15u}});
}

TEST_CASE("stuck: a FIN_WAIT1 retransmitting to a peer that does not answer") {
    TcpSocket s = fin_pending(kTcpFinWait1, TcpTimer::Retransmit);
    s.timer_left_ms = 3'264;
    s.retransmits = 4;
    TcpSysctls sysctls = defaults();
    sysctls.orphan_retries = 3;
    const StuckExplanation e = explain(s, {}, std::nullopt, sysctls);
    CHECK(e.cause == StuckCause::PeerGone);
    CHECK(has(e.why, "4 retransmissions of the current segment so far, the next in 3.2s"));
    CHECK(has(e.hint, "after 3 (tcp_orphan_retries=3) retransmissions, about 3s after the first"));
}

TEST_CASE("stuck: the probe timer with an open window: the FIN cannot leave this host") {
    // The interface towards the peer went down under a LAST_ACK:
    //   LAST-ACK 1 1 10.9.0.1:40010 10.9.0.2:60006 timer:(persist,400ms,4) ino:0 ... notsent:1 snd_wnd:64512
    TcpSocket s = fin_pending(kTcpLastAck, TcpTimer::Probe);
    s.timer_left_ms = 400;
    s.probes_out = 4;
    s.backoff = 4;
    const StuckExplanation e = explain(s);
    CHECK(e.cause == StuckCause::CannotSend);
    CHECK(e.why == "The program closed it, but the FIN cannot be sent: the peer's window is open and nothing is in "
                   "flight, so sending fails on this host.");
    CHECK(has(e.hint, "towards 10.9.0.2:60006 (ip route get, ip link)"));
    s.family = kFamilyIpv6;
    s.daddr = {0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};
    CHECK(has(explain(s).hint, "towards [fd00::2]:60006"));
}

TEST_CASE("stuck: a FIN_WAIT1 still delivering its last write, and one just sent") {
    TcpSocket s = socket_in(kTcpFinWait1, true);
    s.tx_queue = 65'537;
    s.snd_wnd = 65'536;
    s.timer = TcpTimer::Retransmit; // the retransmission timer runs, nothing retransmitted yet
    s.timer_left_ms = 204;
    const StuckExplanation draining = explain(s);
    CHECK(draining.cause == StuckCause::SendQueueDraining);
    CHECK(draining.why == "The FIN waits behind 65536 bytes still being delivered; the peer's window is open (65536 "
                          "bytes) and nothing needed a retransmission.");
    CHECK(draining.sysctls.empty());

    s.tx_queue = 1;
    CHECK(explain(s).cause == StuckCause::AwaitingFinAck);
    s.state = kTcpLastAck;
    CHECK(explain(s).cause == StuckCause::AwaitingFinAck);
}

TEST_CASE("stuck: FIN_WAIT2 held after shutdown(SHUT_WR), and orphaned") {
    TcpSocket held = socket_in(kTcpFinWait2, false);
    const StuckExplanation e = explain(held, kOneHolder, std::nullopt, defaults(), 600 * kSec);
    CHECK(e.cause == StuckCause::HalfClosedNeverClosed);
    CHECK(e.why == "The program shut down sending with shutdown(SHUT_WR) for at least 10m00s and kept the "
                   "descriptor, held by pid 3100 fd 5; the peer has not closed its side, and no timer ends a "
                   "FIN_WAIT2 that a descriptor holds.");
    CHECK(e.sysctls.empty()); // tcp_fin_timeout does not apply to it

    const StuckExplanation tw = explain(fin_wait2_time_wait());
    CHECK(tw.cause == StuckCause::OrphanFinTimeout);
    CHECK(tw.orphaned);
    CHECK(tw.why == "The program closed it and the peer acknowledged, but the peer has not closed its side; the "
                    "kernel drops it 60s (tcp_fin_timeout) after the close (59s left).");
    CHECK(tw.sysctls == std::vector<SysctlValue>{{"tcp_fin_timeout", 60u}});

    // tcp_fin_timeout above 60 s: a full socket waits under the keepalive
    // timer first, then a time-wait socket.
    TcpSocket full = socket_in(kTcpFinWait2, true);
    full.timer = TcpTimer::Keepalive;
    full.timer_left_ms = 55'000;
    TcpSysctls long_timeout = defaults();
    long_timeout.fin_timeout_s = 120;
    const StuckExplanation f = explain(full, {}, std::nullopt, long_timeout);
    CHECK(f.cause == StuckCause::OrphanFinTimeout);
    CHECK(has(f.why, "drops it 120s (tcp_fin_timeout) after the close (55s left)"));
}

TEST_CASE("stuck: CLOSE_WAIT takes the leak tracker's verdict") {
    TcpSocket s = socket_in(kTcpCloseWait, false);
    s.rx_queue = 1;
    s.age_ns = 90 * kSec;
    const StuckExplanation never = explain(s, kOneHolder, Verdict::NeverClosed);
    CHECK(never.cause == StuckCause::NeverClosed);
    CHECK(never.why == "The peer closed its side for at least 1m30s and no descriptor of it was ever closed: it is "
                       "held by pid 3100 fd 5.");
    CHECK(never.hint == "The program never called close() after read() returned 0: call close() on every path after "
                        "end of file, error paths included.");
    CHECK(never.sysctls.empty());

    const std::vector<Holder> child = {{3101, make_comm("worker-child"), 4}};
    const StuckExplanation copy = explain(s, child, Verdict::ClosedStillReferenced, defaults(), 2 * kSec);
    CHECK(copy.cause == StuckCause::ClosedStillReferenced);
    CHECK(has(copy.why, "another still holds it for at least 2s, so the connection cannot finish: it is held by "
                        "pid 3101 fd 4."));
    CHECK(has(copy.hint, "fork()ed child inherited"));

    CHECK(explain(s, kOneHolder, Verdict::Held).cause == StuckCause::CloseWaitHeld);
    CHECK(explain(s, kOneHolder).cause == StuckCause::CloseWaitHeld); // no verdict given
}

TEST_CASE("stuck: CLOSE_WAIT nobody holds: not accepted, or a file without a descriptor") {
    TcpSocket queued = socket_in(kTcpCloseWait, true);
    queued.sport = 8080;
    queued.age_ns = 12 * kSec;
    const StuckExplanation e = explain(queued);
    CHECK(e.cause == StuckCause::NotAccepted);
    CHECK(e.orphaned);
    CHECK(e.why == "The connection to port 8080 is complete but the program has not accept()ed it: it waits in the "
                   "listener's accept queue in CLOSE_WAIT for at least 12s.");
    // Accepted after the TCP table was read: the holder is the newer truth.
    CHECK(explain(queued, kOneHolder, Verdict::NeverClosed).cause == StuckCause::NeverClosed);

    const StuckExplanation in_flight = explain(socket_in(kTcpCloseWait, false));
    CHECK(in_flight.cause == StuckCause::NoDescriptor);
    CHECK_FALSE(in_flight.orphaned);

    CHECK(explain(socket_in(kTcpEstablished, true)).cause == StuckCause::NotAccepted);
}

TEST_CASE("stuck: CLOSING, both ends closing at once") {
    TcpSocket s = fin_pending(kTcpClosing, TcpTimer::Retransmit);
    s.retransmits = 2;
    const StuckExplanation e = explain(s);
    CHECK(e.cause == StuckCause::Closing);
    CHECK(e.why == "Both ends closed at the same time: the peer's FIN arrived, the acknowledgment of ours has not (2 "
                   "retransmissions so far).");
    CHECK(has(e.hint, "8 (tcp_orphan_retries=0) retransmissions, about 1m42s after the first"));
    const StuckExplanation held = explain(socket_in(kTcpClosing, false), kOneHolder);
    CHECK(held.cause == StuckCause::Closing);
    CHECK(has(held.why, "Both ends shut down sending at the same time"));
}

TEST_CASE("stuck: TIME_WAIT is normal; the limits that matter are named") {
    TcpSocket s = fin_wait2_time_wait();
    s.state = kTcpTimeWait;
    s.timer_left_ms = 42'500;
    const StuckExplanation e = explain(s);
    CHECK(e.cause == StuckCause::TimeWait);
    CHECK(e.why == "Normal: the side that closed first keeps the connection's addresses for 60 s, fixed (42.5s left), "
                   "so that its late segments are not taken for a new connection.");
    CHECK(e.hint == "Harmless unless local ports run out: tcp_tw_reuse lets new outgoing connections reuse them (now "
                    "2, loopback only), and beyond 131072 (tcp_max_tw_buckets) closing sockets skip TIME_WAIT; reuse "
                    "connections (keep-alive, pools) rather than lower limits.");
    CHECK(e.sysctls == std::vector<SysctlValue>{{"tcp_tw_reuse", 2u}, {"tcp_max_tw_buckets", 131072u}});
}

TEST_CASE("stuck: states that are not stuck after a close") {
    const StuckExplanation e = explain(socket_in(kTcpEstablished, false), kOneHolder);
    CHECK(e.cause == StuckCause::Unknown);
    CHECK(e.why == "ESTABLISHED is not a state a connection stays in after a close.");
    TcpSocket request = socket_in(kTcpNewSynRecv, true);
    request.request = true;
    CHECK(explain(request).cause == StuckCause::Unknown);
    CHECK(explain(socket_in(99, false)).why == "state 99 is not a state a connection stays in after a close.");
}

TEST_CASE("stuck: sysctls that could not be read are named without values") {
    const StuckExplanation e = explain(zero_window(true), {}, std::nullopt, TcpSysctls{});
    CHECK(has(e.hint, "after tcp_orphan_retries (0 means 8) unanswered probes"));
    CHECK(has(e.hint, "beyond tcp_max_orphans orphans"));
    CHECK(e.sysctls == std::vector<SysctlValue>{{"tcp_orphan_retries", std::nullopt}, {"tcp_max_orphans", std::nullopt}});
    CHECK(has(explain(last_ack_retransmitting(false), kOneHolder, std::nullopt, TcpSysctls{}).hint,
              "after tcp_retries2 (default 15) retransmissions, about 15m24s after the first"));
    CHECK(has(explain(fin_wait2_time_wait(), {}, std::nullopt, TcpSysctls{}).why, "tcp_fin_timeout (default 60s)"));
    TcpSocket tw = fin_wait2_time_wait();
    tw.state = kTcpTimeWait;
    CHECK(has(explain(tw, {}, std::nullopt, TcpSysctls{}).hint, "(now not known)"));
}

TEST_CASE("stuck: many holders are named up to three") {
    TcpSocket s = socket_in(kTcpCloseWait, false);
    std::vector<Holder> holders;
    for (std::uint32_t pid = 10; pid < 15; ++pid)
        holders.push_back({pid, make_comm("w"), 7});
    CHECK(has(explain(s, std::span(holders).first(2), Verdict::NeverClosed).why, "held by pid 10 fd 7 and pid 11 fd 7."));
    CHECK(has(explain(s, std::span(holders).first(3), Verdict::NeverClosed).why,
              "held by pid 10 fd 7, pid 11 fd 7 and pid 12 fd 7."));
    CHECK(has(explain(s, holders, Verdict::NeverClosed).why, "held by pid 10 fd 7, pid 11 fd 7, pid 12 fd 7 and 2 more."));
    CHECK(has(explain(socket_in(kTcpFinWait2, false)).why, "held by a file that no descriptor table shows"));
}

TEST_CASE("stuck: an unknown placeholder stays visible") {
    CHECK(render_stuck_text("a {nothing} b", socket_in(kTcpFinWait1, true), {}) == "a {nothing} b");
}

TEST_CASE("stuck: the kernel's retry limits") {
    CHECK(effective_orphan_retries(0u) == 8);
    CHECK(effective_orphan_retries(std::nullopt) == 8);
    CHECK(effective_orphan_retries(3u) == 3);
    CHECK(retransmission_give_up_ms(0) == 200);
    CHECK(retransmission_give_up_ms(3) == 3'000);
    CHECK(retransmission_give_up_ms(8) == 102'200);
    CHECK(retransmission_give_up_ms(9) == 204'600);
    CHECK(retransmission_give_up_ms(10) == 324'600);
    CHECK(retransmission_give_up_ms(15) == 924'600); // the documented ~924.6 s of tcp_retries2=15
}

TEST_CASE("stuck: every row of the text table renders whole, and every cause has a row and a name") {
    std::set<std::string_view> names;
    StuckContext c;
    c.holders = kOneHolder;
    c.sysctls = defaults();
    for (const StuckText& row : stuck_texts()) {
        for (const TcpSocket& s : {zero_window(true), last_ack_retransmitting(false), fin_wait2_time_wait()}) {
            CHECK(render_stuck_text(row.why, s, c).find('{') == std::string::npos);
            CHECK(render_stuck_text(row.hint, s, c).find('{') == std::string::npos);
        }
        CHECK(row.why.back() == '.');
        CHECK(row.hint.back() == '.');
        names.insert(stuck_cause_name(row.cause));
    }
    for (int cause = 0; cause <= static_cast<int>(StuckCause::TimeWait); ++cause)
        CHECK(names.count(stuck_cause_name(static_cast<StuckCause>(cause))) == 1);
}

TEST_CASE("stuck: docs/stuck-states.md lists every sentence of the table as it is") {
    const auto page = std::filesystem::path(__FILE__).parent_path() / "../../../docs/stuck-states.md";
    std::ifstream in(page);
    REQUIRE_MESSAGE(in.good(), "cannot read ", page.string());
    std::stringstream text;
    text << in.rdbuf();
    const std::string doc = text.str();
    for (const StuckText& row : stuck_texts()) {
        CAPTURE(stuck_cause_name(row.cause));
        CHECK(has(doc, row.why));
        CHECK(has(doc, row.hint));
        CHECK(has(doc, "| `" + std::string(stuck_cause_name(row.cause)) + "` |"));
    }
}
