/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What is forwarded: owner filters (-p, -c, run's tree: the selected
 * sockets and listeners), socket filters (-4/-6, --port), trace --state, and
 * what leak tracking needs.
 */
#ifndef TCPLEAK_LIB_FILTERS
#define TCPLEAK_LIB_FILTERS

#include "sock.bpf.h"
#include "records.bpf.h"


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

/* What leak tracking needs: entering and leaving the watched states (the
 * owner comes with the entry; holders and descriptor releases from the other
 * hooks). */
static __always_inline bool leaks_forwards(int oldstate, int newstate)
{
	return ((cfg_watch_states >> (oldstate & 31)) & 1) || ((cfg_watch_states >> (newstate & 31)) & 1);
}
#endif /* TCPLEAK_LIB_FILTERS */
