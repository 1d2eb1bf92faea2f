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

/* Several listeners share a (netns, family, port) with SO_REUSEPORT or on
 * different addresses: each has a slot. Listens are rare, so the lookup and
 * update need not be atomic: a lost race only makes a port look shared
 * (no owner until accept()), never gives a connection a wrong owner (user
 * space also knows every listener of a port). */
static __always_inline void remember_listener_at(struct listener_key key, struct sock *sk, __u64 cookie)
{
	struct listener_sockets fresh = {};
	struct listener_sockets *value = bpf_map_lookup_elem(&listener_sockets, &key);
	int free = -1;

	if (!value) {
		fresh.sk[0] = (__u64)sk;
		fresh.cookie[0] = cookie;
		bpf_map_update_elem(&listener_sockets, &key, &fresh, BPF_NOEXIST);
		return;
	}
	for (int i = 0; i < TL_LISTENERS_PER_PORT; i++) {
		if (value->cookie[i] == cookie) {
			value->sk[i] = (__u64)sk;
			return;
		}
		if (!value->sk[i] && free < 0)
			free = i;
	}
	if (free < 0) {
		value->crowded = 1;
		return;
	}
	value->sk[free & (TL_LISTENERS_PER_PORT - 1)] = (__u64)sk;
	value->cookie[free & (TL_LISTENERS_PER_PORT - 1)] = cookie;
}

static __always_inline void remember_listener(struct sock *sk, struct tcp_sock *tp, __u64 cookie)
{
	remember_listener_at(listener_of(sk, tp), sk, cookie);
}

static __always_inline void forget_listener(struct sock *sk, struct tcp_sock *tp, __u64 cookie)
{
	struct listener_key key = listener_of(sk, tp);
	struct listener_sockets *value = bpf_map_lookup_elem(&listener_sockets, &key);
	bool left = false;

	if (!value)
		return;
	for (int i = 0; i < TL_LISTENERS_PER_PORT; i++) {
		if (value->cookie[i] == cookie) {
			value->sk[i] = 0;
			value->cookie[i] = 0;
		}
		left |= value->sk[i] != 0;
	}
	if (!left && !value->crowded)
		bpf_map_delete_elem(&listener_sockets, &key);
}

/* The listener of a connection on (netns, family, port) has more than one
 * file reference, or the port has several listeners, or none is known:
 * either way no single owner. A thread blocked in accept() holds a
 * reference too (multi-threaded servers): then the owner is only learned at
 * accept() - late, never wrong. */
static __always_inline bool listener_shared(struct sock *child, struct tcp_sock *tp)
{
	struct listener_key key = listener_of(child, tp);
	struct listener_sockets *value = bpf_map_lookup_elem(&listener_sockets, &key);
	struct sock *listener = NULL;
	__u64 cookie = 0;

	if (!value || value->crowded)
		return true;
	for (int i = 0; i < TL_LISTENERS_PER_PORT; i++) {
		if (!value->sk[i])
			continue;
		if (listener)
			return true; /* a second one */
		listener = (struct sock *)value->sk[i];
		cookie = value->cookie[i];
	}
	if (!listener || BPF_CORE_READ(listener, __sk_common.skc_cookie.counter) != cookie ||
	    BPF_CORE_READ(listener, __sk_common.skc_state) != TCP_LISTEN)
		return true;
	return file_refs(BPF_CORE_READ(listener, sk_socket, file)) != 1;
}
#endif /* TCPLEAK_LIB_LISTENERS */
