/* SPDX-License-Identifier: GPL-2.0 */
/*
 * leaks/run: the owner of a socket (who connected or accepted it), kept in
 * the kernel's owners LRU and sent with the socket's entry into CLOSE_WAIT,
 * which runs in softirq on whatever task is on the CPU.
 */
#ifndef TCPLEAK_LIB_OWNERS
#define TCPLEAK_LIB_OWNERS

#include "files.bpf.h"
#include "maps.bpf.h"

/* The current task (connect()/accept() is running in it) owns cookie. */
static __always_inline void remember_owner(__u64 cookie)
{
	struct tl_owner owner = {};

	owner.pid = bpf_get_current_pid_tgid() >> 32;
	read_process_comm(bpf_get_current_task_btf(), owner.comm);
	bpf_map_update_elem(&owners, &cookie, &owner, BPF_ANY);
}

/* The remembered owner into a transition record; false when there is none. */
static __always_inline bool fill_known_owner(__u64 cookie, __u32 *pid, char *comm)
{
	struct tl_owner *owner = bpf_map_lookup_elem(&owners, &cookie);

	if (!owner)
		return false;
	*pid = owner->pid;
	__builtin_memcpy(comm, owner->comm, TL_COMM_LEN);
	return true;
}
#endif /* TCPLEAK_LIB_OWNERS */
