#include "tcpleak/core/attribution.hpp"
#include "tcpleak/core/tcp_state.hpp"
#include "support/nanoseconds.hpp"

#include <doctest/doctest.h>

#include <optional>

using namespace tcpleak;
using tcpleak::test::kMs;

namespace {

constexpr std::uint32_t kServer = 100;
constexpr std::uint32_t kWorker = 101;
constexpr std::uint32_t kClient = 200;
constexpr std::uint32_t kNetns = 4026531840u;

// A transition as the kernel sends it: no owner, whoever is on the CPU.
Transition change(std::uint64_t cookie, std::uint8_t from, std::uint8_t to, std::uint64_t mono_ns,
                  std::uint32_t on_cpu, std::uint16_t sport = 8080) {
    Transition t;
    t.cookie = cookie;
    t.old_state = from;
    t.new_state = to;
    t.mono_ns = mono_ns;
    t.ctx_pid = on_cpu;
    t.ctx_comm = make_comm(on_cpu == kClient ? "client" : "other");
    t.netns = kNetns;
    t.sport = sport;
    return t;
}

// connect()/listen(): the kernel marks that the task on the CPU is the owner.
Transition in_owner_context(std::uint64_t cookie, std::uint8_t to, std::uint64_t mono_ns, std::uint32_t pid,
                            const char* process, std::uint16_t sport = 8080) {
    Transition t = change(cookie, kTcpClose, to, mono_ns, pid, sport);
    t.owner_context = true;
    t.ctx_comm = make_comm("thread-1");
    t.ctx_process_comm = make_comm(process);
    t.ctx_cgroup = 7;
    return t;
}

// A socket found in a process's descriptor table at start.
SocketHolder held(std::uint64_t cookie, std::uint8_t state, std::uint32_t pid, const char* comm,
                  std::uint16_t sport = 8080) {
    SocketHolder h;
    h.cookie = cookie;
    h.state = state;
    h.netns = kNetns;
    h.sport = sport;
    h.pid = pid;
    h.comm = make_comm(comm);
    return h;
}

Accept accepted(std::uint64_t cookie, std::uint32_t pid, const char* comm) {
    Accept a;
    a.cookie = cookie;
    a.pid = pid;
    a.comm = make_comm(comm);
    a.fd = 5;
    a.cgroup = 9;
    return a;
}

// What the attributor said, in the fields the checks read.
struct Said {
    bool owner_known = false;
    OwnerVia owner_via = OwnerVia::None;
    std::uint32_t owner_pid = 0;
    Comm owner_comm{};
    std::uint64_t owner_cgroup = 0;
    std::optional<std::uint64_t> old_state_ns;
};

Said attribute(Attributor& attributor, const Transition& t) {
    const Attribution a = attributor.attribute(t);
    Said said;
    said.old_state_ns = a.old_state_ns;
    if (a.owner) {
        said.owner_known = true;
        said.owner_via = a.owner->via;
        said.owner_pid = a.owner->pid;
        said.owner_comm = a.owner->comm;
        said.owner_cgroup = a.owner->cgroup;
    }
    return said;
}

} // namespace

TEST_CASE("connect(): the connecting process owns every later transition, whoever is on the CPU") {
    Attributor attributor;
    const Said syn = attribute(attributor, in_owner_context(1, kTcpSynSent, 10 * kMs, kClient, "client"));
    CHECK(syn.owner_known);
    CHECK(syn.owner_via == OwnerVia::Connect);
    CHECK(syn.owner_pid == kClient);
    CHECK(comm_view(syn.owner_comm) == "client"); // the process name, not the thread's
    CHECK(syn.owner_cgroup == 7);
    CHECK_FALSE(syn.old_state_ns.has_value()); // CLOSE began before anything was seen

    // Softirq on the server's CPU: ctx is the server, the owner stays the client.
    const Said established = attribute(attributor, change(1, kTcpSynSent, kTcpEstablished, 11 * kMs, kServer));
    CHECK(established.owner_pid == kClient);
    CHECK(established.owner_via == OwnerVia::Connect);
    CHECK(established.old_state_ns == 1 * kMs);
}

TEST_CASE("a listener's connection is the listener owner's until accepted, then the acceptor's") {
    Attributor attributor;
    const Said listen = attribute(attributor, in_owner_context(1, kTcpListen, 0, kServer, "server"));
    CHECK(listen.owner_via == OwnerVia::Listen);

    // The client's SYN, processed while the client is on the CPU.
    const Said syn_recv = attribute(attributor, change(2, kTcpListen, kTcpSynRecv, 5 * kMs, kClient));
    CHECK(syn_recv.owner_pid == kServer);
    CHECK(syn_recv.owner_via == OwnerVia::Listener);
    CHECK_FALSE(syn_recv.old_state_ns.has_value());

    const Said established = attribute(attributor, change(2, kTcpSynRecv, kTcpEstablished, 6 * kMs, kClient));
    CHECK(established.owner_pid == kServer);

    // A pre-forked worker accepts it.
    attributor.on_accept(accepted(2, kWorker, "worker"));
    const Said close_wait = attribute(attributor, change(2, kTcpEstablished, kTcpCloseWait, 20 * kMs, kClient));
    CHECK(close_wait.owner_pid == kWorker);
    CHECK(comm_view(close_wait.owner_comm) == "worker");
    CHECK(close_wait.owner_via == OwnerVia::Accept);
    CHECK(close_wait.owner_cgroup == 9);
    CHECK(close_wait.old_state_ns == 14 * kMs);
}

TEST_CASE("a socket never seen in its owner's context has no owner, never the on-CPU task") {
    Attributor attributor;
    const Said t = attribute(attributor, change(3, kTcpEstablished, kTcpCloseWait, kMs, kClient));
    CHECK_FALSE(t.owner_known);
    CHECK(t.owner_via == OwnerVia::None);
    CHECK(t.owner_pid == 0);
    CHECK(comm_view(t.owner_comm).empty());
}

TEST_CASE("sockets older than tcpleak: the first holder in the descriptor tables owns them") {
    Attributor attributor;
    SocketHolder first = held(4, kTcpEstablished, kServer, "server");
    first.cgroup = 3;
    SocketHolder inherited = first;
    inherited.pid = kWorker; // a child that inherited the descriptor
    attributor.on_existing_socket(first);
    attributor.on_existing_socket(inherited);

    const Said t = attribute(attributor, change(4, kTcpEstablished, kTcpCloseWait, kMs, kClient));
    CHECK(t.owner_pid == kServer);
    CHECK(t.owner_via == OwnerVia::FdTable);
    CHECK(t.owner_cgroup == 3);
    CHECK_FALSE(t.old_state_ns.has_value()); // when it became ESTABLISHED is unknown
}

TEST_CASE("an existing listener passes its owner on to the connections it receives") {
    Attributor attributor;
    SocketHolder listener = held(5, kTcpListen, kServer, "server", 443);
    listener.family = kFamilyIpv6;
    attributor.on_existing_socket(listener);

    Transition v6 = change(6, kTcpListen, kTcpSynRecv, kMs, kClient, 443);
    v6.family = kFamilyIpv6;
    const Said v6_said = attribute(attributor, v6);
    CHECK(v6_said.owner_pid == kServer);
    CHECK(v6_said.owner_via == OwnerVia::Listener);

    // Same port, other family or other network namespace: another listener.
    const Said v4 = attribute(attributor, change(7, kTcpListen, kTcpSynRecv, kMs, kClient, 443));
    CHECK_FALSE(v4.owner_known);
    Transition elsewhere = change(8, kTcpListen, kTcpSynRecv, kMs, kClient, 443);
    elsewhere.family = kFamilyIpv6;
    elsewhere.netns = kNetns + 1;
    const Said elsewhere_said = attribute(attributor, elsewhere);
    CHECK_FALSE(elsewhere_said.owner_known);
}

TEST_CASE("a hook's owner wins over the descriptor tables seen later") {
    Attributor attributor;
    attribute(attributor, in_owner_context(9, kTcpSynSent, kMs, kClient, "client"));
    attributor.on_existing_socket(held(9, kTcpSynSent, kWorker, "worker"));
    const Said later = attribute(attributor, change(9, kTcpSynSent, kTcpEstablished, 2 * kMs, kServer));
    CHECK(later.owner_pid == kClient);
    CHECK(later.owner_via == OwnerVia::Connect);
}

TEST_CASE("a socket is forgotten at CLOSE, and a closed listener passes nothing on") {
    Attributor attributor;
    attribute(attributor, in_owner_context(1, kTcpListen, 0, kServer, "server"));
    attribute(attributor, in_owner_context(2, kTcpSynSent, 0, kClient, "client", 0));
    CHECK(attributor.size() == 2);

    const Said closed = attribute(attributor, change(2, kTcpSynSent, kTcpClose, kMs, kClient, 0));
    CHECK(closed.owner_pid == kClient); // the last transition still has its owner
    const Said unlisten = attribute(attributor, change(1, kTcpListen, kTcpClose, kMs, kServer));
    CHECK(unlisten.owner_pid == kServer);
    CHECK(attributor.size() == 0);

    const Said late_syn = attribute(attributor, change(3, kTcpListen, kTcpSynRecv, 2 * kMs, kClient));
    CHECK_FALSE(late_syn.owner_known);
}

TEST_CASE("SO_REUSEPORT: two processes listen on one port, so a new connection's owner waits for accept()") {
    Attributor attributor;
    attribute(attributor, in_owner_context(1, kTcpListen, 0, kServer, "server"));
    attribute(attributor, in_owner_context(2, kTcpListen, 0, kWorker, "worker"));

    // Either listener may have received it: no guess.
    const Said syn_recv = attribute(attributor, change(3, kTcpListen, kTcpSynRecv, kMs, kClient));
    CHECK_FALSE(syn_recv.owner_known);
    attributor.on_accept(accepted(3, kWorker, "worker"));
    const Said close_wait = attribute(attributor, change(3, kTcpEstablished, kTcpCloseWait, 2 * kMs, kClient));
    CHECK(close_wait.owner_pid == kWorker);
    CHECK(close_wait.owner_via == OwnerVia::Accept);

    // One of them closes: the port has one owner again.
    attribute(attributor, change(2, kTcpListen, kTcpClose, 3 * kMs, kWorker));
    const Said next = attribute(attributor, change(4, kTcpListen, kTcpSynRecv, 4 * kMs, kClient));
    CHECK(next.owner_pid == kServer);
    CHECK(next.owner_via == OwnerVia::Listener);
}

TEST_CASE("one process with two listeners on a port (two addresses) still owns what they receive") {
    Attributor attributor;
    attribute(attributor, in_owner_context(1, kTcpListen, 0, kServer, "server"));
    attribute(attributor, in_owner_context(2, kTcpListen, 0, kServer, "server"));
    const Said syn_recv = attribute(attributor, change(3, kTcpListen, kTcpSynRecv, kMs, kClient));
    CHECK(syn_recv.owner_pid == kServer);
}

TEST_CASE("an existing listener held by several processes (pre-fork) is one listener, its first holder's") {
    Attributor attributor;
    attributor.on_existing_socket(held(1, kTcpListen, kServer, "server"));
    attributor.on_existing_socket(held(1, kTcpListen, kWorker, "worker")); // a forked worker, same socket
    const Said syn_recv = attribute(attributor, change(3, kTcpListen, kTcpSynRecv, kMs, kClient));
    CHECK(syn_recv.owner_pid == kServer);
    CHECK(syn_recv.owner_via == OwnerVia::Listener);
}

TEST_CASE("records sent only for context are attributed like the others") {
    Attributor attributor;
    Transition syn = in_owner_context(1, kTcpSynSent, 0, kClient, "client");
    syn.context_only = true; // e.g. --state CLOSE_WAIT hides it
    attribute(attributor, syn);
    Transition established = change(1, kTcpSynSent, kTcpEstablished, 3 * kMs, kServer);
    established.context_only = true;
    attribute(attributor, established);
    const Said close_wait = attribute(attributor, change(1, kTcpEstablished, kTcpCloseWait, 10 * kMs, kServer));
    CHECK(close_wait.owner_pid == kClient);
    CHECK(close_wait.old_state_ns == 7 * kMs); // time in ESTABLISHED, from a hidden record
}

TEST_CASE("the table is bounded: the oldest sockets go first, and are counted") {
    Attributor attributor(2);
    for (std::uint64_t cookie = 1; cookie <= 3; ++cookie) {
        attribute(attributor, in_owner_context(cookie, kTcpSynSent, cookie * kMs, kClient, "client", 0));
    }
    CHECK(attributor.size() == 2);
    CHECK(attributor.evictions() == 1);

    const Said oldest = attribute(attributor, change(1, kTcpSynSent, kTcpEstablished, 9 * kMs, kServer));
    CHECK_FALSE(oldest.owner_known); // forgotten, so unknown rather than guessed
    const Said newest = attribute(attributor, change(3, kTcpSynSent, kTcpEstablished, 9 * kMs, kServer));
    CHECK(newest.owner_pid == kClient);
}

TEST_CASE("under churn the table stays as small as the open sockets") {
    Attributor attributor(1024);
    std::uint64_t mono = 0;
    for (std::uint64_t cookie = 1; cookie <= 100'000; ++cookie) {
        attribute(attributor, in_owner_context(cookie, kTcpSynSent, mono += 1000, kClient, "client", 0));
        attribute(attributor, change(cookie, kTcpSynSent, kTcpEstablished, mono += 1000, kServer));
        const Said closed = attribute(attributor, change(cookie, kTcpEstablished, kTcpClose, mono += 1000, kServer));
        REQUIRE(closed.owner_pid == kClient);
    }
    CHECK(attributor.size() == 0);
    CHECK(attributor.evictions() == 0);
}
