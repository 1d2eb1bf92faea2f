#include "tcpleak/core/records.hpp"
#include "tcpleak/kernel/decode.hpp"
#include "tcpleak/core/tcp_state.hpp"
#include "support/raw_records.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <string_view>
#include <vector>

using namespace tcpleak;
using tcpleak::test::blank;
using tcpleak::test::bytes_of;

namespace {

// raw as Out; the test stops if it does not decode.
template <typename Out, typename Raw>
Out decoded(const Raw& raw) {
    Out out;
    REQUIRE(decode(bytes_of(raw), out));
    return out;
}

// The process and descriptor of the records that name one.
template <typename Raw>
void set_holder(Raw& raw, std::uint32_t pid, std::uint32_t fd, std::string_view comm) {
    raw.pid = pid;
    raw.fd = fd;
    REQUIRE(comm.size() < sizeof(raw.comm));
    std::memcpy(raw.comm, comm.data(), comm.size());
}

template <typename Out>
void check_holder(const Out& out, std::uint32_t pid, std::uint32_t fd, std::string_view comm) {
    CHECK(out.pid == pid);
    CHECK(out.fd == fd);
    CHECK(comm_view(out.comm) == comm);
}

} // namespace

TEST_CASE("a transition record decodes field by field") {
    auto raw = blank<tl_transition>(TL_REC_TRANSITION);
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

    const auto t = decoded<Transition>(raw);
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
    auto raw = blank<tl_transition>(TL_REC_TRANSITION);
    raw.old_state = 7;
    raw.new_state = 2;
    raw.flags = TL_F_OWNER_CONTEXT | TL_F_CONTEXT_ONLY;
    raw.ctx_pid = 77;
    raw.ctx_cgroup = 5;
    std::memcpy(raw.ctx_comm, "worker-3", 9);
    std::memcpy(raw.owner_comm, "server", 7);
    const auto t = decoded<Transition>(raw);
    CHECK(t.owner_context);
    CHECK(t.context_only);
    CHECK(comm_view(t.ctx_process_comm) == "server");
    CHECK(comm_view(t.ctx_comm) == "worker-3");
    CHECK(t.ctx_cgroup == 5);
}

TEST_CASE("an accept record decodes") {
    auto raw = blank<tl_accept>(TL_REC_ACCEPT);
    set_holder(raw, 12, 7, "nginx");
    raw.ts_ns = 3;
    raw.cookie = 99;
    raw.cgroup = 4;
    const auto a = decoded<Accept>(raw);
    check_holder(a, 12, 7, "nginx");
    CHECK(a.cookie == 99);
    CHECK(a.cgroup == 4);
    CHECK(record_kind(bytes_of(raw)) == RecordKind::Accept);
    Transition t;
    CHECK_FALSE(decode(bytes_of(raw), t));
}

TEST_CASE("short or mismatched records are rejected") {
    const auto raw = blank<tl_transition>(TL_REC_TRANSITION);
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
    auto release = blank<tl_fd_release>(TL_REC_FD_RELEASE);
    release.via = TL_RELEASE_DUP2;
    set_holder(release, 10, 4, "parent");
    release.cookie = 77;
    release.state = 1;
    const auto r = decoded<FdRelease>(release);
    CHECK(r.via == ReleaseVia::Dup2);
    CHECK(release_via_name(r.via) == "dup2");
    check_holder(r, 10, 4, "parent");
    CHECK(r.cookie == 77);

    auto proc = blank<tl_proc>(TL_REC_PROC);
    proc.event = TL_PROC_EXEC;
    proc.pid = 5;
    proc.ppid = 4;
    const char args[] = "sh\0-c\0exit 7";
    std::memcpy(proc.args, args, sizeof(args) - 1);
    proc.args_len = sizeof(args) - 1;
    const auto p = decoded<ProcEvent>(proc);
    CHECK(p.kind == ProcEventKind::Exec);
    CHECK(p.args == std::string("sh\0-c\0exit 7", 12));

    auto sock = blank<tl_socket>(TL_REC_SOCKET);
    sock.state = 8;
    sock.flags = TL_SOCK_AGE_KNOWN;
    sock.cw_age_ns = 5'000'000'000;
    set_holder(sock, 3, 9, "");
    const auto s = decoded<SocketHolder>(sock);
    CHECK(s.close_wait_age_ns == 5'000'000'000u);
    check_holder(s, 3, 9, "");
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
