// SPDX-License-Identifier: GPL-2.0
/*
 * tcpleak's kernel side.
 *
 *  - tp_btf/inet_sock_set_state: every TCP state change. The socket's owner
 *    lives in socket-local storage, captured where the kernel runs in the
 *    owner's context (connect, listen, accept) and carried with the socket,
 *    so softirq transitions are still attributed to the right process.
 *  - tp_btf/sys_exit: accept()/accept4() results (the accepted socket's next
 *    transitions run in softirq).
 *  - tp_btf/sys_enter: close, close_range, dup2, dup3 (leaks/run modes):
 *    descriptors of sockets that another descriptor keeps alive.
 *  - tp_btf/sched_process_{fork,exec,exit}: the traced process tree (run).
 *  - iter/task_file: sockets that existed before start, and holders of
 *    leaked sockets, read from the descriptor tables.
 *
 * tp_btf and iterators need neither tracefs nor kprobes.
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
#define PF_EXITING 0x00000004
#define EEXIST 17
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
const volatile __u8 cfg_filter_pids = 0;  /* owner must be in selected_pids */
const volatile __u8 cfg_filter_comm = 0;  /* owner comm must equal cfg_comm */
const volatile char cfg_comm[TL_COMM_LEN] = {};
const volatile __u8 cfg_filter_ports = 0; /* local or remote port in filter_ports */
const volatile __u8 cfg_family = 0;       /* 0: both */
const volatile __u32 cfg_state_mask = 0;  /* bit per state, old or new; 0: all */
const volatile __u8 cfg_follow_forks = 0; /* children of selected pids are selected */
const volatile __u64 cfg_wakeup_bytes = 1 << 20;
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

/* Per-socket state; lives and dies with the socket. BPF_F_CLONE: a socket
 * created by a listener starts with a copy of the listener's entry. */
struct sock_info {
	__u64 cookie; /* the socket this entry belongs to; differs after a clone */
	__u64 since_ns; /* when the current state was entered; 0: unknown */
	__u64 owner_cgroup;
	__u32 owner_pid;
	__u8 owner_via;
	__u8 selected;
	__u8 pad[2];
	char owner_comm[TL_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct sock_info);
} sock_infos SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by user space */
} events SEC(".maps");

/* accept() returned this socket; moved into sock_infos at its next
 * transition. Keyed by kernel address (never printed), checked by cookie. */
struct accepted_owner {
	__u64 cookie;
	__u64 cgroup;
	__u32 pid;
	__u8 selected;
	__u8 pad[3];
	char comm[TL_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct accepted_owner);
} accepted_owners SEC(".maps");

/* The last descriptor release of a still-referenced socket, by cookie,
 * until the socket enters CLOSE_WAIT (then it is sent to user space). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct tl_fd_release);
} fd_releases SEC(".maps");

/* -p PIDs (trace), or the traced process tree (run). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} selected_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);
	__type(value, __u8);
} filter_ports SEC(".maps");

/* Cookies whose holders the next TL_ITER_HOLDERS iteration reports. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} holder_targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TL_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* leaks/run: transitions per (old, new) state, counted here because only
 * CLOSE_WAIT ones are forwarded. Index old * 16 + new. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} transition_counts SEC(".maps");

/* ---- helpers ---- */

static __always_inline void count(__u32 which)
{
	__u64 *value = bpf_map_lookup_elem(&counters, &which);

	if (value)
		__sync_fetch_and_add(value, 1);
}

static __always_inline void submit(void *record)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	/* Batch wakeups: user space also polls with a short timeout. */
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= cfg_wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(record, flags);
	count(TL_CNT_SENT);
}

static __always_inline void *reserve(__u64 size)
{
	void *record = bpf_ringbuf_reserve(&events, size, 0);

	if (!record)
		count(TL_CNT_LOST);
	return record;
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

static __always_inline void set_owner_to_current(struct sock_info *info, __u8 via)
{
	struct task_struct *task = bpf_get_current_task_btf();

	info->owner_pid = bpf_get_current_pid_tgid() >> 32;
	read_process_comm(task, info->owner_comm);
	info->owner_cgroup = bpf_get_current_cgroup_id();
	info->owner_via = via;
	info->selected = owner_selected(info->owner_pid, info->owner_comm);
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

/* The TCP socket behind descriptor fd of the current task, or NULL. The
 * pointer is read, not trusted: only CO-RE reads and map keys. */
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

static __always_inline bool family_selected(__u16 family)
{
	return !cfg_family || cfg_family == family;
}

static __always_inline bool ports_selected(__u16 sport, __u16 dport)
{
	if (!cfg_filter_ports)
		return true;
	return bpf_map_lookup_elem(&filter_ports, &sport) || bpf_map_lookup_elem(&filter_ports, &dport);
}

static __always_inline bool states_selected(int oldstate, int newstate)
{
	if (!cfg_state_mask)
		return true;
	return cfg_state_mask & ((1U << (oldstate & 31)) | (1U << (newstate & 31)));
}

/* ---- owners ---- */

/* An accepted socket's entry still says "listener": take the owner that
 * accept() recorded, now that the socket is trusted again. */
static __always_inline void claim_accepted_owner(struct sock_info *info, struct sock *sk, __u64 cookie)
{
	__u64 key = (__u64)sk;
	struct accepted_owner *accepted = bpf_map_lookup_elem(&accepted_owners, &key);

	if (!accepted) {
		if (info->owner_via == TL_VIA_LISTENER)
			count(TL_CNT_ACCEPT_MISSED);
		return;
	}
	if (!accepted->cookie || accepted->cookie == cookie) {
		info->owner_pid = accepted->pid;
		__builtin_memcpy(info->owner_comm, accepted->comm, TL_COMM_LEN);
		info->owner_cgroup = accepted->cgroup;
		info->selected = accepted->selected;
		info->owner_via = TL_VIA_ACCEPT;
	}
	bpf_map_delete_elem(&accepted_owners, &key);
}

static __always_inline void update_owner(struct sock_info *info, struct sock *sk, __u64 cookie,
					 int oldstate, int newstate)
{
	if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) {
		set_owner_to_current(info, TL_VIA_CONNECT);
		return;
	}
	if (oldstate == TCP_CLOSE && newstate == TCP_LISTEN) {
		set_owner_to_current(info, TL_VIA_LISTEN);
		return;
	}
	/* sk_socket is set once accept() grafted the socket to a file. */
	if ((info->owner_via == TL_VIA_LISTENER || info->owner_via == TL_VIA_NONE) && sk->sk_socket)
		claim_accepted_owner(info, sk, cookie);
}

/* Socket storage for sk, set up for this transition. Returns the time spent
 * in the old state through old_ns (0: unknown). */
static __always_inline struct sock_info *track_socket(struct sock *sk, __u64 cookie, __u64 now,
						      int oldstate, int newstate, __u64 *old_ns)
{
	struct sock_info *info = bpf_sk_storage_get(&sock_infos, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);

	*old_ns = 0;
	if (!info) {
		count(TL_CNT_STORAGE_FAILED);
		return NULL;
	}
	if (info->cookie != cookie) {
		/* A fresh entry, or a copy of the listener's. */
		if (info->cookie)
			info->owner_via = TL_VIA_LISTENER;
		info->cookie = cookie;
		info->since_ns = 0;
	}
	if (info->since_ns)
		*old_ns = now - info->since_ns;
	info->since_ns = now;
	update_owner(info, sk, cookie, oldstate, newstate);
	return info;
}

/* ---- transitions ---- */

static __always_inline void read_addresses(struct sock *sk, struct tcp_sock *tp, __u16 family,
					   __u8 *saddr, __u8 *daddr)
{
	if (family == AF_INET) {
		__u32 src = tp->inet_conn.icsk_inet.inet_saddr;
		__u32 dst = sk->__sk_common.skc_daddr;

		__builtin_memcpy(saddr, &src, 4);
		__builtin_memcpy(daddr, &dst, 4);
	} else {
		bpf_core_read(saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
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

/* What a release of the socket's file is doing to it, for leak verdicts. */
static __always_inline __u8 file_flags(struct sock *sk)
{
	struct socket *sock = sk->sk_socket;
	struct file *file;

	if (!sock)
		return 0;
	file = sock->file;
	if (!file)
		return 0;
	return file_refs(file) > 0 ? TL_F_HAS_FILE : TL_F_FILE_RELEASED;
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

static __always_inline void count_transition(int oldstate, int newstate)
{
	__u32 index = ((oldstate & 15) << 4) | (newstate & 15);
	__u64 *value = bpf_map_lookup_elem(&transition_counts, &index);

	if (value)
		__sync_fetch_and_add(value, 1);
}

static __always_inline bool forwarded(struct sock_info *info, __u16 family, __u16 sport, __u16 dport,
				      int oldstate, int newstate)
{
	if (cfg_mode == TL_MODE_LEAKS) {
		/* run: only sockets of the traced tree */
		if (cfg_filter_pids && !(info && info->selected))
			return false;
		count_transition(oldstate, newstate);
		return oldstate == TCP_CLOSE_WAIT || newstate == TCP_CLOSE_WAIT;
	}
	if ((cfg_filter_pids || cfg_filter_comm) && !(info && info->selected))
		return false;
	return family_selected(family) && states_selected(oldstate, newstate) && ports_selected(sport, dport);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_inet_sock_set_state, struct sock *sk, int oldstate, int newstate)
{
	struct tl_transition *event;
	struct sock_info *info;
	struct tcp_sock *tp;
	__u64 now, cookie, old_ns;
	__u16 family, sport, dport;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return 0;
	count(TL_CNT_TRANSITIONS);

	now = bpf_ktime_get_ns();
	cookie = bpf_get_socket_cookie(sk);
	info = track_socket(sk, cookie, now, oldstate, newstate, &old_ns);

	/* inet_sport, not skc_num: skc_num is already 0 when a socket reaches CLOSE. */
	sport = bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport);
	dport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (!forwarded(info, family, sport, dport, oldstate, newstate))
		return 0;

	event = reserve(sizeof(*event));
	if (!event)
		return 0;
	event->kind = TL_REC_TRANSITION;
	event->family = family;
	event->old_state = oldstate;
	event->new_state = newstate;
	event->sport = sport;
	event->dport = dport;
	event->pad = 0;
	event->ts_ns = now;
	event->cookie = cookie;
	event->old_state_ns = old_ns;
	event->uid = sk->sk_uid.val;
	event->netns = sk->__sk_common.skc_net.net->ns.inum;
	event->rx_queue = receive_queue_bytes(sk, tp, newstate);
	event->ctx_pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(event->ctx_comm, sizeof(event->ctx_comm));
	read_addresses(sk, tp, family, event->saddr, event->daddr);

	event->flags = file_flags(sk);
	if (bpf_get_current_task_btf()->flags & PF_EXITING)
		event->flags |= TL_F_TASK_EXITING;
	if (old_ns)
		event->flags |= TL_F_OLD_TIMED;
	if (info && info->owner_via != TL_VIA_NONE) {
		event->flags |= TL_F_OWNER_KNOWN;
		if (info->selected)
			event->flags |= TL_F_SELECTED;
		event->owner_via = info->owner_via;
		event->owner_pid = info->owner_pid;
		event->owner_cgroup = info->owner_cgroup;
		__builtin_memcpy(event->owner_comm, info->owner_comm, TL_COMM_LEN);
	} else {
		event->owner_via = TL_VIA_NONE;
		event->owner_pid = 0;
		event->owner_cgroup = 0;
		__builtin_memset(event->owner_comm, 0, TL_COMM_LEN);
	}
	submit(event);

	if (cfg_mode == TL_MODE_LEAKS && newstate == TCP_CLOSE_WAIT)
		flush_fd_release(cookie);
	return 0;
}

/* ---- accept() ---- */

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *task;
	struct accepted_owner owner = {};
	struct sock *sk;
	long nr;
	__u64 key;

	if (ret < 0)
		return 0;
	nr = SYSCALL_NR(regs);
	if (nr != cfg_nr_accept4 && nr != cfg_nr_accept)
		return 0;
	sk = tcp_sock_of_file(current_file(ret));
	if (!sk)
		return 0;

	task = bpf_get_current_task_btf();
	owner.cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	owner.pid = bpf_get_current_pid_tgid() >> 32;
	read_process_comm(task, owner.comm);
	owner.cgroup = bpf_get_current_cgroup_id();
	owner.selected = owner_selected(owner.pid, owner.comm);
	key = (__u64)sk;
	if (bpf_map_update_elem(&accepted_owners, &key, &owner, BPF_ANY))
		count(TL_CNT_ACCEPT_MAP_FULL);
	return 0;
}

/* ---- descriptors going away (leaks, run) ---- */

static __always_inline void note_fd_release(long fd, __u8 via)
{
	struct tl_fd_release release = {};
	struct file *file = current_file(fd);
	struct sock *sk = tcp_sock_of_file(file);
	struct tl_fd_release *record;
	long refs;

	if (!sk)
		return;
	refs = file_refs(file);
	if (refs <= 1)
		return; /* the last reference: the state change itself tells */
	release.kind = TL_REC_FD_RELEASE;
	release.via = via;
	release.state = BPF_CORE_READ(sk, __sk_common.skc_state);
	release.pid = bpf_get_current_pid_tgid() >> 32;
	if (cfg_filter_pids && !bpf_map_lookup_elem(&selected_pids, &release.pid))
		return;
	release.fd = fd;
	release.other_refs = refs - 1;
	release.ts_ns = bpf_ktime_get_ns();
	release.cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	read_process_comm(bpf_get_current_task_btf(), release.comm);
	if (!release.cookie)
		return; /* never seen by tcpleak: no state to attach it to */

	if (release.state == TCP_CLOSE_WAIT) {
		record = reserve(sizeof(*record));
		if (record) {
			__builtin_memcpy(record, &release, sizeof(release));
			submit(record);
		}
		return;
	}
	/* The first release is the close() that did not take effect. */
	long err = bpf_map_update_elem(&fd_releases, &release.cookie, &release, BPF_NOEXIST);
	if (err && err != -EEXIST)
		count(TL_CNT_RELEASE_MAP_UPDATE_FAILED);
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

static __always_inline void note_close_range(unsigned long first, unsigned long last, unsigned long flags)
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

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	if (id == cfg_nr_close) {
		note_fd_release((int)SYSCALL_ARG1(regs), TL_RELEASE_CLOSE);
	} else if (id == cfg_nr_dup2 || id == cfg_nr_dup3) {
		int oldfd = SYSCALL_ARG1(regs), newfd = SYSCALL_ARG2(regs);
		struct file *old_file = current_file(oldfd);

		/* Only a dup that will succeed and put another file there releases newfd. */
		if (old_file && old_file != current_file(newfd))
			note_fd_release(newfd, id == cfg_nr_dup2 ? TL_RELEASE_DUP2 : TL_RELEASE_DUP3);
	} else if (id == cfg_nr_close_range) {
		note_close_range((unsigned int)SYSCALL_ARG1(regs), (unsigned int)SYSCALL_ARG2(regs),
				 (unsigned int)SYSCALL_ARG3(regs));
	}
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

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_process_exit, struct task_struct *task)
{
	__u32 pid = task->tgid;
	struct tl_proc *record;

	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0; /* other threads still run */
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

static __always_inline void seed_owner(struct sock *sk, __u64 cookie, struct task_struct *task)
{
	struct sock_info *info = bpf_sk_storage_get(&sock_infos, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);

	if (!info) {
		count(TL_CNT_STORAGE_FAILED);
		return;
	}
	if (info->cookie == cookie && info->owner_via != TL_VIA_NONE)
		return; /* already known: from a hook, or an earlier descriptor */
	info->cookie = cookie;
	info->owner_pid = task->tgid;
	read_process_comm(task, info->owner_comm);
	info->owner_cgroup = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	info->owner_via = TL_VIA_FD_TABLE;
	info->selected = owner_selected(info->owner_pid, info->owner_comm);
}

SEC("iter/task_file")
int iter_socket_holders(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct tl_socket record = {};
	struct sock_info *info;
	struct tcp_sock *tp;
	struct socket *sock;
	struct sock *sk;
	__u64 cookie;
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
	cookie = bpf_get_socket_cookie(sk);
	record.state = sk->__sk_common.skc_state;

	if (iter_mode == TL_ITER_SEED) {
		seed_owner(sk, cookie, task);
		if (record.state != TCP_CLOSE_WAIT)
			return 0;
	} else if (!bpf_map_lookup_elem(&holder_targets, &cookie)) {
		return 0;
	}

	record.kind = TL_REC_SOCKET;
	record.family = family;
	record.sport = bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport);
	record.dport = bpf_ntohs(sk->__sk_common.skc_dport);
	record.pid = task->tgid;
	record.fd = ctx->fd;
	record.rx_queue = receive_queue_bytes(sk, tp, record.state);
	record.uid = sk->sk_uid.val;
	record.netns = sk->__sk_common.skc_net.net->ns.inum;
	record.cookie = cookie;
	if (record.state == TCP_CLOSE_WAIT) {
		record.cw_age_ns = close_wait_age_ns(tp);
		if (record.cw_age_ns)
			record.flags |= TL_SOCK_AGE_KNOWN;
	}
	read_addresses(sk, tp, family, record.saddr, record.daddr);
	read_process_comm(task, record.comm);
	info = bpf_sk_storage_get(&sock_infos, sk, NULL, 0);
	if (info && info->owner_via != TL_VIA_NONE) {
		record.owner_pid = info->owner_pid;
		__builtin_memcpy(record.owner_comm, info->owner_comm, TL_COMM_LEN);
	}
	bpf_seq_write(ctx->meta->seq, &record, sizeof(record));
	return 0;
}
