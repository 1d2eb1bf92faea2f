/* SPDX-License-Identifier: GPL-2.0 */
/*
 * trace: is a new connection's listener shared? A listening socket inherited
 * across fork() (nginx's workers, a prefork server) or dup()ed has several
 * descriptors, so the connection it receives has no single owner until
 * accept(): user space then gives it none. The child socket has no pointer
 * back to its listener, so the listener of each (netns, family, port) is
 * kept in listener_sockets, from listen() and from the start-up scan.
 */
#ifndef TCPLEAK_LIB_LISTENERS
#define TCPLEAK_LIB_LISTENERS

#include "sock.bpf.h"

static __always_inline void remember_listener(struct sock *sk, struct tcp_sock *tp, __u64 cookie)
{
	struct listener_key key = listener_of(sk, tp);
	struct listener_socket value = {.sk = (__u64)sk, .cookie = cookie};

	bpf_map_update_elem(&listener_sockets, &key, &value, BPF_ANY);
}

static __always_inline void forget_listener(struct sock *sk, struct tcp_sock *tp, __u64 cookie)
{
	struct listener_key key = listener_of(sk, tp);
	struct listener_socket *value = bpf_map_lookup_elem(&listener_sockets, &key);

	if (value && value->cookie == cookie)
		bpf_map_delete_elem(&listener_sockets, &key);
}

/* The listener of a connection on (netns, family, port) has more than one
 * file reference, or is not known: either way no single owner. A thread
 * blocked in accept() holds a reference too (multi-threaded servers): then
 * the owner is only learned at accept() - late, never wrong. */
static __always_inline bool listener_shared(struct sock *child, struct tcp_sock *tp)
{
	struct listener_key key = listener_of(child, tp);
	struct listener_socket *value = bpf_map_lookup_elem(&listener_sockets, &key);
	struct sock *listener;

	if (!value)
		return true;
	listener = (struct sock *)value->sk;
	if (BPF_CORE_READ(listener, __sk_common.skc_cookie.counter) != value->cookie ||
	    BPF_CORE_READ(listener, __sk_common.skc_state) != TCP_LISTEN)
		return true;
	return file_refs(BPF_CORE_READ(listener, sk_socket, file)) != 1;
}
#endif /* TCPLEAK_LIB_LISTENERS */
