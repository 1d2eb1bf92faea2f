// SPDX-License-Identifier: GPL-2.0
/*
 * tcpleak's kernel side. It keeps no per-socket state on the hot path
 * (socket storage or a hash updated on every transition cost the connection
 * path more than everything else together, measured in docs/performance.md):
 * it forwards what it sees, marks the moments it runs in a socket owner's
 * context, and user space (src/attribution.cpp) ties every transition to
 * its owner.
 *
 *  - tp_btf/inet_sock_set_state: every TCP state change. CLOSE -> SYN_SENT
 *    (connect) and CLOSE -> LISTEN (listen) run in the owner's context.
 *  - syscalls:sys_exit_accept{,4}: who accepted a socket, with the fd (its
 *    next transitions run in softirq, on whatever task is on the CPU).
 *  - syscalls:sys_enter_{close,close_range,dup2,dup3} (leaks/run): a
 *    descriptor of a socket that another descriptor keeps alive went away.
 *    Without tracefs, tp_btf sys_enter/sys_exit do the same for every syscall.
 *  - tp_btf/sched_process_exit (leaks/run): descriptors released by exit.
 *  - tp_btf/sched_process_{fork,exec,exit}: the traced process tree (run).
 *  - iter/task_file: sockets that existed before start, and the holders of
 *    leaked sockets, read from the descriptor tables.
 *
 * Owner filters (-p, -c, run's tree) are applied here with a map of the
 * selected sockets only, so unselected traffic never leaves the kernel.
 * Nothing needs kprobes or fentry; only the syscalls:* tracepoints need
 * tracefs (user space mounts it privately when it is missing).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "tcpleak.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define EEXIST 17
#define PF_EXITING 0x00000004
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#define NSEC_PER_SEC 1000000000ULL
#define MAX_CLOSE_RANGE_FDS (1U << 16)

#if defined(__TARGET_ARCH_x86)
#define SYSCALL_NR(regs) ((long)(regs)->orig_ax)
#define SYSCALL_ARG1(regs) ((regs)->di)
#define SYSCALL_ARG2(regs) ((regs)->si)
#define SYSCALL_ARG3(regs) ((regs)->dx)
#elif defined(__TARGET_ARCH_arm64)
#define SYSCALL_NR(regs) ((long)(regs)->syscallno)
#define SYSCALL_ARG1(regs) ((regs)->orig_x0)
#define SYSCALL_ARG2(regs) ((regs)->regs[1])
#define SYSCALL_ARG3(regs) ((regs)->regs[2])
#else
#error "tcpleak: add the syscall register layout for this architecture"
#endif

/* ---- load-time configuration (set by user space before load) ---- */
const volatile __u8 cfg_mode = TL_MODE_TRACE;
const volatile __u8 cfg_select = 0;       /* forward only sockets of selected owners */
const volatile __u8 cfg_track_owners = 1; /* send what attribution needs (connect, listen, accept, CLOSE) */
const volatile __u8 cfg_filter_pids = 0;  /* a selected owner is in selected_pids */
const volatile __u8 cfg_filter_comm = 0;  /* a selected owner is named cfg_comm */
const volatile char cfg_comm[TL_COMM_LEN] = {};
const volatile __u8 cfg_filter_ports = 0; /* local or remote port in filter_ports */
const volatile __u8 cfg_family = 0;       /* 0: both */
/* trace --state: transitions into or out of these states are printed (0: all);
 * transitions into cfg_timing_states are sent too, so that user space knows
 * when a printed transition's old state began. */
const volatile __u32 cfg_print_states = 0;
const volatile __u32 cfg_timing_states = 0;
const volatile __u32 cfg_wakeup_records = 4096; /* per CPU: force a wakeup every this many */
const volatile long cfg_nr_accept = -1;
const volatile long cfg_nr_accept4 = -1;
const volatile long cfg_nr_close = -1;
const volatile long cfg_nr_close_range = -1;
const volatile long cfg_nr_dup2 = -1;
const volatile long cfg_nr_dup3 = -1;

extern int CONFIG_HZ __kconfig __weak;

/* ---- runtime state set by user space ---- */
__u8 iter_mode = TL_ITER_SEED;

/* ---- maps ---- */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by user space */
} events SEC(".maps");

/* -p PIDs (trace, leaks), or the traced process tree (run). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} selected_pids SEC(".maps");

/* Sockets of selected owners (cfg_select), by cookie, until they close. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} selected_sockets SEC(".maps");

/* Listening sockets of selected owners: the connections they receive are
 * selected too (until accepted by someone unselected). */
struct listener_key {
	__u32 netns;
	__u16 family;
	__u16 port;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct listener_key);
	__type(value, __u8);
} selected_listeners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);
	__type(value, __u8);
} filter_ports SEC(".maps");

/* The first descriptor release of a still-referenced socket, by cookie,
 * until the socket enters CLOSE_WAIT (then it is sent to user space). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct tl_fd_release);
} fd_releases SEC(".maps");

/* Cookies whose holders the next TL_ITER_HOLDERS iteration reports. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} holder_targets SEC(".maps");

/* Per-CPU counters (enum tl_counter), leaks/run's transitions per (old,
 * new) state (index old * 16 + new: not all are forwarded), and the records
 * sent since the last forced wakeup, in one value: one lookup per run. */
struct cpu_counters {
	__u64 values[TL_CNT_MAX];
	__u64 unwoken;
	__u64 transitions[256];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_counters);
} counters SEC(".maps");

/* ---- helpers ---- */

static __always_inline struct cpu_counters *cpu_counters(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&counters, &zero);
}

/* Atomic although per CPU: a softirq may interrupt another program here. */
static __always_inline void count(__u32 which)
{
	struct cpu_counters *c = cpu_counters();

	if (c && which < TL_CNT_MAX)
		__sync_fetch_and_add(&c->values[which], 1);
}

static __always_inline void *reserve(__u64 size)
{
	void *record = bpf_ringbuf_reserve(&events, size, 0);

	if (!record)
		count(TL_CNT_LOST);
	return record;
}

/* Batched wakeups: one per cfg_wakeup_records records per CPU (one per
 * record costs ~20x); user space also polls every 50 ms. */
static __always_inline void submit_counted(void *record, struct cpu_counters *c)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (c) {
		__sync_fetch_and_add(&c->values[TL_CNT_SENT], 1);
		/* A lost update here only shifts a wakeup. */
		if (++c->unwoken >= cfg_wakeup_records) {
			c->unwoken = 0;
			flags = BPF_RB_FORCE_WAKEUP;
		}
	}
	bpf_ringbuf_submit(record, flags);
}

static __always_inline void submit(void *record)
{
	submit_counted(record, cpu_counters());
}

/* The process name (thread-group leader), as ps and ss -p show it. */
static __always_inline void read_process_comm(struct task_struct *task, char *comm)
{
	bpf_probe_read_kernel(comm, TL_COMM_LEN, BPF_CORE_READ(task, group_leader, comm));
}

static __always_inline bool comm_matches(const char *comm)
{
	for (int i = 0; i < TL_COMM_LEN; i++) {
		if (comm[i] != cfg_comm[i])
			return false;
		if (!comm[i])
			return true;
	}
	return true;
}

static __always_inline bool owner_selected(__u32 pid, const char *comm)
{
	if (cfg_filter_pids && !bpf_map_lookup_elem(&selected_pids, &pid))
		return false;
	if (cfg_filter_comm && !comm_matches(comm))
		return false;
	return true;
}

static __always_inline bool current_selected(void)
{
	char comm[TL_COMM_LEN] = {};

	if (cfg_filter_comm)
		read_process_comm(bpf_get_current_task_btf(), comm);
	return owner_selected(bpf_get_current_pid_tgid() >> 32, comm);
}

static __always_inline void select_socket(__u64 cookie)
{
	__u8 yes = 1;

	if (bpf_map_update_elem(&selected_sockets, &cookie, &yes, BPF_ANY))
		count(TL_CNT_SELECTED_FULL);
}

/* Number of references to a file, across the f_count -> f_ref change (6.13). */
struct file___pre_6_13 {
	atomic_long_t f_count;
} __attribute__((preserve_access_index));

static __always_inline long file_refs(struct file *file)
{
	if (bpf_core_field_exists(file->f_ref)) {
		/* file_ref_t stores refs - 1; negative once released. */
		long raw = BPF_CORE_READ(file, f_ref.refcnt.counter);
		return raw < 0 ? 0 : raw + 1;
	}
	return BPF_CORE_READ((struct file___pre_6_13 *)file, f_count.counter);
}

/* The file behind descriptor fd of the current task, or NULL. The pointer is
 * read, not trusted: only CO-RE reads. */
static __always_inline struct file *current_file(long fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **slots;
	struct file *file = NULL;

	if (fd < 0 || !fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	slots = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&file, sizeof(file), &slots[fd]);
	return file;
}

/* The IPv4/IPv6 TCP socket behind a file, or NULL. */
static __always_inline struct sock *tcp_sock_of_file(struct file *file)
{
	struct socket *sock;
	struct sock *sk;
	__u16 family;

	if (!file || (BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return NULL;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	return family == AF_INET || family == AF_INET6 ? sk : NULL;
}

/* inet_sport, not skc_num: skc_num is already 0 when a socket reaches CLOSE. */
static __always_inline __u16 local_port(struct tcp_sock *tp)
{
	return bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport);
}

static __always_inline struct listener_key listener_of(struct sock *sk, struct tcp_sock *tp)
{
	struct listener_key key = {
		.netns = sk->__sk_common.skc_net.net->ns.inum,
		.family = sk->__sk_common.skc_family,
		.port = local_port(tp),
	};
	return key;
}

/* ---- transitions ---- */

/* connect() and listen() change the state in the owner's own context. */
static __always_inline bool in_owner_context(int oldstate, int newstate)
{
	return oldstate == TCP_CLOSE && (newstate == TCP_SYN_SENT || newstate == TCP_LISTEN);
}

/* Is this socket's owner selected (-p, -c, run's tree)? Keeps selected_sockets
 * and selected_listeners current as owners appear and sockets close. */
static __always_inline bool socket_selected(struct sock *sk, struct tcp_sock *tp, __u64 cookie, int oldstate,
					    int newstate)
{
	struct listener_key listener;
	__u8 yes = 1;

	if (in_owner_context(oldstate, newstate)) {
		if (!current_selected())
			return false;
		select_socket(cookie);
		if (newstate == TCP_LISTEN) {
			listener = listener_of(sk, tp);
			if (bpf_map_update_elem(&selected_listeners, &listener, &yes, BPF_ANY))
				count(TL_CNT_SELECTED_FULL);
		}
		return true;
	}
	if (bpf_map_lookup_elem(&selected_sockets, &cookie)) {
		if (newstate == TCP_CLOSE) {
			bpf_map_delete_elem(&selected_sockets, &cookie);
			if (oldstate == TCP_LISTEN) {
				listener = listener_of(sk, tp);
				bpf_map_delete_elem(&selected_listeners, &listener);
			}
		}
		return true;
	}
	if (oldstate == TCP_LISTEN && newstate == TCP_SYN_RECV) {
		/* A connection received by a selected listener (same port). */
		listener = listener_of(sk, tp);
		if (bpf_map_lookup_elem(&selected_listeners, &listener)) {
			select_socket(cookie);
			return true;
		}
	}
	return false;
}

/* What user space needs to attribute and time the transitions it prints,
 * even when filters hide them: who owns a socket (connect, listen, a
 * listener's new connection) and when it ends. */
static __always_inline bool attribution_context(int oldstate, int newstate)
{
	return in_owner_context(oldstate, newstate) || (oldstate == TCP_LISTEN && newstate == TCP_SYN_RECV) ||
	       newstate == TCP_CLOSE;
}

enum trace_decision { TRACE_DROP, TRACE_SEND, TRACE_SEND_AS_CONTEXT };

/* -4/-6 and --port. A socket that fails them is never printed, so nothing of
 * it is sent: neither its transitions nor its accept (user space would keep
 * an owner for a socket whose CLOSE it never sees). The local port of a
 * connecting socket is 0 until connect() picks one, so --port on a client's
 * ephemeral port misses its CLOSE->SYN_SENT. */
static __always_inline bool passes_socket_filters(struct sock *sk)
{
	__u16 sport, dport;

	if (cfg_family && cfg_family != BPF_CORE_READ(sk, __sk_common.skc_family))
		return false;
	if (cfg_filter_ports) {
		sport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
		dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		if (!bpf_map_lookup_elem(&filter_ports, &sport) && !bpf_map_lookup_elem(&filter_ports, &dport))
			return false;
	}
	return true;
}

static __always_inline int trace_decision(struct sock *sk, int oldstate, int newstate)
{
	if (!passes_socket_filters(sk))
		return TRACE_DROP;
	if (!cfg_print_states || ((cfg_print_states >> (oldstate & 31)) & 1) ||
	    ((cfg_print_states >> (newstate & 31)) & 1))
		return TRACE_SEND;
	if (attribution_context(oldstate, newstate) || ((cfg_timing_states >> (newstate & 31)) & 1))
		return TRACE_SEND_AS_CONTEXT;
	return TRACE_DROP;
}

/* What leak tracking needs: entering and leaving CLOSE_WAIT (holders and
 * descriptor releases come from the other hooks); with owners tracked (run),
 * also who owns each socket and when it ends (so user space forgets it). */
static __always_inline bool leaks_forwards(int oldstate, int newstate)
{
	if (oldstate == TCP_CLOSE_WAIT || newstate == TCP_CLOSE_WAIT)
		return true;
	return cfg_track_owners && (in_owner_context(oldstate, newstate) || newstate == TCP_CLOSE);
}

/* Unread bytes, as SIOCINQ counts them: the FIN takes a sequence number
 * but is not data. */
static __always_inline __u32 receive_queue_bytes(struct sock *sk, struct tcp_sock *tp, int state)
{
	__u32 unread;

	if (state == TCP_LISTEN)
		return sk->sk_ack_backlog;
	unread = tp->rcv_nxt - tp->copied_seq;
	if ((int)unread < 0)
		return 0;
	if (unread && (sk->__sk_common.skc_flags & (1UL << SOCK_DONE)))
		unread--;
	return unread;
}

/* How a socket is leaving CLOSE_WAIT: is its last file reference being
 * released (close, exit) or does a descriptor still hold it? */
static __always_inline __u8 release_flags(struct sock *sk)
{
	struct socket *sock = sk->sk_socket;
	struct file *file;
	__u8 flags = 0;

	if (sock && (file = sock->file))
		flags = file_refs(file) > 0 ? TL_F_HAS_FILE : TL_F_FILE_RELEASED;
	if (bpf_get_current_task_btf()->flags & PF_EXITING)
		flags |= TL_F_TASK_EXITING;
	return flags;
}

static __always_inline void read_addresses(struct sock *sk, struct tcp_sock *tp, __u16 family, __u8 *saddr,
					   __u8 *daddr)
{
	if (family == AF_INET) {
		__u32 src = tp->inet_conn.icsk_inet.inet_saddr;
		__u32 dst = sk->__sk_common.skc_daddr;

		__builtin_memcpy(saddr, &src, 4);
		__builtin_memcpy(daddr, &dst, 4);
	} else {
		__builtin_memcpy(saddr, sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
		__builtin_memcpy(daddr, sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8, 16);
	}
}

/* A release recorded before the socket entered CLOSE_WAIT: send it now. */
static __always_inline void flush_fd_release(__u64 cookie)
{
	struct tl_fd_release *saved = bpf_map_lookup_elem(&fd_releases, &cookie);
	struct tl_fd_release *record;

	if (!saved)
		return;
	record = reserve(sizeof(*record));
	if (record) {
		__builtin_memcpy(record, saved, sizeof(*record));
		submit(record);
	}
	bpf_map_delete_elem(&fd_releases, &cookie);
}

static __always_inline void send_transition(struct sock *sk, struct tcp_sock *tp, int oldstate, int newstate,
					    __u64 cookie, __u8 flags, struct cpu_counters *c)
{
	struct tl_transition *event = reserve(sizeof(*event));
	__u16 family = sk->__sk_common.skc_family;

	if (!event)
		return;
	event->kind = TL_REC_TRANSITION;
	event->family = family;
	event->old_state = oldstate;
	event->new_state = newstate;
	event->flags = flags;
	event->sport = local_port(tp);
	event->dport = bpf_ntohs(sk->__sk_common.skc_dport);
	event->ctx_pid = bpf_get_current_pid_tgid() >> 32;
	event->uid = sk->sk_uid.val;
	event->netns = sk->__sk_common.skc_net.net->ns.inum;
	event->rx_queue = receive_queue_bytes(sk, tp, newstate);
	event->pad2 = 0;
	event->ts_ns = bpf_ktime_get_ns();
	event->cookie = cookie;
	read_addresses(sk, tp, family, event->saddr, event->daddr);
	bpf_get_current_comm(event->ctx_comm, sizeof(event->ctx_comm));
	if (in_owner_context(oldstate, newstate)) {
		event->flags |= TL_F_OWNER_CONTEXT;
		event->ctx_cgroup = bpf_get_current_cgroup_id();
		read_process_comm(bpf_get_current_task_btf(), event->process_comm);
	} else {
		event->ctx_cgroup = 0;
		__builtin_memset(event->process_comm, 0, TL_COMM_LEN);
	}
	if (oldstate == TCP_CLOSE_WAIT)
		event->flags |= release_flags(sk);
	submit_counted(event, c);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_inet_sock_set_state, struct sock *sk, int oldstate, int newstate)
{
	struct cpu_counters *c;
	struct tcp_sock *tp;
	__u16 family;
	__u64 cookie;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	tp = bpf_skc_to_tcp_sock(sk);
	c = cpu_counters();
	if (!tp || !c)
		return 0;
	/* Plain increments: only this program touches these, and it never runs
	 * nested on a CPU (the kernel skips, and counts, such runs). */
	c->values[TL_CNT_TRANSITIONS]++;
	/* The helper generates a cookie the first time; the descriptor hooks
	 * and iterators only read it. */
	cookie = sk->__sk_common.skc_cookie.counter;
	if (!cookie)
		cookie = bpf_get_socket_cookie(sk);
	if (cfg_select && !socket_selected(sk, tp, cookie, oldstate, newstate)) {
		/* trace: every listener of a port, selected or not, so that user
		 * space never credits a shared port's (SO_REUSEPORT) connections
		 * to the selected process. Listens are rare. */
		if (cfg_mode != TL_MODE_LEAKS &&
		    (newstate == TCP_LISTEN || (oldstate == TCP_LISTEN && newstate == TCP_CLOSE)) &&
		    passes_socket_filters(sk))
			send_transition(sk, tp, oldstate, newstate, cookie, TL_F_CONTEXT_ONLY, c);
		return 0;
	}

	if (cfg_mode == TL_MODE_LEAKS) {
		c->transitions[((oldstate & 15) << 4) | (newstate & 15)]++;
		if (!leaks_forwards(oldstate, newstate))
			return 0;
		send_transition(sk, tp, oldstate, newstate, cookie, 0, c);
		if (newstate == TCP_CLOSE_WAIT)
			flush_fd_release(cookie);
		return 0;
	}
	switch (trace_decision(sk, oldstate, newstate)) {
	case TRACE_SEND:
		send_transition(sk, tp, oldstate, newstate, cookie, 0, c);
		break;
	case TRACE_SEND_AS_CONTEXT:
		send_transition(sk, tp, oldstate, newstate, cookie, TL_F_CONTEXT_ONLY, c);
		break;
	}
	return 0;
}

/* ---- accept() ---- */

/* accept() returned fd: tell user space who accepted the socket behind it. */
static __always_inline void note_accept(long fd)
{
	struct tl_accept *record;
	struct sock *sk;
	__u64 cookie;

	if (fd < 0)
		return;
	sk = tcp_sock_of_file(current_file(fd));
	if (!sk)
		return;
	cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (!cookie)
		return; /* never seen by tcpleak: it predates it */
	if (cfg_select) {
		/* The acceptor owns it from now on: selected or not. */
		if (!current_selected()) {
			bpf_map_delete_elem(&selected_sockets, &cookie);
			return;
		}
		select_socket(cookie);
	}
	if (!passes_socket_filters(sk))
		return;
	record = reserve(sizeof(*record));
	if (!record)
		return;
	record->kind = TL_REC_ACCEPT;
	__builtin_memset(record->pad, 0, sizeof(record->pad));
	record->pid = bpf_get_current_pid_tgid() >> 32;
	record->fd = fd;
	record->pad2 = 0;
	record->ts_ns = bpf_ktime_get_ns();
	record->cookie = cookie;
	record->cgroup = bpf_get_current_cgroup_id();
	read_process_comm(bpf_get_current_task_btf(), record->comm);
	submit(record);
}

/* ---- descriptors going away (leaks, run) ---- */

static __always_inline void note_fd_release(long fd, __u8 via)
{
	struct tl_fd_release release = {};
	struct file *file = current_file(fd);
	struct tl_fd_release *record;
	struct sock *sk;
	long refs, err;

	/* Most closes drop a file's last reference: for a socket the state
	 * change itself tells. Checked first: it is one read. */
	if (!file || (refs = file_refs(file)) <= 1)
		return;
	sk = tcp_sock_of_file(file);
	if (!sk)
		return;
	release.cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (!release.cookie)
		return; /* never seen by tcpleak: no state to attach it to */
	if (cfg_select && !bpf_map_lookup_elem(&selected_sockets, &release.cookie))
		return;
	release.kind = TL_REC_FD_RELEASE;
	release.via = via;
	release.state = BPF_CORE_READ(sk, __sk_common.skc_state);
	release.pid = bpf_get_current_pid_tgid() >> 32;
	release.fd = fd;
	release.other_refs = refs - 1;
	release.ts_ns = bpf_ktime_get_ns();
	read_process_comm(bpf_get_current_task_btf(), release.comm);

	if (release.state == TCP_CLOSE_WAIT) {
		record = reserve(sizeof(*record));
		if (record) {
			__builtin_memcpy(record, &release, sizeof(release));
			submit(record);
		}
		return;
	}
	/* The first release is the close() that did not take effect. */
	err = bpf_map_update_elem(&fd_releases, &release.cookie, &release, BPF_NOEXIST);
	if (err && err != -EEXIST)
		count(TL_CNT_RELEASE_MAP_UPDATE_FAILED);
}

/* dup2/dup3 release newfd only when they will succeed and put another file there. */
static __always_inline void note_dup(long oldfd, long newfd, __u8 via)
{
	struct file *old_file = current_file(oldfd);

	if (oldfd != newfd && old_file && old_file != current_file(newfd))
		note_fd_release(newfd, via);
}

struct close_range_ctx {
	long next_fd;
	long last_fd;
};

static long close_range_step(__u32 index, struct close_range_ctx *ctx)
{
	if (ctx->next_fd > ctx->last_fd)
		return 1;
	note_fd_release(ctx->next_fd, TL_RELEASE_CLOSE_RANGE);
	ctx->next_fd++;
	return 0;
}

static __always_inline void note_close_range(unsigned int first, unsigned int last, unsigned int flags)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct close_range_ctx ctx;
	unsigned long max_fds;

	if (flags & CLOSE_RANGE_CLOEXEC)
		return;
	max_fds = BPF_CORE_READ(task, files, fdt, max_fds);
	if (first >= max_fds || first > last)
		return;
	if (last >= max_fds)
		last = max_fds - 1;
	ctx.next_fd = first;
	ctx.last_fd = last;
	bpf_loop(MAX_CLOSE_RANGE_FDS, close_range_step, &ctx, 0);
}

/*
 * Syscall hooks. The syscalls:* tracepoints fire only for their own syscall;
 * they are what runs when tracefs can be reached. Otherwise the tp_btf
 * sys_enter/sys_exit fallback runs for every syscall and picks the few it
 * needs.
 */
SEC("tracepoint/syscalls/sys_exit_accept4")
int on_accept4_exit(struct trace_event_raw_sys_exit *ctx)
{
	note_accept(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int on_accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	note_accept(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_close")
int on_close_enter(struct trace_event_raw_sys_enter *ctx)
{
	note_fd_release((int)ctx->args[0], TL_RELEASE_CLOSE);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_close_range")
int on_close_range_enter(struct trace_event_raw_sys_enter *ctx)
{
	note_close_range(ctx->args[0], ctx->args[1], ctx->args[2]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_dup2")
int on_dup2_enter(struct trace_event_raw_sys_enter *ctx)
{
	note_dup((int)ctx->args[0], (int)ctx->args[1], TL_RELEASE_DUP2);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_dup3")
int on_dup3_enter(struct trace_event_raw_sys_enter *ctx)
{
	note_dup((int)ctx->args[0], (int)ctx->args[1], TL_RELEASE_DUP3);
	return 0;
}

/* A 32-bit task's syscall numbers are another table (its 3 is read, not
 * close): the fallback skips them, as the syscalls:* events do on x86. */
static __always_inline bool compat_syscall(void)
{
#if defined(__TARGET_ARCH_x86)
	const __u32 ts_compat = 0x0002;

	return bpf_get_current_task_btf()->thread_info.status & ts_compat;
#elif defined(__TARGET_ARCH_arm64)
	const unsigned long tif_32bit = 1UL << 22;

	return bpf_get_current_task_btf()->thread_info.flags & tif_32bit;
#else
	return false;
#endif
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = SYSCALL_NR(regs);

	if ((nr == cfg_nr_accept4 || nr == cfg_nr_accept) && !compat_syscall())
		note_accept(ret);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	if (id != cfg_nr_close && id != cfg_nr_dup2 && id != cfg_nr_dup3 && id != cfg_nr_close_range)
		return 0;
	if (compat_syscall())
		return 0;
	if (id == cfg_nr_close)
		note_fd_release((int)SYSCALL_ARG1(regs), TL_RELEASE_CLOSE);
	else if (id == cfg_nr_dup2)
		note_dup((int)SYSCALL_ARG1(regs), (int)SYSCALL_ARG2(regs), TL_RELEASE_DUP2);
	else if (id == cfg_nr_dup3)
		note_dup((int)SYSCALL_ARG1(regs), (int)SYSCALL_ARG2(regs), TL_RELEASE_DUP3);
	else if (id == cfg_nr_close_range)
		note_close_range(SYSCALL_ARG1(regs), SYSCALL_ARG2(regs), SYSCALL_ARG3(regs));
	return 0;
}

/* ---- the traced process tree (run) ---- */

static __always_inline struct tl_proc *reserve_proc(__u8 event, __u32 pid)
{
	struct tl_proc *record = reserve(sizeof(*record));

	if (!record)
		return NULL;
	record->kind = TL_REC_PROC;
	record->event = event;
	record->args_len = 0;
	record->pid = pid;
	record->ppid = 0;
	record->exit_code = 0;
	record->ts_ns = bpf_ktime_get_ns();
	return record;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ppid = parent->tgid, pid = child->tgid;
	struct tl_proc *record;
	__u8 yes = 1;

	if (pid == ppid || !bpf_map_lookup_elem(&selected_pids, &ppid))
		return 0;
	if (bpf_map_update_elem(&selected_pids, &pid, &yes, BPF_ANY)) {
		count(TL_CNT_PIDS_FULL);
		return 0;
	}
	record = reserve_proc(TL_PROC_FORK, pid);
	if (!record)
		return 0;
	record->ppid = ppid;
	read_process_comm(parent, record->comm);
	submit(record);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_process_exec, struct task_struct *task)
{
	__u32 pid = task->tgid;
	struct tl_proc *record;
	unsigned long arg_start, arg_end, len;

	if (!bpf_map_lookup_elem(&selected_pids, &pid))
		return 0;
	record = reserve_proc(TL_PROC_EXEC, pid);
	if (!record)
		return 0;
	record->ppid = BPF_CORE_READ(task, real_parent, tgid);
	bpf_probe_read_kernel(record->comm, TL_COMM_LEN, task->comm);
	arg_start = BPF_CORE_READ(task, mm, arg_start);
	arg_end = BPF_CORE_READ(task, mm, arg_end);
	len = arg_end - arg_start;
	if (len >= TL_ARGS_LEN) {
		if (!bpf_probe_read_user(record->args, TL_ARGS_LEN, (void *)arg_start))
			record->args_len = TL_ARGS_LEN;
	} else if (len && !bpf_probe_read_user(record->args, len & (TL_ARGS_LEN - 1), (void *)arg_start)) {
		record->args_len = len;
	}
	submit(record);
	return 0;
}

struct exit_walk {
	unsigned long *open_fds; /* the fd table's bitmap of open descriptors */
	unsigned long bits;      /* the current word of it */
	__u32 max_fds;
};

static long exit_walk_step(__u32 fd, struct exit_walk *walk)
{
	if (fd >= walk->max_fds)
		return 1;
	if ((fd & 63) == 0) {
		walk->bits = 0;
		bpf_probe_read_kernel(&walk->bits, sizeof(walk->bits), &walk->open_fds[fd / 64]);
	}
	if (walk->bits & (1UL << (fd & 63)))
		note_fd_release(fd, TL_RELEASE_EXIT);
	return 0;
}

/* The exiting process's descriptors are about to be closed: those of
 * sockets that another descriptor keeps alive are releases like close(). */
static __always_inline void note_releases_at_exit(struct task_struct *task)
{
	struct files_struct *files = task->files;
	struct fdtable *fdt;
	struct exit_walk walk = {};

	if (!files || BPF_CORE_READ(files, count.counter) != 1)
		return; /* shared with another process: nothing is closed yet */
	fdt = BPF_CORE_READ(files, fdt);
	walk.open_fds = BPF_CORE_READ(fdt, open_fds);
	walk.max_fds = BPF_CORE_READ(fdt, max_fds);
	bpf_loop(MAX_CLOSE_RANGE_FDS, exit_walk_step, &walk, 0);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_process_exit, struct task_struct *task)
{
	__u32 pid = task->tgid;
	struct tl_proc *record;

	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0; /* other threads still run */
	if (cfg_mode == TL_MODE_LEAKS)
		note_releases_at_exit(task);
	if (!bpf_map_lookup_elem(&selected_pids, &pid))
		return 0;
	bpf_map_delete_elem(&selected_pids, &pid);
	record = reserve_proc(TL_PROC_EXIT, pid);
	if (!record)
		return 0;
	record->exit_code = task->exit_code;
	read_process_comm(task, record->comm);
	submit(record);
	return 0;
}

/* ---- descriptor tables ---- */

static __always_inline __u64 close_wait_age_ns(struct tcp_sock *tp)
{
	__u32 last_received = tp->rcv_tstamp;
	__u32 jiffies_now = bpf_jiffies64();

	if (!CONFIG_HZ)
		return 0;
	return (__u64)(jiffies_now - last_received) * (NSEC_PER_SEC / CONFIG_HZ);
}

/* Start-up: a socket held by a selected process is selected (and so are the
 * connections its listeners receive). */
static __always_inline void select_existing(struct sock *sk, struct tcp_sock *tp, __u64 cookie,
					    struct task_struct *task, const char *comm)
{
	struct listener_key listener;
	__u8 yes = 1;

	if (!owner_selected(task->tgid, comm))
		return;
	select_socket(cookie);
	if (sk->__sk_common.skc_state == TCP_LISTEN) {
		listener = listener_of(sk, tp);
		if (bpf_map_update_elem(&selected_listeners, &listener, &yes, BPF_ANY))
			count(TL_CNT_SELECTED_FULL);
	}
}

SEC("iter/task_file")
int iter_socket_holders(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct tl_socket record = {};
	struct tcp_sock *tp;
	struct socket *sock;
	struct sock *sk;
	__u16 family;

	if (!task || !file)
		return 0;
	sock = bpf_sock_from_file(file);
	if (!sock)
		return 0;
	sk = sock->sk;
	if (!sk || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return 0;
	record.cookie = bpf_get_socket_cookie(sk);
	if (iter_mode == TL_ITER_HOLDERS && !bpf_map_lookup_elem(&holder_targets, &record.cookie))
		return 0;

	record.kind = TL_REC_SOCKET;
	record.family = family;
	record.state = sk->__sk_common.skc_state;
	record.sport = local_port(tp);
	record.dport = bpf_ntohs(sk->__sk_common.skc_dport);
	record.pid = task->tgid;
	record.fd = ctx->fd;
	record.rx_queue = receive_queue_bytes(sk, tp, record.state);
	record.uid = sk->sk_uid.val;
	record.netns = sk->__sk_common.skc_net.net->ns.inum;
	record.cgroup = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	if (record.state == TCP_CLOSE_WAIT) {
		record.cw_age_ns = close_wait_age_ns(tp);
		if (record.cw_age_ns)
			record.flags |= TL_SOCK_AGE_KNOWN;
	}
	read_addresses(sk, tp, family, record.saddr, record.daddr);
	read_process_comm(task, record.comm);
	if (iter_mode == TL_ITER_SEED && cfg_select)
		select_existing(sk, tp, record.cookie, task, record.comm);
	bpf_seq_write(ctx->meta->seq, &record, sizeof(record));
	return 0;
}
