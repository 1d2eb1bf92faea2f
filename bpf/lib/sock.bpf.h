/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fields of a TCP socket as the records carry them: ports, addresses, the
 * listener key, unread bytes, and how a socket leaving CLOSE_WAIT is being
 * released.
 */
#ifndef TCPLEAK_LIB_SOCK
#define TCPLEAK_LIB_SOCK

#include "files.bpf.h"
#include "maps.bpf.h"


/* inet_sport, not skc_num: skc_num is already 0 when a socket reaches CLOSE. */
static __always_inline __u16 local_port(struct tcp_sock *tp)
{
	return bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport);
}

static __always_inline struct listener_key listener_at(struct sock *sk, __u16 port)
{
	struct listener_key key = {
		.netns = sk->__sk_common.skc_net.net->ns.inum,
		.family = sk->__sk_common.skc_family,
		.port = port,
	};
	return key;
}

static __always_inline struct listener_key listener_of(struct sock *sk, struct tcp_sock *tp)
{
	return listener_at(sk, local_port(tp));
}

/* Unread bytes, as SIOCINQ counts them: the FIN takes a sequence number
 * but is not data. */
static __always_inline __u32 unread_bytes(struct sock *sk, __u32 rcv_nxt, __u32 copied_seq, int state)
{
	__u32 unread;

	if (state == TCP_LISTEN)
		return sk->sk_ack_backlog;
	unread = rcv_nxt - copied_seq;
	if ((int)unread < 0)
		return 0;
	if (unread && (sk->__sk_common.skc_flags & (1UL << SOCK_DONE)))
		unread--;
	return unread;
}

static __always_inline __u32 receive_queue_bytes(struct sock *sk, struct tcp_sock *tp, int state)
{
	return unread_bytes(sk, tp->rcv_nxt, tp->copied_seq, state);
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
#endif /* TCPLEAK_LIB_SOCK */
