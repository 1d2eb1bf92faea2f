// SPDX-License-Identifier: GPL-2.0
/*
 * tcpleak's kernel side: the programs, one after another, each a few lines;
 * what they share lives in lib/ (one concern per header, included in
 * dependency order below). It keeps no per-socket state on the hot path
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

#include "lib/common.bpf.h"
#include "lib/config.bpf.h"
#include "lib/maps.bpf.h"
#include "lib/records.bpf.h"
#include "lib/syscalls.bpf.h"
#include "lib/files.bpf.h"
#include "lib/sock.bpf.h"
#include "lib/filters.bpf.h"
#include "lib/listeners.bpf.h"
#include "lib/owners.bpf.h"
#include "lib/transitions.bpf.h"
#include "lib/accept.bpf.h"
#include "lib/releases.bpf.h"
#include "lib/proc_tree.bpf.h"
#include "lib/iterators.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* ---- TCP state changes ---- */

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_inet_sock_set_state, struct sock *sk, int oldstate, int newstate)
{
	struct tl_cpu_counters *c;
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
	if (cfg_track_owners) {
		/* Listens are rare: every listener is kept, selected or not. */
		if (newstate == TCP_LISTEN)
			remember_listener(sk, tp, cookie);
		else if (oldstate == TCP_LISTEN && newstate == TCP_CLOSE)
			forget_listener(sk, tp, cookie);
	}
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
		if (cfg_kernel_owners && oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT)
			remember_owner(cookie); /* connect(), in the owner's context */
		else if (cfg_kernel_owners && newstate == TCP_CLOSE)
			bpf_map_delete_elem(&owners, &cookie); /* the LRU keeps live sockets only */
		if (!leaks_forwards(oldstate, newstate))
			return 0;
		send_transition(sk, tp, oldstate, newstate, cookie, 0, c);
		if ((cfg_watch_states >> (newstate & 31)) & 1)
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

/* ---- the traced process tree (run), and exits ---- */

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

/* Before exec() drops the O_CLOEXEC descriptors (6.10+; not loaded on older
 * kernels). */
SEC("tp_btf/sched_prepare_exec")
int BPF_PROG(on_prepare_exec, struct task_struct *task, struct linux_binprm *bprm)
{
	if (cfg_watch_exec)
		note_releases_at_exec(task);
	return 0;
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

SEC("iter/task_file")
int iter_socket_holders(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct tl_socket record = {};
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
	/* Its cookie is the one the kernel holds (read_file_socket: the walk
	 * cannot create one). A socket without one has never been in a state
	 * change or a TCP-table walk since tcpleak started: the walks at
	 * start-up and of every census name every socket of the namespaces
	 * they cover first; later ones are named by their first state change. */
	record.state = sk->__sk_common.skc_state;
	if (iter_mode == TL_ITER_STATES && !((iter_states >> (record.state & 31)) & 1))
		return 0;
	record.cookie = sk->__sk_common.skc_cookie.counter;
	if (!record.cookie) {
		/* A socket() not yet connected or listening has no state change
		 * to name it, and nothing to report either. */
		if (record.state != TCP_CLOSE)
			count(TL_CNT_UNNAMED_SOCKETS);
		return 0;
	}

	record.kind = TL_REC_SOCKET;
	record.family = family;
	record.dport = bpf_ntohs(sk->__sk_common.skc_dport);
	record.pid = task->tgid;
	record.fd = ctx->fd;
	record.uid = sk->sk_uid.val;
	record.netns = sk->__sk_common.skc_net.net->ns.inum;
	record.cgroup = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	read_file_socket(sk, family, &record);
	record.read_ns = bpf_ktime_get_ns();
	read_process_comm(task, record.comm);
	/* The kernel may run this twice for one descriptor (when the record
	 * does not fit the read buffer): both are idempotent. */
	if (iter_mode == TL_ITER_SEED && cfg_select)
		select_existing(sk, record.sport, record.cookie, task, record.comm);
	if (iter_mode == TL_ITER_SEED && cfg_track_owners && record.state == TCP_LISTEN)
		remember_listener_at(listener_at(sk, record.sport), sk, record.cookie);
	bpf_seq_write(ctx->meta->seq, &record, sizeof(record));
	return 0;
}

/* The TCP table of the network namespace the iterator was created in:
 * full sockets, time-wait and request mini sockets, in tcp_iter_states. */
SEC("iter/tcp")
int iter_tcp_sockets(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tl_tcp_socket record = {};

	if (!skc)
		return 0;
	record.family = skc->skc_family;
	if (record.family != AF_INET && record.family != AF_INET6)
		return 0;
	/* Before the filter: every walk gives each socket of its namespace the
	 * cookie the descriptor walk then reads (it cannot create one). */
	record.cookie = bpf_get_socket_cookie(skc);
	record.state = skc->skc_state;
	/* A time-wait socket is filtered by its substate, the state it reports:
	 * an orphaned FIN_WAIT2 lives on as one. */
	if (record.state == TCP_TIME_WAIT)
		read_time_wait(skc, &record);
	if (tcp_iter_states && !((tcp_iter_states >> (record.state & 31)) & 1))
		return 0;
	record.kind = TL_REC_TCP_SOCKET;
	record.dport = bpf_ntohs(skc->skc_dport);
	record.netns = BPF_CORE_READ(skc, skc_net.net, ns.inum);
	record.uid = ctx->uid;
	record.read_ns = bpf_ktime_get_ns();
	if (record.state == TCP_NEW_SYN_RECV)
		read_request(skc, &record);
	else if (!(record.flags & TL_TCP_TIME_WAIT))
		read_full_socket(skc, &record);
	bpf_seq_write(ctx->meta->seq, &record, sizeof(record));
	return 0;
}
