/* SPDX-License-Identifier: GPL-2.0 */
/*
 * accept()/accept4() returning: who accepted which socket (struct tl_accept).
 * Its next transitions run in softirq, on whatever task is on the CPU.
 */
#ifndef TCPLEAK_LIB_ACCEPT
#define TCPLEAK_LIB_ACCEPT

#include "filters.bpf.h"
#include "owners.bpf.h"


/* accept() returned fd: the caller owns the socket behind it. trace is told
 * (an accept record for its attribution); leaks and run remember it in the
 * kernel's owners LRU. */
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
	if (cfg_kernel_owners)
		remember_owner(cookie);
	if (!cfg_track_owners || !passes_socket_filters(sk))
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
#endif /* TCPLEAK_LIB_ACCEPT */
