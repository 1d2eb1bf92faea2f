/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A TCP state change as a record (struct tl_transition).
 */
#ifndef TCPLEAK_LIB_TRANSITIONS
#define TCPLEAK_LIB_TRANSITIONS

#include "filters.bpf.h"
#include "listeners.bpf.h"
#include "owners.bpf.h"


static __always_inline void send_transition(struct sock *sk, struct tcp_sock *tp, int oldstate, int newstate,
					    __u64 cookie, __u8 flags, struct tl_cpu_counters *c)
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
	event->owner_pid = 0;
	event->ts_ns = bpf_ktime_get_ns();
	event->cookie = cookie;
	read_addresses(sk, tp, family, event->saddr, event->daddr);
	bpf_get_current_comm(event->ctx_comm, sizeof(event->ctx_comm));
	event->ctx_cgroup = 0;
	__builtin_memset(event->owner_comm, 0, TL_COMM_LEN);
	if (in_owner_context(oldstate, newstate)) {
		event->flags |= TL_F_OWNER_CONTEXT;
		event->owner_pid = event->ctx_pid;
		event->ctx_cgroup = bpf_get_current_cgroup_id();
		read_process_comm(bpf_get_current_task_btf(), event->owner_comm);
	} else if (cfg_kernel_owners && ((cfg_watch_states >> (newstate & 31)) & 1) &&
		   fill_known_owner(cookie, &event->owner_pid, event->owner_comm)) {
		event->flags |= TL_F_OWNER_KNOWN;
	}
	if (cfg_track_owners && oldstate == TCP_LISTEN && newstate == TCP_SYN_RECV && listener_shared(sk, tp))
		event->flags |= TL_F_LISTENER_SHARED;
	if (oldstate == TCP_CLOSE_WAIT || (cfg_mode == TL_MODE_LEAKS && ((cfg_watch_states >> (oldstate & 31)) & 1)))
		event->flags |= release_flags(sk);
	submit_counted(event, c);
}
#endif /* TCPLEAK_LIB_TRANSITIONS */
