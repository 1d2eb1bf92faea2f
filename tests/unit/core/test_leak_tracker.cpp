// Over 500 lines: one case per rule of the leak tracker (verdicts, resolutions, scans, bounds, states).
#include "tcpleak/core/leak_tracker.hpp"
#include "tcpleak/core/tcp_state.hpp"

#include "support/names.hpp"
#include "support/tcp_sockets.hpp"

#include <doctest/doctest.h>

#include <algorithm>
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

// ESTABLISHED -> CLOSE_WAIT, in softirq: ctx is whoever was on the CPU; the
// owner is what the kernel's owners LRU remembered (0: nothing).
Transition enter(std::uint64_t cookie, std::uint64_t mono_ns, std::uint32_t owner = kServer) {
    Transition t;
    t.cookie = cookie;
    t.mono_ns = mono_ns;
    t.old_state = kTcpEstablished;
    t.new_state = kTcpCloseWait;
    test::on_loopback(t, 8080, 50000);
    if (owner != 0) {
        t.known_owner_pid = owner;
        t.known_owner_comm = make_comm(owner == kServer ? "server" : "other");
    }
    t.ctx_pid = kClient;
    t.ctx_comm = make_comm("client");
    t.rx_queue = 3;
    t.has_file = true;
    return t;
}

// CLOSE_WAIT -> new_state.
Transition leave(std::uint64_t cookie, std::uint64_t mono_ns, std::uint8_t new_state, bool file_released,
                 std::uint32_t ctx_pid = kServer, const char* ctx_comm = "server", bool exiting = false) {
    Transition t = enter(cookie, mono_ns, 0);
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
    test::on_loopback(h, 8080, 50000);
    h.pid = pid;
    h.comm = make_comm(comm);
    h.fd = fd;
    h.rx_queue = 42;
    return h;
}

// A holder record the kernel read at read_ns, in CLOSE_WAIT for at least age_ns.
SocketHolder aged(SocketHolder h, std::uint64_t read_ns, std::uint64_t age_ns) {
    h.read_mono_ns = read_ns;
    h.close_wait_age_ns = age_ns;
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

// A descriptor-table scan at now that finds exactly these (CLOSE_WAIT
// socket, descriptor) pairs.
ScanResult scan(LeakTracker& tracker, const std::vector<SocketHolder>& found, std::uint64_t now,
                bool at_start = false, const LeakTracker::OwnerLookup& owners = {}) {
    tracker.begin_scan();
    return tracker.on_scan(found, now, at_start, owners);
}

// The one leak a scan reported.
Leak only_leak(const ScanResult& result) {
    REQUIRE(result.leaks.size() == 1);
    return result.leaks.front();
}

std::vector<std::uint64_t> cookies_of(const ScanResult& result) {
    std::vector<std::uint64_t> cookies;
    for (const Leak& leak : result.leaks)
        cookies.push_back(leak.cookie);
    std::sort(cookies.begin(), cookies.end());
    return cookies;
}

} // namespace

TEST_CASE("verdict, resolution and seen-by names") {
    test::check_names<Verdict>(verdict_name, {{Verdict::NeverClosed, "never_closed"},
                                              {Verdict::ClosedStillReferenced, "closed_still_referenced"},
                                              {Verdict::Held, "held"}});
    test::check_names<Verdict>(verdict_label, {{Verdict::NeverClosed, "never closed"},
                                               {Verdict::ClosedStillReferenced, "closed, still referenced"},
                                               {Verdict::Held, "held (not watched since it entered CLOSE_WAIT)"}});
    test::check_names<ResolvedHow>(resolved_how_name, {{ResolvedHow::Close, "close"},
                                                       {ResolvedHow::Shutdown, "shutdown"},
                                                       {ResolvedHow::Exit, "exit"}, {ResolvedHow::Reset, "reset"},
                                                       {ResolvedHow::Unknown, "unknown"}});
    test::check_names<SeenBy>(seen_by_name, {{SeenBy::Transition, "transition"},
                                             {SeenBy::SocketTable, "socket_table"}});
}

// ---------------------------------------------------------------- the event path

TEST_CASE("a never-closed socket is reported once, attributed to its owner, not to the on-CPU task") {
    LeakTracker tracker(kThreshold);
    CHECK_FALSE(tracker.on_transition(enter(7, kT0)).has_value());
    CHECK(tracker.tracked() == 1);
    CHECK(tracker.next_deadline() == kT0 + 5 * kSec);
    CHECK(scan(tracker, {holder(7, kServer, "server", 9)}, kT0 + 5 * kSec - 1).leaks.empty()); // not yet

    const Leak leak = only_leak(scan(tracker, {holder(7, kServer, "server", 9)}, kT0 + 5 * kSec));
    CHECK(leak.cookie == 7);
    CHECK(leak.pid == kServer);
    CHECK(comm_view(leak.comm) == "server");
    CHECK(leak.fd == 9u);
    CHECK(leak.owner_pid == kServer);
    CHECK(comm_view(leak.owner_comm) == "server");
    CHECK(leak.verdict == Verdict::NeverClosed);
    CHECK_FALSE(leak.closed_by.has_value());
    CHECK(leak.entered_mono_ns == kT0);
    CHECK(leak.reported_mono_ns == kT0 + 5 * kSec);
    CHECK(leak.rx_queue == 42); // from the holder record: current
    CHECK_FALSE(leak.since_start);
    CHECK(leak.seen_by == SeenBy::Transition);
    CHECK(leak.address.sport == 8080);
    CHECK(leak.address.netns == 4026531840u);
    REQUIRE(leak.holders.size() == 1);
    CHECK(leak.holders[0] == Holder{kServer, make_comm("server"), 9});

    // Never twice.
    CHECK(tracker.next_deadline() == UINT64_MAX);
    CHECK(scan(tracker, {holder(7, kServer, "server", 9)}, kT0 + 60 * kSec).leaks.empty());
    CHECK_FALSE(tracker.on_transition(enter(7, kT0 + 61 * kSec)).has_value()); // duplicate entry
    CHECK(scan(tracker, {holder(7, kServer, "server", 9)}, kT0 + 120 * kSec).leaks.empty());
    REQUIRE(tracker.active().size() == 1);
    CHECK(tracker.active()[0].cookie == 7);
    CHECK(tracker.reported_total() == 1);
    CHECK(tracker.tracked() == 1);
}

TEST_CASE("without release hooks a held socket is held, never 'never closed'") {
    LeakTrackerPolicy policy;
    policy.releases_watched = false; // the agent without --exact
    LeakTracker tracker(kThreshold, {}, policy);
    tracker.on_transition(enter(7, kT0));
    const Leak leak = only_leak(scan(tracker, {holder(7, kServer, "server", 9)}, kT0 + 5 * kSec));
    CHECK(leak.verdict == Verdict::Held);
    CHECK(leak.pid == kServer);
}

TEST_CASE("a close before the threshold reports nothing") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    CHECK_FALSE(tracker.on_transition(leave(7, kT0 + 2 * kMs, kTcpLastAck, true)).has_value());
    CHECK(tracker.tracked() == 0);
    CHECK(tracker.next_deadline() == UINT64_MAX);
    CHECK(tracker.reported_total() == 0);
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
    t = enter(0, kT0); // cookie 0 is never a socket
    CHECK_FALSE(tracker.on_transition(t).has_value());
    CHECK(tracker.tracked() == 0);
    // An exit for a socket never seen entering.
    CHECK_FALSE(tracker.on_transition(leave(8, kT0 + 10 * kSec, kTcpLastAck, true)).has_value());
}

TEST_CASE("a confirmed leak that is then closed resolves as close, by the closer") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    REQUIRE(scan(tracker, {holder(7, kServer, "server", 9)}, kT0 + 5 * kSec).leaks.size() == 1);

    const auto resolved = tracker.on_transition(leave(7, kT0 + 8 * kSec, kTcpLastAck, true));
    REQUIRE(resolved.has_value());
    CHECK(resolved->how == ResolvedHow::Close);
    CHECK(resolved->by_pid == kServer);
    CHECK(comm_view(resolved->by_comm) == "server");
    CHECK(resolved->in_state_ns == 8 * kSec);
    CHECK(resolved->resolved_mono_ns == kT0 + 8 * kSec);
    CHECK_FALSE(resolved->newly_reported);
    CHECK(resolved->leak.cookie == 7);
    CHECK(resolved->leak.fd == 9u);
    CHECK(tracker.tracked() == 0);
    CHECK(tracker.active().empty());
    CHECK(tracker.resolved_total() == 1);
}

TEST_CASE("set_cmdline: active() carries the command line, and so does the resolution") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    const Leak leak = only_leak(scan(tracker, {holder(7, kServer, "server", 9)}, kT0 + 5 * kSec));
    CHECK(leak.cmdline.empty()); // the tracker reads no /proc
    tracker.set_cmdline(7, "/usr/bin/server --port 8080");
    tracker.set_cmdline(8, "unknown cookie: ignored");
    REQUIRE(tracker.active().size() == 1);
    CHECK(tracker.active()[0].cmdline == "/usr/bin/server --port 8080");
    const auto resolved = tracker.on_transition(leave(7, kT0 + 8 * kSec, kTcpLastAck, true));
    REQUIRE(resolved.has_value());
    CHECK(resolved->leak.cmdline == "/usr/bin/server --port 8080");
}

TEST_CASE("a late close, past the threshold but before any scan, is a leak resolved at once") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    const auto resolved = tracker.on_transition(leave(7, kT0 + 6 * kSec, kTcpLastAck, true));
    REQUIRE(resolved.has_value());
    CHECK(resolved->newly_reported);
    CHECK(resolved->how == ResolvedHow::Close);
    CHECK(resolved->by_pid == kServer);
    CHECK(resolved->in_state_ns == 6 * kSec);
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
    CHECK(tracker.reported_total() == 1);
    CHECK(tracker.resolved_total() == 1);
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
    const Leak leak = only_leak(
        scan(tracker, {holder(7, kServer, "server", 4), holder(7, kServer, "server", 5)}, kT0 + 5 * kSec + 1000));
    CHECK(leak.verdict == Verdict::NeverClosed);
    CHECK_FALSE(leak.closed_by.has_value());
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
    Transition in = enter(7, kT0, 0); // still in the accept queue: no owner, no file
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
    const Leak leak = only_leak(scan(tracker, {holder(7, kChild, "worker", 5)}, kT0 + 5 * kSec));
    CHECK(leak.verdict == Verdict::ClosedStillReferenced);
    REQUIRE(leak.closed_by.has_value());
    CHECK(leak.closed_by->pid == kServer);
    CHECK(comm_view(leak.closed_by->comm) == "server");
    CHECK(leak.closed_by->fd == 5u);
    CHECK(leak.closed_by->via == ReleaseVia::Close);
    CHECK(leak.pid == kChild);
    CHECK(comm_view(leak.comm) == "worker");
    CHECK(leak.fd == 5u);
    CHECK(leak.owner_pid == kServer);
}

TEST_CASE("exec dropped an O_CLOEXEC descriptor while a child holds the socket: closed via exec") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    tracker.on_fd_release(release(7, kT0 + kSec, kServer, "server", 4, ReleaseVia::Exec));
    const Leak leak = only_leak(scan(tracker, {holder(7, kChild, "worker", 4)}, kT0 + 5 * kSec));
    CHECK(leak.verdict == Verdict::ClosedStillReferenced);
    REQUIRE(leak.closed_by.has_value());
    CHECK(leak.closed_by->via == ReleaseVia::Exec);
    CHECK(leak.closed_by->fd == 4u);
    CHECK(release_via_name(leak.closed_by->via) == "exec");
}

TEST_CASE("dup in the same process: closed one descriptor, another still holds it") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    tracker.on_fd_release(release(7, kT0 + kSec, kServer, "server", 5, ReleaseVia::Dup2));
    // A later release by someone else does not replace the first.
    tracker.on_fd_release(release(7, kT0 + 2 * kSec, kChild, "worker", 8, ReleaseVia::CloseRange));
    const Leak leak = only_leak(scan(tracker, {holder(7, kServer, "server", 7)}, kT0 + 5 * kSec));
    CHECK(leak.verdict == Verdict::ClosedStillReferenced);
    REQUIRE(leak.closed_by.has_value());
    CHECK(leak.closed_by->pid == kServer);
    CHECK(leak.closed_by->fd == 5u);
    CHECK(leak.closed_by->via == ReleaseVia::Dup2);
    CHECK(leak.pid == kServer);
    CHECK(leak.fd == 7u);
}

TEST_CASE("owner gone without a release seen: closed, still referenced, via exit") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    const Leak leak =
        only_leak(scan(tracker, {holder(7, kChild, "worker", 4), holder(7, 300, "other", 6)}, kT0 + 5 * kSec));
    CHECK(leak.verdict == Verdict::ClosedStillReferenced);
    REQUIRE(leak.closed_by.has_value());
    CHECK(leak.closed_by->pid == kServer);
    CHECK(comm_view(leak.closed_by->comm) == "server");
    CHECK_FALSE(leak.closed_by->fd.has_value());
    CHECK(leak.closed_by->via == ReleaseVia::Exit);
    CHECK(leak.pid == kChild); // first holder
    CHECK(leak.fd == 4u);
}

TEST_CASE("an owner the kernel no longer remembers: the first holder is responsible, nothing inferred") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0, 0));
    const Leak leak = only_leak(scan(tracker, {holder(7, kChild, "worker", 4)}, kT0 + 5 * kSec));
    CHECK(leak.verdict == Verdict::NeverClosed);
    CHECK(leak.pid == kChild);
    CHECK_FALSE(leak.owner_pid.has_value());
}

TEST_CASE("holders are deduplicated and sorted; the owner's lowest descriptor is responsible") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    tracker.on_transition(enter(8, kT0));
    const ScanResult result = scan(tracker,
                                   {holder(7, 300, "other", 2), holder(7, kServer, "server", 12),
                                    holder(8, 1, "unrelated", 3), holder(7, kServer, "server", 9),
                                    holder(7, 300, "other", 2), holder(7, kChild, "worker", 1)},
                                   kT0 + 5 * kSec);
    REQUIRE(result.leaks.size() == 2);
    const Leak& leak = result.leaks[0].cookie == 7 ? result.leaks[0] : result.leaks[1];
    const std::vector<Holder> expected{{kServer, make_comm("server"), 9},
                                       {kServer, make_comm("server"), 12},
                                       {kChild, make_comm("worker"), 1},
                                       {300, make_comm("other"), 2}};
    CHECK(leak.holders == expected);
    CHECK(leak.pid == kServer);
    CHECK(leak.fd == 9u);
    CHECK(leak.verdict == Verdict::NeverClosed);
}

TEST_CASE("a reported leak resolved by process exit, by shutdown, by a reset") {
    LeakTracker tracker(kThreshold);
    for (std::uint64_t cookie : {7, 8, 9})
        tracker.on_transition(enter(cookie, kT0));
    REQUIRE(scan(tracker,
                 {holder(7, kServer, "server", 9), holder(8, kServer, "server", 10), holder(9, kServer, "server", 11)},
                 kT0 + 5 * kSec)
                .leaks.size() == 3);

    const auto exited = tracker.on_transition(leave(7, kT0 + 20 * kSec, kTcpLastAck, true, kServer, "server", true));
    REQUIRE(exited.has_value());
    CHECK(exited->how == ResolvedHow::Exit);
    CHECK(exited->by_pid == kServer);
    CHECK(exited->in_state_ns == 20 * kSec);
    CHECK_FALSE(exited->newly_reported);

    const auto shut = tracker.on_transition(leave(8, kT0 + 7 * kSec, kTcpLastAck, false));
    REQUIRE(shut.has_value());
    CHECK(shut->how == ResolvedHow::Shutdown);
    CHECK(shut->by_pid == kServer);

    const auto reset = tracker.on_transition(leave(9, kT0 + 7 * kSec, kTcpClose, false, kClient, "client"));
    REQUIRE(reset.has_value());
    CHECK(reset->how == ResolvedHow::Reset);
    CHECK_FALSE(reset->by_pid.has_value());
    CHECK(comm_view(reset->by_comm).empty());
    CHECK(tracker.tracked() == 0);
    CHECK(tracker.resolved_total() == 3);
}

// ---------------------------------------------------------------- sockets older than tcpleak

TEST_CASE("the start-up scan: past the threshold reported at once, held, owned by the first holder") {
    LeakTracker tracker(kThreshold);
    const std::uint64_t read = kT0 - 10 * kMs; // the kernel read it before the scan ended
    const ScanResult result =
        scan(tracker,
             {aged(holder(7, kServer, "server", 9), read, 60 * kSec), aged(holder(7, kChild, "worker", 3), read, 60 * kSec),
              aged(holder(7, kServer, "server", 9), read, 60 * kSec), // the same pair twice (iterator re-run)
              aged(holder(8, kServer, "server", 10), read, 2 * kSec), aged(holder(9, kServer, "server", 11), read, 0)},
             kT0, true);
    CHECK(result.adopted == 3);
    CHECK(tracker.adopted_total() == 3);
    CHECK(tracker.tracked() == 3);
    const Leak leak = only_leak(result);
    CHECK(leak.cookie == 7);
    CHECK(leak.since_start);
    CHECK(leak.seen_by == SeenBy::SocketTable);
    // The kernel's read time minus the age bound: never earlier than the truth.
    CHECK(leak.entered_mono_ns == read - 60 * kSec);
    CHECK(leak.owner_pid == kServer);
    CHECK(leak.pid == kServer);
    CHECK(leak.holders.size() == 2);
    // Its whole time in CLOSE_WAIT was not watched: a close of a copy before
    // tcpleak started cannot be ruled out.
    CHECK(leak.verdict == Verdict::Held);
    CHECK(tracker.next_deadline() == read - 2 * kSec + 5 * kSec);
}

TEST_CASE("a socket older than tcpleak that closes late keeps the descriptors seen at start") {
    LeakTracker tracker(kThreshold);
    scan(tracker, {aged(holder(7, kServer, "server", 9), kT0, 2 * kSec)}, kT0, true);
    const auto resolved = tracker.on_transition(leave(7, kT0 + 4 * kSec, kTcpLastAck, true));
    REQUIRE(resolved.has_value());
    CHECK(resolved->newly_reported);
    CHECK(resolved->leak.since_start);
    CHECK(resolved->leak.fd == 9u);
    CHECK(resolved->leak.verdict == Verdict::Held);
    CHECK(resolved->in_state_ns == 6 * kSec);
}

TEST_CASE("a start-up estimate is replaced by a later exact transition") {
    LeakTracker tracker(kThreshold);
    const SocketHolder h = aged(holder(7, kServer, "server", 9), kT0, kSec); // estimate: entered at kT0 - 1s
    scan(tracker, {h}, kT0, true);
    CHECK(tracker.next_deadline() == kT0 + 4 * kSec);
    // It entered CLOSE_WAIT between attach and scan; the exact time wins.
    tracker.on_transition(enter(7, kT0 - kSec / 2));
    CHECK(tracker.tracked() == 1);
    CHECK(tracker.next_deadline() == kT0 + 4 * kSec + kSec / 2);
    CHECK(scan(tracker, {h}, kT0 + 4 * kSec).leaks.empty());
    const Leak leak = only_leak(scan(tracker, {h}, kT0 + 5 * kSec));
    CHECK_FALSE(leak.since_start);
    CHECK(leak.seen_by == SeenBy::Transition);
    CHECK(leak.entered_mono_ns == kT0 - kSec / 2);
    CHECK(leak.verdict == Verdict::NeverClosed); // its history is whole after all
}

// ---------------------------------------------------------------- late holders

TEST_CASE("a socket no descriptor holds is looked at again, ever more rarely, and never dropped") {
    LeakTrackerPolicy policy;
    policy.unheld_retry = std::chrono::milliseconds(100);
    policy.max_unheld_retry = std::chrono::milliseconds(400);
    LeakTracker tracker(kThreshold, {}, policy);
    tracker.on_transition(enter(7, kT0));
    std::uint64_t t = kT0 + 5 * kSec;
    SocketHolder gone = holder(7, kServer, "server", 9);
    gone.state = kTcpLastAck; // left CLOSE_WAIT: does not count as holding it

    ScanResult result = scan(tracker, {gone, holder(8, kServer, "server", 10)}, t);
    CHECK(result.leaks.empty());
    CHECK(result.adopted == 1); // 8, young: its entry event must have been lost
    CHECK(result.unheld == 1);
    CHECK(tracker.unheld_now() == 1);
    CHECK(tracker.next_deadline() == t + 100 * kMs); // no tight loop
    for (const std::uint64_t delay : {100, 200, 400, 400, 400}) {
        t = tracker.next_deadline();
        CHECK(scan(tracker, {}, t).leaks.empty());
        CHECK(tracker.next_deadline() == t + std::min<std::uint64_t>(2 * delay, 400) * kMs);
    }
    CHECK(tracker.tracked() == 2);
    CHECK(tracker.ever_unheld() == 1);
}

TEST_CASE("a socket accepted (or received over a unix socket) after the threshold is still a leak") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0, 0)); // not accepted yet: no owner
    CHECK(scan(tracker, {}, kT0 + 5 * kSec).unheld == 1);
    // 2.5 s past the threshold a handler accepts it and keeps it.
    const Leak leak = only_leak(scan(tracker, {holder(7, kServer, "server", 9)}, kT0 + 7500 * kMs));
    CHECK(leak.reported_mono_ns == kT0 + 7500 * kMs);
    CHECK(leak.entered_mono_ns == kT0);
    CHECK(leak.pid == kServer);
    CHECK(leak.verdict == Verdict::NeverClosed);
    CHECK(tracker.unheld_now() == 0);
    CHECK(tracker.ever_unheld() == 1);
}

TEST_CASE("a scan before the threshold reports nothing and keeps the deadline") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    CHECK(scan(tracker, {holder(7, kServer, "server", 9)}, kT0 + kSec).leaks.empty());
    CHECK(tracker.next_deadline() == kT0 + 5 * kSec);
    CHECK(tracker.unheld_now() == 0);
}

// ---------------------------------------------------------------- lost events

TEST_CASE("a socket whose entry event was lost is found by the next scan, with its owner if remembered") {
    LeakTracker tracker(kThreshold);
    const auto owners = [](std::uint64_t cookie) -> std::optional<SocketOwner> {
        if (cookie == 7)
            return SocketOwner{kServer, make_comm("server")};
        return std::nullopt;
    };
    const ScanResult result =
        scan(tracker, {aged(holder(7, kServer, "server", 9), kT0, 6 * kSec), aged(holder(8, kChild, "worker", 4), kT0, kSec)},
             kT0 + kMs, false, owners);
    CHECK(result.adopted == 2);
    const Leak leak = only_leak(result);
    CHECK(leak.cookie == 7);
    CHECK(leak.seen_by == SeenBy::SocketTable);
    CHECK_FALSE(leak.since_start);
    CHECK(leak.entered_mono_ns == kT0 - 6 * kSec);
    CHECK(leak.owner_pid == kServer);
    CHECK(leak.verdict == Verdict::Held);
    // The other one is past the threshold four seconds later.
    CHECK(tracker.next_deadline() == kT0 + 4 * kSec);
    const Leak second = only_leak(scan(tracker, {aged(holder(8, kChild, "worker", 4), kT0 + 4 * kSec, 5 * kSec)},
                                       kT0 + 4 * kSec, false, owners));
    CHECK(second.cookie == 8);
    CHECK_FALSE(second.owner_pid.has_value());
}

TEST_CASE("after lost events a verdict cannot say never closed, unless a release was seen") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    tracker.on_transition(enter(8, kT0));
    tracker.on_fd_release(release(8, kT0 + kSec, kServer, "server", 5));
    tracker.on_events_lost(kT0 + 2 * kSec);
    tracker.on_transition(enter(9, kT0 + 3 * kSec)); // entered after the loss: watched whole
    const ScanResult result = scan(tracker,
                                   {holder(7, kServer, "server", 9), holder(8, kChild, "worker", 5),
                                    holder(9, kServer, "server", 11)},
                                   kT0 + 9 * kSec);
    REQUIRE(result.leaks.size() == 3);
    for (const Leak& leak : result.leaks) {
        if (leak.cookie == 7)
            CHECK(leak.verdict == Verdict::Held);
        else if (leak.cookie == 8)
            CHECK(leak.verdict == Verdict::ClosedStillReferenced);
        else
            CHECK(leak.verdict == Verdict::NeverClosed);
    }
}

TEST_CASE("a socket read by a scan just before it left CLOSE_WAIT is not adopted back") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    tracker.begin_scan();
    // The kernel reads 7 and 8 in CLOSE_WAIT (8's entry record is still in
    // the ring buffer); both leave before the ring buffer is drained behind
    // the scan.
    const std::vector<SocketHolder> read{holder(7, kServer, "server", 9), holder(8, kServer, "server", 10)};
    CHECK_FALSE(tracker.on_transition(leave(7, kT0 + kSec, kTcpLastAck, true)).has_value());
    tracker.on_transition(enter(8, kT0 + kSec));
    CHECK_FALSE(tracker.on_transition(leave(8, kT0 + 2 * kSec, kTcpLastAck, true)).has_value());
    const ScanResult result = tracker.on_scan(read, kT0 + 2 * kSec + kMs);
    CHECK(result.adopted == 0);
    CHECK(result.leaks.empty());
    CHECK(tracker.tracked() == 0);
    // The next scan starts afresh.
    CHECK(scan(tracker, {aged(holder(9, kServer, "server", 11), kT0, 0)}, kT0 + 3 * kSec).adopted == 1);
}

TEST_CASE("tracked sockets the kernel no longer has: forgotten, reported ones resolved as unknown") {
    LeakTracker tracker(kThreshold);
    tracker.on_transition(enter(7, kT0));
    tracker.on_transition(enter(8, kT0 + kSec));
    REQUIRE(scan(tracker, {holder(7, kServer, "server", 9)}, kT0 + 5 * kSec).leaks.size() == 1);
    const auto unseen = tracker.unseen_since(kT0 + 5 * kSec);
    REQUIRE(unseen.size() == 1);
    CHECK(unseen[0].cookie == 8);
    CHECK(unseen[0].netns == 4026531840u);
    CHECK(unseen[0].state == kTcpCloseWait);

    const std::vector<std::uint64_t> gone{7, 8, 99};
    const auto resolved = tracker.on_vanished(gone, kT0 + 20 * kSec);
    REQUIRE(resolved.size() == 1);
    CHECK(resolved[0].leak.cookie == 7);
    CHECK(resolved[0].how == ResolvedHow::Unknown);
    CHECK_FALSE(resolved[0].by_pid.has_value());
    CHECK(resolved[0].in_state_ns == 20 * kSec);
    CHECK(tracker.tracked() == 0);
    CHECK(tracker.resolved_total() == 1);
}

// ---------------------------------------------------------------- filters

TEST_CASE("a pid filter matches a holder that is not the owner") {
    LeakTracker tracker(kThreshold, LeakFilter{{kChild}, std::nullopt});
    tracker.on_transition(enter(7, kT0));
    tracker.on_transition(enter(8, kT0));
    const std::vector<SocketHolder> found{holder(7, kServer, "server", 9), holder(7, kChild, "worker", 4),
                                          holder(8, kServer, "server", 10)};
    const Leak leak = only_leak(scan(tracker, found, kT0 + 5 * kSec));
    CHECK(leak.cookie == 7);
    CHECK(leak.pid == kServer); // still attributed to the owner, who holds it
    CHECK(leak.holders.size() == 2);

    // Socket 8: owner and holder fail the filter: tracked quietly, never due again.
    CHECK(tracker.tracked() == 2);
    CHECK(tracker.next_deadline() == UINT64_MAX);
    CHECK(scan(tracker, found, kT0 + 100 * kSec).leaks.empty());
    CHECK_FALSE(tracker.on_transition(leave(8, kT0 + 200 * kSec, kTcpLastAck, true)).has_value());
    CHECK(tracker.reported_total() == 1);
    CHECK(tracker.tracked() == 1);
}

TEST_CASE("a pid filter matches the process that closed a descriptor of it (a forking server's parent)") {
    LeakTracker tracker(kThreshold, LeakFilter{{kServer}, std::nullopt});
    tracker.on_transition(enter(7, kT0, 0)); // the owner forgotten: only closed_by can match
    tracker.on_fd_release(release(7, kT0 + kSec, kServer, "server", 4));
    const Leak leak = only_leak(scan(tracker, {holder(7, kChild, "worker", 4)}, kT0 + 5 * kSec));
    CHECK(leak.pid == kChild);
    REQUIRE(leak.closed_by.has_value());
    CHECK(leak.closed_by->pid == kServer);
}

TEST_CASE("a comm filter matches the owner; a late leak outside the filter is not reported") {
    LeakTracker tracker(kThreshold, LeakFilter{{}, std::string("server")});
    tracker.on_transition(enter(7, kT0));
    CHECK(scan(tracker, {holder(7, kChild, "worker", 4)}, kT0 + 5 * kSec).leaks.size() == 1); // owner "server"

    tracker.on_transition(enter(8, kT0, 555));
    CHECK_FALSE(tracker.on_transition(leave(8, kT0 + 9 * kSec, kTcpLastAck, true, 555, "other")).has_value());
    CHECK(tracker.reported_total() == 1);

    LeakFilter both{{kServer}, std::string("server")};
    CHECK(both.matches(kServer, make_comm("server")));
    CHECK_FALSE(both.matches(kServer, make_comm("worker")));
    CHECK_FALSE(both.matches(kChild, make_comm("server")));
    LeakFilter long_name{{}, std::string("a-very-long-process-name")};
    CHECK(long_name.matches(1, make_comm("a-very-long-pro"))); // what the kernel keeps
}

// ---------------------------------------------------------------- addresses, releases, time

TEST_CASE("IPv6 addresses are carried through, from events and from scans") {
    LeakTracker tracker(kThreshold);
    Transition t = enter(7, kT0);
    t.family = kFamilyIpv6;
    t.saddr = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    t.daddr = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    t.sport = 443;
    t.dport = 40000;
    tracker.on_transition(t);
    SocketHolder h6 = aged(holder(8, kServer, "server", 10), kT0, 10 * kSec);
    h6.family = kFamilyIpv6;
    h6.saddr = t.daddr;
    const ScanResult result = scan(tracker, {holder(7, kServer, "server", 9), h6}, kT0 + 5 * kSec);
    REQUIRE(result.leaks.size() == 2);
    for (const Leak& leak : result.leaks) {
        CHECK(leak.address.family == kFamilyIpv6);
        if (leak.cookie == 7) {
            CHECK(leak.address.saddr == t.saddr);
            CHECK(leak.address.daddr == t.daddr);
            CHECK(leak.address.sport == 443);
            CHECK(leak.address.dport == 40000);
        } else {
            CHECK(leak.address.saddr == t.daddr);
        }
    }
}

TEST_CASE("fd releases for unknown sockets are ignored") {
    LeakTracker tracker(kThreshold);
    tracker.on_fd_release(release(7, kT0, kServer, "server", 5));
    CHECK(tracker.tracked() == 0);
    tracker.on_transition(enter(7, kT0 + kSec));
    const Leak leak = only_leak(scan(tracker, {holder(7, kServer, "server", 9)}, kT0 + 6 * kSec));
    CHECK(leak.verdict == Verdict::NeverClosed);
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
    const ScanResult result =
        scan(tracker, {holder(4, kServer, "server", 9), holder(2, kServer, "server", 8), holder(3, kServer, "server", 7)},
             kT0 + 6 * kSec);
    CHECK(cookies_of(result) == std::vector<std::uint64_t>{2, 4});
    CHECK(tracker.next_deadline() == kT0 + 7 * kSec);
    tracker.on_transition(leave(3, kT0 + 6 * kSec, kTcpLastAck, true));
    CHECK(tracker.next_deadline() == UINT64_MAX);
    CHECK(tracker.tracked() == 2); // the two reported leaks
}

// ---------------------------------------------------------------- floods and churn

TEST_CASE("no bound hides a mass leak: 100,000 sockets in CLOSE_WAIT, every one reported") {
    LeakTracker tracker(kThreshold, LeakFilter{{kChild}, std::nullopt});
    constexpr std::uint64_t kSockets = 100'000;
    std::vector<SocketHolder> found;
    found.reserve(kSockets);
    for (std::uint64_t i = 1; i <= kSockets; ++i) {
        // Another process's flood first, the selected one's sockets last.
        const std::uint32_t pid = i <= kSockets - 100 ? kServer : kChild;
        tracker.on_transition(enter(i, kT0 + i, pid));
        found.push_back(holder(i, pid, pid == kServer ? "server" : "worker", static_cast<std::uint32_t>(i)));
    }
    CHECK(tracker.tracked() == kSockets);
    const ScanResult result = scan(tracker, found, kT0 + 10 * kSec);
    CHECK(result.leaks.size() == 100); // the -p process's, none evicted by the flood
    CHECK(tracker.tracked() == kSockets);

    LeakTracker everything(kThreshold);
    for (std::uint64_t i = 1; i <= kSockets; ++i)
        everything.on_transition(enter(i, kT0 + i));
    CHECK(scan(everything, found, kT0 + 10 * kSec).leaks.size() == kSockets);
    CHECK(everything.reported_total() == kSockets);
}

TEST_CASE("full-speed churn: a million prompt closes cost nothing and leave nothing behind") {
    LeakTracker tracker(kThreshold);
    constexpr std::uint64_t kConnections = 1'000'000;
    constexpr std::uint64_t kStep = 70'000; // 70 us per connection, ~14,000/s
    constexpr std::uint64_t kInFlight = 7;  // each stays ~490 us in CLOSE_WAIT
    Transition in = enter(0, 0);
    Transition out = leave(0, 0, kTcpLastAck, true);
    std::size_t resolved = 0;
    std::size_t max_slots = 0;
    for (std::uint64_t i = 0; i < kConnections + kInFlight; ++i) {
        const std::uint64_t now = kT0 + i * kStep;
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
            CHECK(tracker.next_deadline() > now);
            max_slots = std::max(max_slots, tracker.schedule_slots());
        }
    }
    CHECK(resolved == 0);
    CHECK(tracker.tracked() == 0);
    CHECK(tracker.schedule_slots() == 0);
    CHECK(max_slots <= kInFlight + 1);
    CHECK(tracker.next_deadline() == UINT64_MAX);
    CHECK(tracker.reported_total() == 0);
}

TEST_CASE("one long-waiting socket does not let stale schedule slots pile up") {
    LeakTracker tracker(std::chrono::seconds(3600));
    tracker.on_transition(enter(1, kT0)); // stays in CLOSE_WAIT: blocks the queue front
    for (std::uint64_t i = 0; i < 100'000; ++i) {
        tracker.on_transition(enter(i + 2, kT0 + i * 1000));
        tracker.on_transition(leave(i + 2, kT0 + i * 1000 + 500, kTcpLastAck, true));
    }
    CHECK(tracker.tracked() == 1);
    CHECK(tracker.schedule_slots() <= 2 * tracker.tracked() + 1024 + 1);
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
        if (i % 20'000 == 0)
            REQUIRE(tracker.tracked() == expected.size());
    }
    // Every socket still in CLOSE_WAIT is due, and found by one scan.
    std::vector<SocketHolder> found;
    for (const std::uint64_t cookie : expected)
        found.push_back(holder(cookie, kServer, "server", static_cast<std::uint32_t>(cookie)));
    const ScanResult result = scan(tracker, found, now + 2 * 3600 * kSec);
    const std::vector<std::uint64_t> reported = cookies_of(result);
    CHECK(std::set<std::uint64_t>(reported.begin(), reported.end()) == expected);
    CHECK(reported.size() == expected.size());
    for (const std::uint64_t cookie : std::set<std::uint64_t>(expected))
        tracker.on_transition(leave(cookie, now + 3 * 3600 * kSec, kTcpLastAck, true));
    CHECK(tracker.tracked() == 0);
    CHECK(tracker.next_deadline() == UINT64_MAX);
    CHECK(tracker.schedule_slots() == 0);
}

// A tracker watching FIN_WAIT2 that has seen socket 7 enter it (FIN_WAIT1
// -> FIN_WAIT2) at kT0, held or not.
LeakTracker& watching_fin_wait2(LeakTracker& tracker, bool held) {
    Transition half_closed = enter(7, kT0);
    half_closed.old_state = kTcpFinWait1;
    half_closed.new_state = kTcpFinWait2;
    half_closed.has_file = held;
    CHECK_FALSE(tracker.on_transition(half_closed).has_value());
    return tracker;
}

// FIN_WAIT2 -> CLOSE with no file left: tcp_close() orphaned it and handed it
// to a time-wait socket in FIN_WAIT2 (or an orphan's end).
Transition handed_to_time_wait(std::uint64_t mono_ns, std::uint32_t ctx_pid, const char* ctx_comm, bool exiting) {
    Transition t = leave(7, mono_ns, kTcpClose, false, ctx_pid, ctx_comm, exiting);
    t.old_state = kTcpFinWait2;
    t.has_file = false;
    return t;
}

LeakTrackerPolicy fin_wait2_policy() {
    LeakTrackerPolicy policy;
    policy.states = 1U << kTcpFinWait2;
    return policy;
}

TEST_CASE("a held FIN_WAIT2 leak ends when its holder exits, though the socket lives on as an orphan") {
    LeakTracker tracker(kThreshold, {}, fin_wait2_policy());
    watching_fin_wait2(tracker, true);
    SocketHolder held = holder(7, kServer, "server", 9);
    held.state = kTcpFinWait2;
    const Leak leak = only_leak(scan(tracker, {held}, kT0 + 5 * kSec));
    CHECK(leak.verdict == Verdict::NeverClosed);

    // At exit the exiting task is on the CPU.
    const auto resolved = tracker.on_transition(handed_to_time_wait(kT0 + 8 * kSec, kServer, "server", true));
    REQUIRE(resolved.has_value());
    CHECK(resolved->how == ResolvedHow::Exit);
    CHECK(resolved->by_pid == kServer);
    CHECK(resolved->to_state == kTcpClose);
    CHECK(resolved->in_state_ns == 8 * kSec);
    CHECK(tracker.active().empty());
    CHECK(tracker.resolved_total() == 1);

    // The time-wait socket that took its place keeps the cookie: not a new
    // orphan to report; forgotten once the tables no longer have it.
    TcpSocket time_wait;
    time_wait.cookie = 7;
    time_wait.state = kTcpFinWait2;
    time_wait.time_wait = true;
    time_wait.orphan = true;
    time_wait.netns = 4026531840u;
    const std::vector<TcpSocket> still{time_wait};
    TcpTables tables;
    tables.add(time_wait.netns, still);
    tracker.begin_scan();
    const ScanResult later = tracker.on_scan({}, kT0 + 20 * kSec, false, {}, &tables);
    CHECK(later.leaks.empty());
    CHECK(later.resolved.empty());
    tracker.begin_scan();
    TcpTables gone;
    gone.add(time_wait.netns, std::span<const TcpSocket>{});
    CHECK(tracker.on_scan({}, kT0 + 80 * kSec, false, {}, &gone).resolved.empty());
    CHECK(tracker.tracked() == 0);
}

TEST_CASE("a held FIN_WAIT2 leak ended by a timer (no holder on the CPU) names no closer") {
    LeakTracker tracker(kThreshold, {}, fin_wait2_policy());
    watching_fin_wait2(tracker, true);
    SocketHolder held = holder(7, kServer, "server", 9);
    held.state = kTcpFinWait2;
    only_leak(scan(tracker, {held}, kT0 + 5 * kSec));
    const auto resolved = tracker.on_transition(handed_to_time_wait(kT0 + 70 * kSec, 0, "swapper/0", false));
    REQUIRE(resolved.has_value());
    CHECK(resolved->how == ResolvedHow::StateChange);
    CHECK_FALSE(resolved->by_pid.has_value());
}

TEST_CASE("an orphaned FIN_WAIT2 handed to a time-wait socket stays tracked, unresolved") {
    LeakTracker tracker(kThreshold, {}, fin_wait2_policy());
    watching_fin_wait2(tracker, false);
    CHECK_FALSE(tracker.on_transition(handed_to_time_wait(kT0 + 1 * kSec, kClient, "client", false)).has_value());
    CHECK(tracker.tracked() == 1);
}
