/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Descriptor-table scans (iter/task_file): the age estimate of a socket
 * already in CLOSE_WAIT, and the selection of sockets held by selected
 * processes at start-up.
 */
#ifndef TCPLEAK_LIB_ITERATORS
#define TCPLEAK_LIB_ITERATORS

#include "filters.bpf.h"


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
#endif /* TCPLEAK_LIB_ITERATORS */
