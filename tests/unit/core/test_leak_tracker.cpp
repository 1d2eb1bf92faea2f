#include "tcpleak/core/leak_tracker.hpp"
#include "tcpleak/core/tcp_state.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <random>
#include <set>
#include <vector>

using namespace tcpleak;

namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kSec = 1'000'000'000;
constexpr auto kThreshold = std::chrono::seconds(5);
constexpr std::uint64_t kT0 = 1000 * kSec; // fake CLOCK_MONOTONIC start

constexpr std::uint32_t kServer = 100;
constexpr std::uint32_t kChild = 101;
constexpr std::uint32_t kClient = 900;

// ESTABLISHED -> CLOSE_WAIT, in softirq: ctx is whoever was on the CPU.
Transition enter(std::uint64_t cookie, std::uint64_t mono_ns, std::uint32_t owner = kServer,
                 OwnerVia via = OwnerVia::Accept) {
    Transition t;
    t.cookie = cookie;
    t.mono_ns = mono_ns;
    t.old_state = kTcpEstablished;
    t.new_state = kTcpCloseWait;
    t.sport = 8080;
    t.dport = 50000;
    t.saddr = {127, 0, 0, 1};
    t.daddr = {127, 0, 0, 1};
    t.netns = 4026531840u;
    t.owner_known = owner != 0;
    t.owner_via = owner != 0 ? via : OwnerVia::None;
    t.owner_pid = owner;
    t.owner_comm = make_comm(owner == kServer ? "server" : "other");
    t.ctx_pid = kClient;
    t.ctx_comm = make_comm("client");
    t.rx_queue = 3;
    t.has_file = true;
    return t;
}

// CLOSE_WAIT -> new_state.
Transition leave(std::uint64_t cookie, std::uint64_t mono_ns, std::uint8_t new_state, bool file_released,
                 std::uint32_t ctx_pid = kServer, const char* ctx_comm = "server", bool exiting = false) {
    Transition t = enter(cookie, mono_ns);
    t.old_state = kTcpCloseWait;
    t.new_state = new_state;
    t.file_released = file_released;
    t.has_file = !file_released;
    t.task_exiting = exiting;
    t.ctx_pid = ctx_pid;
    t.ctx_comm = make_comm(ctx_comm);
    return t;
}

SocketHolder holder(std::uint64_t cookie, std::uint32_t pid, const char* comm, std::uint32_t fd) {
    SocketHolder h;
    h.cookie = cookie;
    h.state = kTcpCloseWait;
    h.sport = 8080;
    h.dport = 50000;
    h.saddr = {127, 0, 0, 1};
    h.daddr = {127, 0, 0, 1};
    h.pid = pid;
    h.comm = make_comm(comm);
    h.fd = fd;
    h.rx_queue = 42;
    return h;
}

FdRelease release(std::uint64_t cookie, std::uint64_t mono_ns, std::uint32_t pid, const char* comm,
                  std::uint32_t fd, ReleaseVia via = ReleaseVia::Close) {
    FdRelease r;
    r.cookie = cookie;
    r.mono_ns = mono_ns;
    r.pid = pid;
    r.comm = make_comm(comm);
    r.fd = fd;
    r.via = via;
    r.other_refs = 1;
    r.state = kTcpEstablished;
    return r;
}

} // namespace

TEST_CASE("verdict and resolution names") {
    CHECK(verdict_name(Verdict::NeverClosed) == "never_closed");
    CHECK(verdict_name(Verdict::ClosedStillReferenced) == "closed_still_referenced");
    CHECK(verdict_label(Verdict::NeverClosed) == "never closed");
    CHECK(verdict_label(Verdict::ClosedStillReferenced) == "closed, still referenced");
    CHECK(resolved_how_name(ResolvedHow::Close) == "close");
    CHECK(resolved_how_name(ResolvedHow::Shutdown) == "shutdown");
    CHECK(resolved_how_name(ResolvedHow::Exit) == "exit");
    CHECK(resolved_how_name(ResolvedHow::Reset) == "reset");
}

TEST_CASE("a never-closed socket is reported once, attributed to its owner, not to the on-CPU task") {
    LeakTracker tracker(kThreshold);
    CHECK_FALSE(tracker.on_transition(enter(7, kT0)).has_value());
    CHECK(tracker.tracked() == 1);
    CHECK(tracker.due(kT0 + 5 * kSec - 1).empty());
    REQUIRE(tracker.due(kT0 + 5 * kSec) == std::vector<std::uint64_t>{7});

    const std::vector<SocketHolder> holders{holder(7, kServer, "server", 9)};
    const auto leak = tracker.confirm(7, holders, kT0 + 5 * kSec);
    REQUIRE(leak.has_value());
    CHECK(leak->cookie == 7);
    CHECK(leak->pid == kServer);
    CHECK(comm_view(leak->comm) == "server");
    CHECK(leak->fd == 9u);
    CHECK(leak->owner_pid == kServer);
    CHECK(comm_view(leak->owner_comm) == "server");
    CHECK(leak->verdict == Verdict::NeverClosed);
    CHECK_FALSE(leak->closed_by.has_value());
    CHECK(leak->entered_mono_ns == kT0);
    CHECK(leak->reported_mono_ns == kT0 + 5 * kSec);
    CHECK(leak->rx_queue == 42); // from the holder record: current
    CHECK_FALSE(leak->since_start);
    CHECK(leak->address.sport == 8080);
    CHECK(leak->address.dport == 50000);
    CHECK(leak->address.netns == 4026531840u);
    REQUIRE(leak->holders.size() == 1);
    CHECK(leak->holders[0] == Holder{kServer, make_comm("server"), 9});
    for (const Holder& h : leak->holders)
        CHECK(h.pid != kClient);

    // Never twice.
    CHECK(tracker.due(kT0 + 60 * kSec).empty());
    CHECK(tracker.next_deadline() == UINT64_MAX);
    CHECK_FALSE(tracker.confirm(7, holders, kT0 + 60 * kSec).has_value());
    CHECK_FALSE(tracker.on_transition(enter(7, kT0 + 61 * kSec)).has_value()); // duplicate entry
    CHECK(tracker.due(kT0 + 120 * kSec).empty());
    REQUIRE(tracker.active().size() == 1);
    CHECK(tracker.active()[0].cookie == 7);
    CHECK(tracker.reported().size() == 1);
    CHECK(tracker.reported_total() == 1);
    CHECK(tracker.tracked() == 1);
}

TEST_CASE("a close before the threshold reports nothing") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    const auto resolved = tracker.on_transition(leave(7, kT0 + 2 * kMs, kTcpLastAck, true));
    CHECK_FALSE(resolved.has_value());
    CHECK(tracker.tracked() == 0);
    CHECK(tracker.due(kT0 + 100 * kSec).empty());
    CHECK(tracker.next_deadline() == UINT64_MAX);
    CHECK(tracker.reported().empty());
    // Its holder lookup raced the close: nothing to confirm.
    const std::vector<SocketHolder> holders{holder(7, kServer, "server", 9)};
    CHECK_FALSE(tracker.confirm(7, holders, kT0 + 6 * kSec).has_value());
}

TEST_CASE("transitions that do not touch CLOSE_WAIT are ignored") {
    LeakTracker tracker(kThreshold);
    Transition t = enter(7, kT0);
    t.old_state = kTcpSynSent;
    t.new_state = kTcpEstablished;
    CHECK_FALSE(tracker.on_transition(t).has_value());
    t.old_state = kTcpFinWait1;
    t.new_state = kTcpFinWait2;
    CHECK_FALSE(tracker.on_transition(t).has_value());
    CHECK(tracker.tracked() == 0);
    // An exit for a socket never seen entering.
    CHECK_FALSE(tracker.on_transition(leave(8, kT0 + 10 * kSec, kTcpLastAck, true)).has_value());
}

TEST_CASE("a confirmed leak that is then closed resolves as close, by the closer") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    const std::vector<SocketHolder> holders{holder(7, kServer, "server", 9)};
    REQUIRE(tracker.confirm(7, holders, kT0 + 5 * kSec).has_value());

    const auto resolved = tracker.on_transition(leave(7, kT0 + 8 * kSec, kTcpLastAck, true));
    REQUIRE(resolved.has_value());
    CHECK(resolved->how == ResolvedHow::Close);
    CHECK(resolved->by_pid == kServer);
    CHECK(comm_view(resolved->by_comm) == "server");
    CHECK(resolved->close_wait_ns == 8 * kSec);
    CHECK(resolved->resolved_mono_ns == kT0 + 8 * kSec);
    CHECK_FALSE(resolved->newly_reported);
    CHECK(resolved->leak.cookie == 7);
    CHECK(resolved->leak.fd == 9u);
    CHECK(tracker.tracked() == 0);
    CHECK(tracker.active().empty());
    REQUIRE(tracker.reported().size() == 1);
    REQUIRE(tracker.resolved().size() == 1);
    CHECK(tracker.resolved()[0].how == ResolvedHow::Close);
}

TEST_CASE("set_cmdline: active(), reported() and resolved() carry the command line") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    const std::vector<SocketHolder> holders{holder(7, kServer, "server", 9)};
    const auto leak = tracker.confirm(7, holders, kT0 + 5 * kSec);
    REQUIRE(leak.has_value());
    CHECK(leak->cmdline.empty()); // the tracker reads no /proc
    tracker.set_cmdline(7, "/usr/bin/server --port 8080");
    tracker.set_cmdline(8, "unknown cookie: ignored");
    REQUIRE(tracker.active().size() == 1);
    CHECK(tracker.active()[0].cmdline == "/usr/bin/server --port 8080");
    REQUIRE(tracker.reported().size() == 1);
    CHECK(tracker.reported()[0].cmdline == "/usr/bin/server --port 8080");

    // Kept through the resolution.
    const auto resolved = tracker.on_transition(leave(7, kT0 + 8 * kSec, kTcpLastAck, true));
    REQUIRE(resolved.has_value());
    CHECK(resolved->leak.cmdline == "/usr/bin/server --port 8080");
    REQUIRE(tracker.resolved().size() == 1);
    CHECK(tracker.resolved()[0].leak.cmdline == "/usr/bin/server --port 8080");

    // A leak reported as it leaves CLOSE_WAIT gets it on its resolution.
    tracker.on_transition(enter(9, kT0 + 10 * kSec));
    const auto late = tracker.on_transition(leave(9, kT0 + 16 * kSec, kTcpLastAck, true));
    REQUIRE(late.has_value());
    REQUIRE(late->newly_reported);
    tracker.set_cmdline(9, "server --late");
    REQUIRE(tracker.resolved().size() == 2);
    CHECK(tracker.resolved()[0].leak.cmdline == "/usr/bin/server --port 8080");
    CHECK(tracker.resolved()[1].leak.cmdline == "server --late");
    REQUIRE(tracker.reported().size() == 2);
    CHECK(tracker.reported()[1].cmdline == "server --late");
    CHECK(tracker.active().empty());
}

TEST_CASE("a late close, past the threshold but before confirm, is a leak resolved at once") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    // The loop has not confirmed it yet.
    const auto resolved = tracker.on_transition(leave(7, kT0 + 6 * kSec, kTcpLastAck, true));
    REQUIRE(resolved.has_value());
    CHECK(resolved->newly_reported);
    CHECK(resolved->how == ResolvedHow::Close);
    CHECK(resolved->by_pid == kServer);
    CHECK(resolved->close_wait_ns == 6 * kSec);
    const Leak& leak = resolved->leak;
    CHECK(leak.pid == kServer);
    CHECK(comm_view(leak.comm) == "server");
    CHECK_FALSE(leak.fd.has_value()); // no descriptor table was read
    CHECK(leak.holders.empty());
    CHECK(leak.owner_pid == kServer);
    CHECK(leak.verdict == Verdict::NeverClosed);
    CHECK(leak.entered_mono_ns == kT0);
    CHECK(leak.reported_mono_ns == kT0 + 6 * kSec);
    CHECK(tracker.tracked() == 0);
    CHECK(tracker.reported().size() == 1);
    CHECK(tracker.reported_total() == 1);
}

TEST_CASE("a late exit by a process other than the owner: the owner's descriptor went away unseen") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    const auto resolved =
        tracker.on_transition(leave(7, kT0 + 9 * kSec, kTcpLastAck, true, kChild, "worker", true));
    REQUIRE(resolved.has_value());
    CHECK(resolved->newly_reported);
    CHECK(resolved->how == ResolvedHow::Exit);
    CHECK(resolved->by_pid == kChild);
    CHECK(resolved->leak.pid == kChild);
    CHECK(comm_view(resolved->leak.comm) == "worker");
    CHECK(resolved->leak.verdict == Verdict::ClosedStillReferenced);
    REQUIRE(resolved->leak.closed_by.has_value());
    CHECK(resolved->leak.closed_by->pid == kServer);
    CHECK(resolved->leak.closed_by->via == ReleaseVia::Exit);
    CHECK_FALSE(resolved->leak.closed_by->fd.has_value());
}

TEST_CASE("a late exit of a process holding two descriptors of its socket: never closed") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    // The exit walk releases fd 4 while fd 5 still holds the socket, then fd 5.
    tracker.on_fd_release(release(7, kT0 + 6 * kSec, kServer, "server", 4, ReleaseVia::Exit));
    const auto resolved =
        tracker.on_transition(leave(7, kT0 + 6 * kSec + 1000, kTcpLastAck, true, kServer, "server", true));
    REQUIRE(resolved.has_value());
    CHECK(resolved->how == ResolvedHow::Exit);
    CHECK(resolved->leak.pid == kServer);
    CHECK(resolved->leak.verdict == Verdict::NeverClosed);
    CHECK_FALSE(resolved->leak.closed_by.has_value());
}

TEST_CASE("a scan during an exit: the exiting holder's own exit release is not a close") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    tracker.on_fd_release(release(7, kT0 + 5 * kSec, kServer, "server", 4, ReleaseVia::Exit));
    const std::vector<SocketHolder> holders{holder(7, kServer, "server", 4), holder(7, kServer, "server", 5)};
    const auto leak = tracker.confirm(7, holders, kT0 + 5 * kSec + 1000);
    REQUIRE(leak.has_value());
    CHECK(leak->verdict == Verdict::NeverClosed);
    CHECK_FALSE(leak->closed_by.has_value());
}

TEST_CASE("a late exit after another process's exit released its copy: closed, still referenced") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    tracker.on_fd_release(release(7, kT0 + 6 * kSec, kServer, "server", 4, ReleaseVia::Exit));
    const auto resolved =
        tracker.on_transition(leave(7, kT0 + 7 * kSec, kTcpLastAck, true, kChild, "worker", true));
    REQUIRE(resolved.has_value());
    CHECK(resolved->leak.verdict == Verdict::ClosedStillReferenced);
    REQUIRE(resolved->leak.closed_by.has_value());
    CHECK(resolved->leak.closed_by->pid == kServer);
    CHECK(resolved->leak.closed_by->via == ReleaseVia::Exit);
}

TEST_CASE("a socket that was never held is not a late leak") {
    LeakTracker tracker(kThreshold);
    Transition in = enter(7, kT0, kServer, OwnerVia::Listener); // still in the accept queue
    in.has_file = false;
    tracker.on_transition(in);
    Transition rst = leave(7, kT0 + 30 * kSec, kTcpClose, false, kClient, "client");
    rst.has_file = false;
    CHECK_FALSE(tracker.on_transition(rst).has_value());
    CHECK(tracker.tracked() == 0);
}

TEST_CASE("fork: the owner closed its copy, the child still holds it") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    // Released before CLOSE_WAIT: arrives right after the entry.
    tracker.on_fd_release(release(7, kT0 - kSec, kServer, "server", 5));
    const std::vector<SocketHolder> holders{holder(7, kChild, "worker", 5)};
    const auto leak = tracker.confirm(7, holders, kT0 + 5 * kSec);
    REQUIRE(leak.has_value());
    CHECK(leak->verdict == Verdict::ClosedStillReferenced);
    REQUIRE(leak->closed_by.has_value());
    CHECK(leak->closed_by->pid == kServer);
    CHECK(comm_view(leak->closed_by->comm) == "server");
    CHECK(leak->closed_by->fd == 5u);
    CHECK(leak->closed_by->via == ReleaseVia::Close);
    CHECK(leak->pid == kChild);
    CHECK(comm_view(leak->comm) == "worker");
    CHECK(leak->fd == 5u);
    CHECK(leak->owner_pid == kServer);
}

TEST_CASE("dup in the same process: closed one descriptor, another still holds it") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    tracker.on_fd_release(release(7, kT0 + kSec, kServer, "server", 5, ReleaseVia::Dup2));
    // A later release by someone else does not replace the first.
    tracker.on_fd_release(release(7, kT0 + 2 * kSec, kChild, "worker", 8, ReleaseVia::CloseRange));
    const std::vector<SocketHolder> holders{holder(7, kServer, "server", 7)};
    const auto leak = tracker.confirm(7, holders, kT0 + 5 * kSec);
    REQUIRE(leak.has_value());
    CHECK(leak->verdict == Verdict::ClosedStillReferenced);
    REQUIRE(leak->closed_by.has_value());
    CHECK(leak->closed_by->pid == kServer);
    CHECK(leak->closed_by->fd == 5u);
    CHECK(leak->closed_by->via == ReleaseVia::Dup2);
    CHECK(leak->pid == kServer);
    CHECK(leak->fd == 7u);
}

TEST_CASE("owner gone without a release seen: closed, still referenced, via exit") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    const std::vector<SocketHolder> holders{holder(7, kChild, "worker", 4), holder(7, 300, "other", 6)};
    const auto leak = tracker.confirm(7, holders, kT0 + 5 * kSec);
    REQUIRE(leak.has_value());
    CHECK(leak->verdict == Verdict::ClosedStillReferenced);
    REQUIRE(leak->closed_by.has_value());
    CHECK(leak->closed_by->pid == kServer);
    CHECK(comm_view(leak->closed_by->comm) == "server");
    CHECK_FALSE(leak->closed_by->fd.has_value());
    CHECK(leak->closed_by->via == ReleaseVia::Exit);
    CHECK(leak->pid == kChild); // first holder
    CHECK(leak->fd == 4u);
}

TEST_CASE("an owner learned from the listener never held the socket: no exit inferred") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0, kServer, OwnerVia::Listener));
    const std::vector<SocketHolder> holders{holder(7, kChild, "worker", 4)};
    const auto leak = tracker.confirm(7, holders, kT0 + 5 * kSec);
    REQUIRE(leak.has_value());
    CHECK(leak->verdict == Verdict::NeverClosed);
    CHECK(leak->pid == kChild);
}

TEST_CASE("holders are deduplicated and sorted; the owner's lowest descriptor is responsible") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    const std::vector<SocketHolder> holders{
        holder(7, 300, "other", 2), holder(7, kServer, "server", 12), holder(8, 1, "unrelated", 3),
        holder(7, kServer, "server", 9), holder(7, 300, "other", 2), holder(7, kChild, "worker", 1)};
    const auto leak = tracker.confirm(7, holders, kT0 + 5 * kSec);
    REQUIRE(leak.has_value());
    const std::vector<Holder> expected{{kServer, make_comm("server"), 9},
                                       {kServer, make_comm("server"), 12},
                                       {kChild, make_comm("worker"), 1},
                                       {300, make_comm("other"), 2}};
    CHECK(leak->holders == expected);
    CHECK(leak->pid == kServer);
    CHECK(leak->fd == 9u);
    CHECK(leak->verdict == Verdict::NeverClosed);
}

TEST_CASE("a reported leak resolved by process exit") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    const std::vector<SocketHolder> holders{holder(7, kServer, "server", 9)};
    REQUIRE(tracker.confirm(7, holders, kT0 + 5 * kSec).has_value());
    const auto resolved =
        tracker.on_transition(leave(7, kT0 + 20 * kSec, kTcpLastAck, true, kServer, "server", true));
    REQUIRE(resolved.has_value());
    CHECK(resolved->how == ResolvedHow::Exit);
    CHECK(resolved->by_pid == kServer);
    CHECK(resolved->close_wait_ns == 20 * kSec);
    CHECK_FALSE(resolved->newly_reported);
}

TEST_CASE("a reported leak resolved by shutdown(SHUT_WR)") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    const std::vector<SocketHolder> holders{holder(7, kServer, "server", 9)};
    REQUIRE(tracker.confirm(7, holders, kT0 + 5 * kSec).has_value());
    const auto resolved = tracker.on_transition(leave(7, kT0 + 7 * kSec, kTcpLastAck, false));
    REQUIRE(resolved.has_value());
    CHECK(resolved->how == ResolvedHow::Shutdown);
    CHECK(resolved->by_pid == kServer);
    CHECK(tracker.tracked() == 0);
}

TEST_CASE("a reported leak resolved by a reset: the closer is unknown") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    const std::vector<SocketHolder> holders{holder(7, kServer, "server", 9)};
    REQUIRE(tracker.confirm(7, holders, kT0 + 5 * kSec).has_value());
    const auto resolved = tracker.on_transition(leave(7, kT0 + 7 * kSec, kTcpClose, false, kClient, "client"));
    REQUIRE(resolved.has_value());
    CHECK(resolved->how == ResolvedHow::Reset);
    CHECK_FALSE(resolved->by_pid.has_value());
    CHECK(comm_view(resolved->by_comm).empty());
}

TEST_CASE("a since_start socket with an age estimate past the threshold is due immediately") {
    LeakTracker tracker(kThreshold);
    SocketHolder old = holder(7, kServer, "server", 9);
    old.close_wait_age_ns = 60 * kSec;
    tracker.on_existing_socket(old, kT0);
    SocketHolder second = holder(7, kChild, "worker", 3); // a second descriptor
    second.close_wait_age_ns = 60 * kSec;
    tracker.on_existing_socket(second, kT0);
    tracker.on_existing_socket(old, kT0); // the same pair twice

    SocketHolder young = holder(8, kServer, "server", 10);
    young.close_wait_age_ns = 2 * kSec;
    tracker.on_existing_socket(young, kT0);
    SocketHolder unknown_age = holder(9, kServer, "server", 11);
    tracker.on_existing_socket(unknown_age, kT0);
    SocketHolder established = holder(10, kServer, "server", 12);
    established.state = kTcpEstablished;
    tracker.on_existing_socket(established, kT0);

    CHECK(tracker.tracked() == 3);
    CHECK(tracker.next_deadline() == kT0 - 55 * kSec);
    CHECK(tracker.due(kT0) == std::vector<std::uint64_t>{7});
    CHECK(tracker.due(kT0 + 3 * kSec) == std::vector<std::uint64_t>{7, 8});
    CHECK(tracker.due(kT0 + 5 * kSec) == std::vector<std::uint64_t>{7, 8, 9});

    const std::vector<SocketHolder> holders{old, second};
    const auto leak = tracker.confirm(7, holders, kT0);
    REQUIRE(leak.has_value());
    CHECK(leak->since_start);
    CHECK(leak->entered_mono_ns == kT0 - 60 * kSec);
    CHECK(leak->owner_pid == kServer);
    CHECK(leak->pid == kServer);
    CHECK(leak->holders.size() == 2);
    CHECK(leak->verdict == Verdict::NeverClosed);
    CHECK(tracker.next_deadline() == kT0 + 3 * kSec);
}

TEST_CASE("a since_start socket that closes late keeps the descriptors seen at start") {
    LeakTracker tracker(kThreshold);
    SocketHolder old = holder(7, kServer, "server", 9);
    old.close_wait_age_ns = 60 * kSec;
    tracker.on_existing_socket(old, kT0);
    const auto resolved = tracker.on_transition(leave(7, kT0 + kSec, kTcpLastAck, true));
    REQUIRE(resolved.has_value());
    CHECK(resolved->newly_reported);
    CHECK(resolved->leak.since_start);
    CHECK(resolved->leak.fd == 9u);
    CHECK(resolved->close_wait_ns == 61 * kSec);
}

TEST_CASE("a since_start estimate is replaced by a later exact transition") {
    LeakTracker tracker(kThreshold);
    SocketHolder h = holder(7, kServer, "server", 9);
    h.close_wait_age_ns = 1 * kSec; // estimate: entered at kT0 - 1s
    tracker.on_existing_socket(h, kT0);
    CHECK(tracker.next_deadline() == kT0 + 4 * kSec);
    // It entered CLOSE_WAIT between attach and scan; the exact time wins.
    tracker.on_transition(enter(7, kT0 - kSec / 2));
    CHECK(tracker.tracked() == 1);
    CHECK(tracker.next_deadline() == kT0 + 4 * kSec + kSec / 2);
    CHECK(tracker.due(kT0 + 4 * kSec).empty());
    REQUIRE(tracker.due(kT0 + 5 * kSec) == std::vector<std::uint64_t>{7});
    const std::vector<SocketHolder> holders{h};
    const auto leak = tracker.confirm(7, holders, kT0 + 5 * kSec);
    REQUIRE(leak.has_value());
    CHECK_FALSE(leak->since_start);
    CHECK(leak->entered_mono_ns == kT0 - kSec / 2);
}

TEST_CASE("a socket that stays unheld is retried later, then dropped after three confirms") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    const std::uint64_t t = kT0 + 5 * kSec;
    SocketHolder gone = holder(7, kServer, "server", 9);
    gone.state = kTcpLastAck; // left CLOSE_WAIT: does not count as holding it
    const std::vector<SocketHolder> not_in_close_wait{gone, holder(8, kServer, "server", 10)};

    CHECK_FALSE(tracker.confirm(7, not_in_close_wait, t).has_value());
    CHECK(tracker.due(t).empty()); // no tight loop
    CHECK(tracker.next_deadline() == t + 100 * kMs);
    CHECK(tracker.due(t + 100 * kMs) == std::vector<std::uint64_t>{7});
    CHECK_FALSE(tracker.confirm(7, {}, t + 100 * kMs).has_value());
    CHECK(tracker.tracked() == 1);
    CHECK(tracker.dropped_unheld() == 0);
    CHECK_FALSE(tracker.confirm(7, {}, t + 200 * kMs).has_value());
    CHECK(tracker.tracked() == 0);
    CHECK(tracker.dropped_unheld() == 1);
    CHECK(tracker.due(t + 100 * kSec).empty());
    CHECK(tracker.next_deadline() == UINT64_MAX);
}

TEST_CASE("a socket unheld once and held later is still reported") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    CHECK_FALSE(tracker.confirm(7, {}, kT0 + 5 * kSec).has_value());
    const std::vector<SocketHolder> holders{holder(7, kServer, "server", 9)};
    const auto leak = tracker.confirm(7, holders, kT0 + 5 * kSec + 100 * kMs);
    REQUIRE(leak.has_value());
    CHECK(leak->reported_mono_ns == kT0 + 5 * kSec + 100 * kMs);
}

TEST_CASE("confirm before the threshold does nothing") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    const std::vector<SocketHolder> holders{holder(7, kServer, "server", 9)};
    CHECK_FALSE(tracker.confirm(7, holders, kT0 + kSec).has_value());
    CHECK(tracker.next_deadline() == kT0 + 5 * kSec);
    CHECK(tracker.confirm(7, holders, kT0 + 5 * kSec).has_value());
}

TEST_CASE("a pid filter matches a holder that is not the owner") {
    LeakTracker tracker(kThreshold, LeakFilter{{kChild}, std::nullopt});
    tracker.on_transition(enter(7, kT0));
    tracker.on_transition(enter(8, kT0));
    const std::vector<SocketHolder> holders{holder(7, kServer, "server", 9), holder(7, kChild, "worker", 4),
                                            holder(8, kServer, "server", 10)};
    const auto leak = tracker.confirm(7, holders, kT0 + 5 * kSec);
    REQUIRE(leak.has_value());
    CHECK(leak->pid == kServer); // still attributed to the owner, who holds it
    CHECK(leak->holders.size() == 2);

    // Socket 8: owner and holder fail the filter: tracked quietly, never due again.
    CHECK_FALSE(tracker.confirm(8, holders, kT0 + 5 * kSec).has_value());
    CHECK(tracker.tracked() == 2);
    CHECK(tracker.due(kT0 + 100 * kSec).empty());
    CHECK_FALSE(tracker.confirm(8, holders, kT0 + 100 * kSec).has_value());
    CHECK_FALSE(tracker.on_transition(leave(8, kT0 + 200 * kSec, kTcpLastAck, true)).has_value());
    CHECK(tracker.reported().size() == 1);
    CHECK(tracker.tracked() == 1);
}

TEST_CASE("a comm filter matches the owner; a late leak outside the filter is not reported") {
    LeakTracker tracker(kThreshold, LeakFilter{{}, std::string("server")});
    tracker.on_transition(enter(7, kT0));
    const std::vector<SocketHolder> holders{holder(7, kChild, "worker", 4)};
    CHECK(tracker.confirm(7, holders, kT0 + 5 * kSec).has_value()); // owner "server" matches

    tracker.on_transition(enter(8, kT0, 555));
    Transition out = leave(8, kT0 + 9 * kSec, kTcpLastAck, true, 555, "other");
    out.owner_pid = 555;
    out.owner_comm = make_comm("other");
    CHECK_FALSE(tracker.on_transition(out).has_value());
    CHECK(tracker.reported_total() == 1);

    LeakFilter both{{kServer}, std::string("server")};
    CHECK(both.matches(kServer, make_comm("server")));
    CHECK_FALSE(both.matches(kServer, make_comm("worker")));
    CHECK_FALSE(both.matches(kChild, make_comm("server")));
    LeakFilter long_name{{}, std::string("a-very-long-process-name")};
    CHECK(long_name.matches(1, make_comm("a-very-long-pro"))); // what the kernel keeps
}

TEST_CASE("IPv6 addresses are carried through") {
    LeakTracker tracker(kThreshold);
    Transition t = enter(7, kT0);
    t.family = kFamilyIpv6;
    t.saddr = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    t.daddr = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    t.sport = 443;
    t.dport = 40000;
    tracker.on_transition(t);
    const std::vector<SocketHolder> holders{holder(7, kServer, "server", 9)};
    const auto leak = tracker.confirm(7, holders, kT0 + 5 * kSec);
    REQUIRE(leak.has_value());
    CHECK(leak->address.family == kFamilyIpv6);
    CHECK(leak->address.saddr == t.saddr);
    CHECK(leak->address.daddr == t.daddr);
    CHECK(leak->address.sport == 443);
    CHECK(leak->address.dport == 40000);

    SocketHolder h6 = holder(8, kServer, "server", 10);
    h6.family = kFamilyIpv6;
    h6.saddr = t.daddr;
    h6.close_wait_age_ns = 10 * kSec;
    tracker.on_existing_socket(h6, kT0);
    const std::vector<SocketHolder> holders8{h6};
    const auto leak8 = tracker.confirm(8, holders8, kT0);
    REQUIRE(leak8.has_value());
    CHECK(leak8->address.family == kFamilyIpv6);
    CHECK(leak8->address.saddr == t.daddr);
}

TEST_CASE("fd releases for unknown sockets are ignored") {
    LeakTracker tracker(kThreshold);
    tracker.on_fd_release(release(7, kT0, kServer, "server", 5));
    CHECK(tracker.tracked() == 0);
    tracker.on_transition(enter(7, kT0 + kSec));
    const std::vector<SocketHolder> holders{holder(7, kServer, "server", 9)};
    const auto leak = tracker.confirm(7, holders, kT0 + 6 * kSec);
    REQUIRE(leak.has_value());
    CHECK(leak->verdict == Verdict::NeverClosed);
}

TEST_CASE("next_deadline follows the earliest waiting socket") {
    LeakTracker tracker(kThreshold);
    CHECK(tracker.next_deadline() == UINT64_MAX);
    tracker.on_transition(enter(1, kT0));
    tracker.on_transition(enter(2, kT0 + kSec));
    tracker.on_transition(enter(3, kT0 + 2 * kSec));
    CHECK(tracker.next_deadline() == kT0 + 5 * kSec);
    tracker.on_transition(leave(1, kT0 + 3 * kSec, kTcpLastAck, true));
    CHECK(tracker.next_deadline() == kT0 + 6 * kSec);
    // Slightly out of order (records from another CPU).
    tracker.on_transition(enter(4, kT0 + kSec / 2));
    CHECK(tracker.next_deadline() == kT0 + 5 * kSec + kSec / 2);
    CHECK(tracker.due(kT0 + 6 * kSec) == std::vector<std::uint64_t>{4, 2});
    const std::vector<SocketHolder> holders{holder(4, kServer, "server", 9), holder(2, kServer, "server", 8)};
    REQUIRE(tracker.confirm(4, holders, kT0 + 6 * kSec).has_value());
    REQUIRE(tracker.confirm(2, holders, kT0 + 6 * kSec).has_value());
    CHECK(tracker.next_deadline() == kT0 + 7 * kSec);
    tracker.on_transition(leave(3, kT0 + 6 * kSec, kTcpLastAck, true));
    CHECK(tracker.next_deadline() == UINT64_MAX);
    CHECK(tracker.tracked() == 2); // the two reported leaks
}

TEST_CASE("the tracked-socket bound refuses new sockets and counts them") {
    LeakTrackerLimits limits;
    limits.max_tracked = 2;
    limits.max_history = 1;
    LeakTracker tracker(kThreshold, {}, limits);
    tracker.on_transition(enter(1, kT0));
    tracker.on_transition(enter(2, kT0 + 1));
    tracker.on_transition(enter(3, kT0 + 2));
    SocketHolder h = holder(4, kServer, "server", 9);
    tracker.on_existing_socket(h, kT0 + 3);
    CHECK(tracker.tracked() == 2);
    CHECK(tracker.evictions() == 2);
    CHECK(tracker.due(kT0 + 10 * kSec) == std::vector<std::uint64_t>{1, 2});

    // History keeps the newest resolved leaks.
    tracker.on_transition(leave(1, kT0 + 10 * kSec, kTcpLastAck, true));
    tracker.on_transition(leave(2, kT0 + 10 * kSec, kTcpLastAck, true));
    CHECK(tracker.reported_total() == 2);
    REQUIRE(tracker.reported().size() == 1);
    CHECK(tracker.reported()[0].cookie == 2);
    CHECK(tracker.evictions() == 3);
}

TEST_CASE("full-speed churn: a million prompt closes cost nothing and leave nothing behind") {
    LeakTracker tracker(kThreshold);
    constexpr std::uint64_t kConnections = 1'000'000;
    constexpr std::uint64_t kStep = 70'000; // 70 us per connection, ~14,000/s
    constexpr std::uint64_t kInFlight = 7;  // each stays ~490 us in CLOSE_WAIT
    Transition in = enter(0, 0);
    Transition out = leave(0, 0, kTcpLastAck, true);
    std::size_t resolved = 0;
    std::size_t due = 0;
    std::size_t max_schedule = 0;
    std::uint64_t now = kT0;
    for (std::uint64_t i = 0; i < kConnections + kInFlight; ++i) {
        now = kT0 + i * kStep;
        if (i < kConnections) {
            in.cookie = i + 1;
            in.mono_ns = now;
            resolved += tracker.on_transition(in).has_value();
        }
        if (i >= kInFlight) {
            out.cookie = i - kInFlight + 1;
            out.mono_ns = now + 1000;
            resolved += tracker.on_transition(out).has_value();
        }
        if (i % 4096 == 0) {
            due += tracker.due(now).size();
            max_schedule = std::max(max_schedule, tracker.schedule_size());
        }
    }
    CHECK(resolved == 0);
    CHECK(due == 0);
    CHECK(tracker.tracked() == 0);
    CHECK(tracker.schedule_size() == 0);
    CHECK(max_schedule <= kInFlight + 1);
    CHECK(tracker.next_deadline() == UINT64_MAX);
    CHECK(tracker.reported().empty());
    CHECK(tracker.evictions() == 0);
}

TEST_CASE("one long-waiting socket does not let dead schedule slots pile up") {
    LeakTracker tracker(std::chrono::seconds(3600));
    tracker.on_transition(enter(1, kT0)); // stays in CLOSE_WAIT: blocks the queue front
    for (std::uint64_t i = 0; i < 100'000; ++i) {
        tracker.on_transition(enter(i + 2, kT0 + i * 1000));
        tracker.on_transition(leave(i + 2, kT0 + i * 1000 + 500, kTcpLastAck, true));
    }
    CHECK(tracker.tracked() == 1);
    CHECK(tracker.schedule_size() <= 2 * tracker.tracked() + 1024 + 1);
    CHECK(tracker.next_deadline() == kT0 + 3600 * kSec);
}

TEST_CASE("random enter/leave sequences keep the index and the schedule consistent") {
    LeakTracker tracker(std::chrono::hours(1));
    std::mt19937_64 random(12345);
    std::set<std::uint64_t> expected;
    std::uint64_t now = kT0;
    for (int i = 0; i < 200'000; ++i) {
        now += random() % 50'000;
        const std::uint64_t cookie = 1 + random() % 3000;
        if (random() % 2 == 0) {
            tracker.on_transition(enter(cookie, now));
            expected.insert(cookie);
        } else {
            tracker.on_transition(leave(cookie, now, kTcpLastAck, true));
            expected.erase(cookie);
        }
        if (i % 10'000 == 0) {
            REQUIRE(tracker.tracked() == expected.size());
            const std::vector<std::uint64_t> due = tracker.due(now + 2 * 3600 * kSec);
            REQUIRE(std::set<std::uint64_t>(due.begin(), due.end()) == expected);
            REQUIRE(due.size() == expected.size());
        }
    }
    for (std::uint64_t cookie : std::set<std::uint64_t>(expected))
        tracker.on_transition(leave(cookie, now, kTcpLastAck, true));
    CHECK(tracker.tracked() == 0);
    CHECK(tracker.next_deadline() == UINT64_MAX);
    CHECK(tracker.schedule_size() == 0);
    CHECK(tracker.reported_total() == 0);
}
