#include "tcpleak/core/records.hpp"
#include "tcpleak/kernel/decode.hpp"
#include "tcpleak/core/tcp_state.hpp"

#include <doctest/doctest.h>
#include <linux/types.h>

#include <cstring>
#include <vector>

extern "C" {
#include "tcpleak.h"
}

using namespace tcpleak;

namespace {
template <typename Raw>
std::span<const std::byte> bytes_of(const Raw& raw) {
    return {reinterpret_cast<const std::byte*>(&raw), sizeof(raw)};
}
} // namespace

TEST_CASE("a transition record decodes field by field") {
    tl_transition raw{};
    raw.kind = TL_REC_TRANSITION;
    raw.family = 10;
    raw.old_state = 8;
    raw.new_state = 9;
    raw.flags = TL_F_HAS_FILE | TL_F_TASK_EXITING;
    raw.sport = 8080;
    raw.dport = 50000;
    raw.ctx_pid = 4321;
    raw.uid = 1000;
    raw.netns = 4026531840u;
    raw.rx_queue = 17;
    raw.ts_ns = 99;
    raw.cookie = 4101;
    raw.saddr[15] = 1;
    raw.daddr[15] = 1;
    std::memcpy(raw.ctx_comm, "client", 7);

    Transition t;
    REQUIRE(decode(bytes_of(raw), t));
    CHECK(t.family == kFamilyIpv6);
    CHECK(t.old_state == kTcpCloseWait);
    CHECK(t.new_state == kTcpLastAck);
    CHECK(t.ctx_pid == 4321);
    CHECK(comm_view(t.ctx_comm) == "client");
    CHECK(t.has_file);
    CHECK(t.task_exiting);
    CHECK_FALSE(t.file_released);
    CHECK_FALSE(t.owner_context);
    CHECK_FALSE(t.context_only);
    CHECK(t.cookie == 4101);
    CHECK(t.mono_ns == 99);
    CHECK(t.sport == 8080);
    CHECK(t.dport == 50000);
    CHECK(t.saddr[15] == 1);
    CHECK(t.daddr[15] == 1);
    CHECK(t.uid == 1000);
    CHECK(t.rx_queue == 17);
    CHECK(t.netns == 4026531840u);
    // No owner flag: none sent (trace's Attributor decides; leaks' kernel LRU had none).
    CHECK_FALSE(t.owner_context);
    CHECK_FALSE(t.known_owner_pid.has_value());
}

TEST_CASE("an owner-context transition carries the process name and cgroup") {
    tl_transition raw{};
    raw.kind = TL_REC_TRANSITION;
    raw.old_state = 7;
    raw.new_state = 2;
    raw.flags = TL_F_OWNER_CONTEXT | TL_F_CONTEXT_ONLY;
    raw.ctx_pid = 77;
    raw.ctx_cgroup = 5;
    std::memcpy(raw.ctx_comm, "worker-3", 9);
    std::memcpy(raw.owner_comm, "server", 7);
    Transition t;
    REQUIRE(decode(bytes_of(raw), t));
    CHECK(t.owner_context);
    CHECK(t.context_only);
    CHECK(comm_view(t.ctx_process_comm) == "server");
    CHECK(comm_view(t.ctx_comm) == "worker-3");
    CHECK(t.ctx_cgroup == 5);
}

TEST_CASE("an accept record decodes") {
    tl_accept raw{};
    raw.kind = TL_REC_ACCEPT;
    raw.pid = 12;
    raw.fd = 7;
    raw.ts_ns = 3;
    raw.cookie = 99;
    raw.cgroup = 4;
    std::memcpy(raw.comm, "nginx", 6);
    Accept a;
    REQUIRE(decode(bytes_of(raw), a));
    CHECK(a.pid == 12);
    CHECK(a.fd == 7);
    CHECK(a.cookie == 99);
    CHECK(a.cgroup == 4);
    CHECK(comm_view(a.comm) == "nginx");
    CHECK(record_kind(bytes_of(raw)) == RecordKind::Accept);
    Transition t;
    CHECK_FALSE(decode(bytes_of(raw), t));
}

TEST_CASE("short or mismatched records are rejected") {
    tl_transition raw{};
    raw.kind = TL_REC_TRANSITION;
    Transition t;
    CHECK_FALSE(decode(bytes_of(raw).first(sizeof(raw) - 1), t));
    FdRelease release;
    CHECK_FALSE(decode(bytes_of(raw), release));
    CHECK(record_kind(bytes_of(raw)) == RecordKind::Transition);
    CHECK_FALSE(record_kind({}).has_value());
}

TEST_CASE("a comm that fills all 16 bytes is not read past its end") {
    Comm comm;
    std::memset(comm.data(), 'x', comm.size());
    CHECK(comm_view(comm).size() == 16);
    CHECK(comm_view(make_comm("nginx")) == "nginx");
    CHECK(comm_view(make_comm("a-very-long-process-name")).size() == 16);
}

TEST_CASE("fd release, process and socket records decode") {
    tl_fd_release release{};
    release.kind = TL_REC_FD_RELEASE;
    release.via = TL_RELEASE_DUP2;
    release.pid = 10;
    release.fd = 4;
    release.cookie = 77;
    release.state = 1;
    std::memcpy(release.comm, "parent", 7);
    FdRelease r;
    REQUIRE(decode(bytes_of(release), r));
    CHECK(r.via == ReleaseVia::Dup2);
    CHECK(release_via_name(r.via) == "dup2");
    CHECK(r.pid == 10);
    CHECK(r.fd == 4);
    CHECK(r.cookie == 77);
    CHECK(comm_view(r.comm) == "parent");

    tl_proc proc{};
    proc.kind = TL_REC_PROC;
    proc.event = TL_PROC_EXEC;
    proc.pid = 5;
    proc.ppid = 4;
    const char args[] = "sh\0-c\0exit 7";
    std::memcpy(proc.args, args, sizeof(args) - 1);
    proc.args_len = sizeof(args) - 1;
    ProcEvent p;
    REQUIRE(decode(bytes_of(proc), p));
    CHECK(p.kind == ProcEventKind::Exec);
    CHECK(p.args == std::string("sh\0-c\0exit 7", 12));

    tl_socket sock{};
    sock.kind = TL_REC_SOCKET;
    sock.state = 8;
    sock.flags = TL_SOCK_AGE_KNOWN;
    sock.cw_age_ns = 5'000'000'000;
    sock.pid = 3;
    sock.fd = 9;
    SocketHolder s;
    REQUIRE(decode(bytes_of(sock), s));
    CHECK(s.close_wait_age_ns == 5'000'000'000u);
    CHECK(s.fd == 9);
    CHECK(socket_record_size() == sizeof(tl_socket));
}

TEST_CASE("state names follow the kernel, numbers beyond are left to the caller") {
    CHECK(tcp_state_name(kTcpEstablished) == "ESTABLISHED");
    CHECK(tcp_state_name(kTcpCloseWait) == "CLOSE_WAIT");
    CHECK(tcp_state_name(kTcpNewSynRecv) == "NEW_SYN_RECV");
    CHECK(tcp_state_name(13).empty());
    CHECK(tcp_state_name(0).empty());
    CHECK(parse_tcp_state("close-wait") == kTcpCloseWait);
    CHECK(parse_tcp_state("CLOSE_WAIT") == kTcpCloseWait);
    CHECK(parse_tcp_state("Time_Wait") == kTcpTimeWait);
    CHECK(parse_tcp_state("8") == kTcpCloseWait);
    CHECK_FALSE(parse_tcp_state("16").has_value());
    CHECK_FALSE(parse_tcp_state("open").has_value());
    CHECK_FALSE(parse_tcp_state("").has_value());
}

TEST_CASE("states the state-change tracepoint never reports are named, with why") {
    CHECK(never_reported_because(kTcpTimeWait).find("FIN_WAIT2 -> CLOSE") != std::string_view::npos);
    CHECK_FALSE(never_reported_because(kTcpNewSynRecv).empty());
    for (std::uint8_t state = 1; state <= 11; ++state)
        if (state != kTcpTimeWait)
            CHECK(never_reported_because(state).empty());
}
