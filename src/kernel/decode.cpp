#include "tcpleak/kernel/decode.hpp"

#include <linux/types.h>

#include <algorithm>
#include <cstring>

extern "C" {
#include "tcpleak.h"
}

namespace tcpleak {

static_assert(sizeof(tl_transition) == 120, "tl_transition layout changed: update both sides");
static_assert(sizeof(tl_accept) == 56, "tl_accept layout changed: update both sides");
static_assert(sizeof(tl_fd_release) == 48, "tl_fd_release layout changed: update both sides");
static_assert(sizeof(tl_proc) == 296, "tl_proc layout changed: update both sides");
static_assert(sizeof(tl_socket) == 112, "tl_socket layout changed: update both sides");
static_assert(sizeof(tl_tcp_socket) == 104, "tl_tcp_socket layout changed: update both sides");
static_assert(sizeof(Comm) == TL_COMM_LEN);
static_assert(offsetof(tl_transition, kind) == 0 && offsetof(tl_fd_release, kind) == 0 &&
              offsetof(tl_proc, kind) == 0 && offsetof(tl_socket, kind) == 0 && offsetof(tl_accept, kind) == 0);
static_assert(kFamilyIpv4 == 2 && kFamilyIpv6 == 10);

// The C++ enums carry the kernel's values: decoding is a cast.
static_assert(static_cast<int>(RecordKind::Transition) == TL_REC_TRANSITION &&
              static_cast<int>(RecordKind::FdRelease) == TL_REC_FD_RELEASE &&
              static_cast<int>(RecordKind::Proc) == TL_REC_PROC && static_cast<int>(RecordKind::Socket) == TL_REC_SOCKET &&
              static_cast<int>(RecordKind::Accept) == TL_REC_ACCEPT &&
              static_cast<int>(RecordKind::TcpSocket) == TL_REC_TCP_SOCKET);
static_assert(static_cast<int>(ReleaseVia::Close) == TL_RELEASE_CLOSE &&
              static_cast<int>(ReleaseVia::CloseRange) == TL_RELEASE_CLOSE_RANGE &&
              static_cast<int>(ReleaseVia::Dup2) == TL_RELEASE_DUP2 &&
              static_cast<int>(ReleaseVia::Dup3) == TL_RELEASE_DUP3 && static_cast<int>(ReleaseVia::Exit) == TL_RELEASE_EXIT &&
              static_cast<int>(ReleaseVia::Exec) == TL_RELEASE_EXEC);
static_assert(static_cast<int>(TcpTimer::None) == TL_TIMER_NONE &&
              static_cast<int>(TcpTimer::Retransmit) == TL_TIMER_RETRANSMIT &&
              static_cast<int>(TcpTimer::Probe) == TL_TIMER_PROBE &&
              static_cast<int>(TcpTimer::Keepalive) == TL_TIMER_KEEPALIVE &&
              static_cast<int>(TcpTimer::TimeWait) == TL_TIMER_TIME_WAIT &&
              static_cast<int>(TcpTimer::SynAck) == TL_TIMER_SYNACK);
static_assert(static_cast<int>(ProcEventKind::Fork) == TL_PROC_FORK &&
              static_cast<int>(ProcEventKind::Exec) == TL_PROC_EXEC && static_cast<int>(ProcEventKind::Exit) == TL_PROC_EXIT);

std::optional<RecordKind> record_kind(std::span<const std::byte> raw) {
    if (raw.empty())
        return std::nullopt;
    return static_cast<RecordKind>(raw[0]);
}

namespace {

using Bytes = std::span<const std::byte>;

template <std::size_t N>
Comm to_comm(const char (&src)[N]) {
    static_assert(N == TL_COMM_LEN);
    Comm comm;
    std::memcpy(comm.data(), src, N);
    return comm;
}

std::array<std::uint8_t, 16> to_addr(const __u8 (&src)[16]) {
    std::array<std::uint8_t, 16> addr;
    std::memcpy(addr.data(), src, 16);
    return addr;
}

// A value the kernel may not know: it says so with a flag.
std::optional<std::uint64_t> known_if(bool known, std::uint64_t value) {
    return known ? std::optional<std::uint64_t>(value) : std::nullopt;
}

// The socket and its connection, alike in every socket record.
template <typename Raw, typename Out>
void copy_connection(const Raw& r, Out& out) {
    out.cookie = r.cookie;
    out.family = r.family;
    out.sport = r.sport;
    out.dport = r.dport;
    out.saddr = to_addr(r.saddr);
    out.daddr = to_addr(r.daddr);
}

// The process holding a descriptor of the socket, and the descriptor.
template <typename Raw, typename Out>
void copy_holder(const Raw& r, Out& out) {
    out.pid = r.pid;
    out.fd = r.fd;
    out.comm = to_comm(r.comm);
}

void fill(const tl_transition& r, Transition& out) {
    out = Transition{};
    out.mono_ns = r.ts_ns;
    copy_connection(r, out);
    out.old_state = r.old_state;
    out.new_state = r.new_state;
    out.ctx_pid = r.ctx_pid;
    out.ctx_comm = to_comm(r.ctx_comm);
    out.owner_context = r.flags & TL_F_OWNER_CONTEXT;
    out.ctx_process_comm = to_comm(r.owner_comm);
    if (r.flags & TL_F_OWNER_KNOWN) {
        out.known_owner_pid = r.owner_pid;
        out.known_owner_comm = to_comm(r.owner_comm);
    }
    out.listener_shared = r.flags & TL_F_LISTENER_SHARED;
    out.ctx_cgroup = r.ctx_cgroup;
    out.context_only = r.flags & TL_F_CONTEXT_ONLY;
    out.uid = r.uid;
    out.netns = r.netns;
    out.rx_queue = r.rx_queue;
    out.task_exiting = r.flags & TL_F_TASK_EXITING;
    out.has_file = r.flags & TL_F_HAS_FILE;
    out.file_released = r.flags & TL_F_FILE_RELEASED;
}

void fill(const tl_accept& r, Accept& out) {
    out.mono_ns = r.ts_ns;
    out.cookie = r.cookie;
    copy_holder(r, out);
    out.cgroup = r.cgroup;
}

void fill(const tl_fd_release& r, FdRelease& out) {
    out.mono_ns = r.ts_ns;
    out.cookie = r.cookie;
    copy_holder(r, out);
    out.other_refs = r.other_refs;
    out.state = r.state;
    out.via = static_cast<ReleaseVia>(r.via);
}

void fill(const tl_proc& r, ProcEvent& out) {
    out.kind = static_cast<ProcEventKind>(r.event);
    out.mono_ns = r.ts_ns;
    out.pid = r.pid;
    out.ppid = r.ppid;
    out.exit_status = r.exit_code;
    out.comm = to_comm(r.comm);
    out.args.assign(r.args, std::min<std::size_t>(r.args_len, TL_ARGS_LEN));
}

void fill(const tl_socket& r, SocketHolder& out) {
    copy_connection(r, out);
    out.state = r.state;
    copy_holder(r, out);
    out.cgroup = r.cgroup;
    out.rx_queue = r.rx_queue;
    out.uid = r.uid;
    out.netns = r.netns;
    out.close_wait_age_ns = known_if(r.flags & TL_SOCK_AGE_KNOWN, r.cw_age_ns);
    out.read_mono_ns = r.read_ns;
}

void fill(const tl_tcp_socket& r, TcpSocket& out) {
    copy_connection(r, out);
    out.state = r.state;
    out.orphan = r.flags & TL_TCP_ORPHAN;
    out.time_wait = r.flags & TL_TCP_TIME_WAIT;
    out.request = r.flags & TL_TCP_REQUEST;
    out.netns = r.netns;
    out.uid = r.uid;
    out.rx_queue = r.rx_queue;
    out.tx_queue = r.tx_queue;
    out.snd_wnd = r.snd_wnd;
    out.total_retrans = r.total_retrans;
    out.timer = r.timer <= TL_TIMER_SYNACK ? static_cast<TcpTimer>(r.timer) : TcpTimer::None;
    out.timer_left_ms = r.timer_left_ms;
    out.retransmits = r.retransmits;
    out.probes_out = r.probes_out;
    out.backoff = r.backoff;
    out.read_mono_ns = r.read_ns;
    out.age_ns = known_if(r.flags & TL_TCP_AGE_KNOWN, r.age_ns);
}

// Copies a raw record into its C layout, then out from that; false if it is
// short or of another kind.
template <typename Raw, typename Out>
bool decode_as(Bytes raw, std::uint8_t kind, Out& out) {
    if (raw.size() < sizeof(Raw) || static_cast<std::uint8_t>(raw[0]) != kind)
        return false;
    Raw r;
    std::memcpy(&r, raw.data(), sizeof(Raw));
    fill(r, out);
    return true;
}

} // namespace

bool decode(Bytes raw, Transition& out) { return decode_as<tl_transition>(raw, TL_REC_TRANSITION, out); }
bool decode(Bytes raw, Accept& out) { return decode_as<tl_accept>(raw, TL_REC_ACCEPT, out); }
bool decode(Bytes raw, FdRelease& out) { return decode_as<tl_fd_release>(raw, TL_REC_FD_RELEASE, out); }
bool decode(Bytes raw, ProcEvent& out) { return decode_as<tl_proc>(raw, TL_REC_PROC, out); }
bool decode(Bytes raw, SocketHolder& out) { return decode_as<tl_socket>(raw, TL_REC_SOCKET, out); }
bool decode(Bytes raw, TcpSocket& out) { return decode_as<tl_tcp_socket>(raw, TL_REC_TCP_SOCKET, out); }

std::size_t socket_record_size() { return sizeof(tl_socket); }
std::size_t tcp_socket_record_size() { return sizeof(tl_tcp_socket); }

} // namespace tcpleak
