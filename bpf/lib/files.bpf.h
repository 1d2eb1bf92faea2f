/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Descriptors and files: the process name of a task, a file's reference
 * count, the file behind a descriptor of the current task, and the TCP
 * socket behind a file. Pointers read from descriptor tables are not trusted:
 * only CO-RE reads.
 */
#ifndef TCPLEAK_LIB_FILES
#define TCPLEAK_LIB_FILES

#include "common.bpf.h"


/* The process name (thread-group leader), as ps and ss -p show it. */
static __always_inline void read_process_comm(struct task_struct *task, char *comm)
{
	bpf_probe_read_kernel(comm, TL_COMM_LEN, BPF_CORE_READ(task, group_leader, comm));
}

/* Number of references to a file, across the f_count -> f_ref change (6.13). */
struct file___pre_6_13 {
	atomic_long_t f_count;
} __attribute__((preserve_access_index));

static __always_inline long file_refs(struct file *file)
{
	if (bpf_core_field_exists(file->f_ref)) {
		/* file_ref_t stores refs - 1; negative once released. */
		long raw = BPF_CORE_READ(file, f_ref.refcnt.counter);
		return raw < 0 ? 0 : raw + 1;
	}
	return BPF_CORE_READ((struct file___pre_6_13 *)file, f_count.counter);
}

/* The file behind descriptor fd of the current task, or NULL. The pointer is
 * read, not trusted: only CO-RE reads. */
static __always_inline struct file *current_file(long fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **slots;
	struct file *file = NULL;

	if (fd < 0 || !fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	slots = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&file, sizeof(file), &slots[fd]);
	return file;
}

/* The IPv4/IPv6 TCP socket behind a file, or NULL. */
static __always_inline struct sock *tcp_sock_of_file(struct file *file)
{
	struct socket *sock;
	struct sock *sk;
	__u16 family;

	if (!file || (BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return NULL;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	return family == AF_INET || family == AF_INET6 ? sk : NULL;
}
#endif /* TCPLEAK_LIB_FILES */
