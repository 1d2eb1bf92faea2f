/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Socket scans: descriptor tables (iter/task_file) and the TCP table
 * (iter/tcp). The age of a socket already in CLOSE_WAIT, the selection of
 * sockets held by selected processes at start-up, and the fields of a socket
 * the TCP table reports.
 */
#ifndef TCPLEAK_LIB_ITERATORS
#define TCPLEAK_LIB_ITERATORS

#include "filters.bpf.h"
#include "listeners.bpf.h"


/* Jiffies into nanoseconds (0 when HZ is not known). */
static __always_inline __u64 jiffies_to_ns(__u64 jiffies)
{
	return CONFIG_HZ ? jiffies * (NSEC_PER_SEC / CONFIG_HZ) : 0;
}

/* A strict lower bound of the time a socket has spent in CLOSE_WAIT: the
 * FIN's arrival set rcv_tstamp, later ACKs only move it on; one jiffy less,
 * since both ends of the difference are rounded down to a jiffy. */
static __always_inline __u64 close_wait_age_since(__u32 rcv_tstamp)
{
	__u32 elapsed = (__u32)bpf_jiffies64() - rcv_tstamp;

	return elapsed > 1 ? jiffies_to_ns(elapsed - 1) : 0;
}

static __always_inline __u64 close_wait_age_ns(struct tcp_sock *tp)
{
	return close_wait_age_since(tp->rcv_tstamp);
}

/* Milliseconds until a timer at `expires` (jiffies) fires; 0 when due. */
static __always_inline __u32 timer_left_ms(unsigned long expires)
{
	long left = (long)(expires - bpf_jiffies64());

	return left > 0 ? jiffies_to_ns(left) / 1000000 : 0;
}

/* Start-up: a socket held by a selected process is selected (and so are the
 * connections its listeners receive). */
static __always_inline void select_existing(struct sock *sk, __u16 sport, __u64 cookie,
					    struct task_struct *task, const char *comm)
{
	struct listener_key listener;
	__u8 yes = 1;

	if (!owner_selected(task->tgid, comm))
		return;
	select_socket(cookie);
	if (sk->__sk_common.skc_state == TCP_LISTEN) {
		listener = listener_at(sk, sport);
		if (bpf_map_update_elem(&selected_listeners, &listener, &yes, BPF_ANY))
			count(TL_CNT_SELECTED_FULL);
	}
}
/* The fields of a socket reached from a file (the descriptor walk). Since
 * 6.18.44 (and the stable kernels with the same change) the verifier does
 * not trust that pointer: its struct sock fields load directly, but no
 * helper takes it and it cannot be seen as a tcp_sock, so the tcp_sock
 * fields are probe reads, which every kernel accepts. */
static __always_inline void read_file_socket(struct sock *sk, __u16 family, struct tl_socket *r)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;

	r->sport = bpf_ntohs(BPF_CORE_READ(tp, inet_conn.icsk_inet.inet_sport));
	r->rx_queue = unread_bytes(sk, BPF_CORE_READ(tp, rcv_nxt), BPF_CORE_READ(tp, copied_seq), r->state);
	if (r->state == TCP_CLOSE_WAIT) {
		r->cw_age_ns = close_wait_age_since(BPF_CORE_READ(tp, rcv_tstamp));
		if (r->cw_age_ns)
			r->flags |= TL_SOCK_AGE_KNOWN;
	}
	if (family == AF_INET) {
		__u32 src = BPF_CORE_READ(tp, inet_conn.icsk_inet.inet_saddr);
		__u32 dst = sk->__sk_common.skc_daddr;

		__builtin_memcpy(r->saddr, &src, 4);
		__builtin_memcpy(r->daddr, &dst, 4);
	} else {
		__builtin_memcpy(r->saddr, sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
		__builtin_memcpy(r->daddr, sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8, 16);
	}
}

/* A full socket's fields for the TCP-table record. */
static __always_inline void read_full_socket(struct sock_common *skc, struct tl_tcp_socket *r)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);
	struct inet_connection_sock *icsk;
	struct sock *sk;
	__u8 pending;

	if (!tp)
		return;
	sk = (struct sock *)tp; /* its first member: the helper's result is trusted */
	icsk = &tp->inet_conn;
	if (!sk->sk_socket)
		r->flags |= TL_TCP_ORPHAN;
	r->sport = local_port(tp);
	r->uid = sk->sk_uid.val;
	r->rx_queue = receive_queue_bytes(sk, tp, r->state);
	r->tx_queue = r->state == TCP_LISTEN ? 0 : tp->write_seq - tp->snd_una;
	r->snd_wnd = tp->snd_wnd;
	r->total_retrans = tp->total_retrans;
	r->retransmits = icsk->icsk_retransmits;
	r->probes_out = icsk->icsk_probes_out;
	r->backoff = icsk->icsk_backoff;
	pending = icsk->icsk_pending;
	if (pending == 1 /* ICSK_TIME_RETRANS */ || pending == 5 /* ICSK_TIME_LOSS_PROBE */) {
		r->timer = TL_TIMER_RETRANSMIT;
		r->timer_left_ms = timer_left_ms(icsk->icsk_retransmit_timer.expires);
	} else if (pending == 3 /* ICSK_TIME_PROBE0 */) {
		r->timer = TL_TIMER_PROBE;
		r->timer_left_ms = timer_left_ms(icsk->icsk_retransmit_timer.expires);
	} else if (sk->sk_timer.entry.pprev) {
		r->timer = TL_TIMER_KEEPALIVE;
		r->timer_left_ms = timer_left_ms(sk->sk_timer.expires);
	}
	if (r->state == TCP_CLOSE_WAIT) {
		r->age_ns = close_wait_age_ns(tp);
		r->flags |= TL_TCP_AGE_KNOWN;
	}
	read_addresses(sk, tp, r->family, r->saddr, r->daddr);
}

static __always_inline void read_common_addresses(struct sock_common *skc, struct tl_tcp_socket *r)
{
	r->sport = skc->skc_num;
	if (r->family == AF_INET) {
		__builtin_memcpy(r->saddr, &skc->skc_rcv_saddr, 4);
		__builtin_memcpy(r->daddr, &skc->skc_daddr, 4);
	} else {
		__builtin_memcpy(r->saddr, skc->skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
		__builtin_memcpy(r->daddr, skc->skc_v6_daddr.in6_u.u6_addr8, 16);
	}
}

/* A time-wait mini socket: its substate is what ss shows (FIN_WAIT2 for an
 * orphan whose FIN_WAIT2 timeout runs in one). */
static __always_inline void read_time_wait(struct sock_common *skc, struct tl_tcp_socket *r)
{
	struct tcp_timewait_sock *tw = bpf_skc_to_tcp_timewait_sock(skc);

	r->flags |= TL_TCP_TIME_WAIT | TL_TCP_ORPHAN;
	read_common_addresses(skc, r);
	if (!tw)
		return;
	r->state = tw->tw_sk.tw_substate;
	r->timer = TL_TIMER_TIME_WAIT;
	r->timer_left_ms = timer_left_ms(tw->tw_sk.tw_timer.expires);
}

static __always_inline void read_request(struct sock_common *skc, struct tl_tcp_socket *r)
{
	struct tcp_request_sock *treq = bpf_skc_to_tcp_request_sock(skc);
	__u64 now_us = bpf_ktime_get_ns() / 1000;

	r->flags |= TL_TCP_REQUEST | TL_TCP_ORPHAN;
	read_common_addresses(skc, r);
	if (!treq)
		return;
	r->retransmits = treq->req.req.num_retrans;
	r->timer = TL_TIMER_SYNACK;
	r->timer_left_ms = timer_left_ms(treq->req.req.rsk_timer.expires);
	if (now_us > treq->snt_synack) {
		r->age_ns = (now_us - treq->snt_synack) * 1000;
		r->flags |= TL_TCP_AGE_KNOWN;
	}
}
#endif /* TCPLEAK_LIB_ITERATORS */
