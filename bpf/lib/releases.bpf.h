/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Descriptors going away while the socket lives on (dup, fork inheritance,
 * SCM_RIGHTS): close, close_range, dup2/dup3 over a descriptor, and the
 * descriptors a process drops when it exits. The first release of a socket
 * not yet in a watched state (CLOSE_WAIT, and those of leaks --state) is
 * kept (fd_releases) and sent when it enters one.
 */
#ifndef TCPLEAK_LIB_RELEASES
#define TCPLEAK_LIB_RELEASES

#include "filters.bpf.h"


/* A release recorded before the socket entered a watched state: send it now. */
static __always_inline void flush_fd_release(__u64 cookie)
{
	struct tl_fd_release *saved = bpf_map_lookup_elem(&fd_releases, &cookie);
	struct tl_fd_release *record;

	if (!saved)
		return;
	record = reserve(sizeof(*record));
	if (record) {
		__builtin_memcpy(record, saved, sizeof(*record));
		submit(record);
	}
	bpf_map_delete_elem(&fd_releases, &cookie);
}

static __always_inline void note_fd_release(long fd, __u8 via)
{
	struct tl_fd_release release = {};
	struct file *file = current_file(fd);
	struct tl_fd_release *record;
	struct sock *sk;
	long refs, err;

	/* Most closes drop a file's last reference: for a socket the state
	 * change itself tells. Checked first: it is one read. */
	if (!file || (refs = file_refs(file)) <= 1)
		return;
	sk = tcp_sock_of_file(file);
	if (!sk)
		return;
	release.cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (!release.cookie)
		return; /* never seen by tcpleak: no state to attach it to */
	if (cfg_select && !bpf_map_lookup_elem(&selected_sockets, &release.cookie))
		return;
	release.kind = TL_REC_FD_RELEASE;
	release.via = via;
	release.state = BPF_CORE_READ(sk, __sk_common.skc_state);
	release.pid = bpf_get_current_pid_tgid() >> 32;
	release.fd = fd;
	release.other_refs = refs - 1;
	release.ts_ns = bpf_ktime_get_ns();
	read_process_comm(bpf_get_current_task_btf(), release.comm);

	if ((cfg_watch_states >> (release.state & 31)) & 1) {
		record = reserve(sizeof(*record));
		if (record) {
			__builtin_memcpy(record, &release, sizeof(release));
			submit(record);
		}
		return;
	}
	/* The first release is the close() that did not take effect. */
	err = bpf_map_update_elem(&fd_releases, &release.cookie, &release, BPF_NOEXIST);
	if (err && err != -EEXIST)
		count(TL_CNT_RELEASE_MAP_UPDATE_FAILED);
}

/* dup2/dup3 release newfd only when they will succeed and put another file there. */
static __always_inline void note_dup(long oldfd, long newfd, __u8 via)
{
	struct file *old_file = current_file(oldfd);

	if (oldfd != newfd && old_file && old_file != current_file(newfd))
		note_fd_release(newfd, via);
}

struct close_range_ctx {
	long next_fd;
	long last_fd;
};

static long close_range_step(__u32 index, struct close_range_ctx *ctx)
{
	if (ctx->next_fd > ctx->last_fd)
		return 1;
	note_fd_release(ctx->next_fd, TL_RELEASE_CLOSE_RANGE);
	ctx->next_fd++;
	return 0;
}

static __always_inline void note_close_range(unsigned int first, unsigned int last, unsigned int flags)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct close_range_ctx ctx;
	unsigned long max_fds;

	if (flags & CLOSE_RANGE_CLOEXEC)
		return;
	max_fds = BPF_CORE_READ(task, files, fdt, max_fds);
	if (first >= max_fds || first > last)
		return;
	if (last >= max_fds)
		last = max_fds - 1;
	ctx.next_fd = first;
	ctx.last_fd = last;
	bpf_loop(MAX_CLOSE_RANGE_FDS, close_range_step, &ctx, 0);
}

struct exit_walk {
	unsigned long *open_fds; /* the fd table's bitmap of open descriptors */
	unsigned long bits;      /* the current word of it */
	__u32 max_fds;
};

static long exit_walk_step(__u32 fd, struct exit_walk *walk)
{
	if (fd >= walk->max_fds)
		return 1;
	if ((fd & 63) == 0) {
		walk->bits = 0;
		bpf_probe_read_kernel(&walk->bits, sizeof(walk->bits), &walk->open_fds[fd / 64]);
	}
	if (walk->bits & (1UL << (fd & 63)))
		note_fd_release(fd, TL_RELEASE_EXIT);
	return 0;
}

/* The exiting process's descriptors are about to be closed: those of
 * sockets that another descriptor keeps alive are releases like close(). */
static __always_inline void note_releases_at_exit(struct task_struct *task)
{
	struct files_struct *files = task->files;
	struct fdtable *fdt;
	struct exit_walk walk = {};

	if (!files || BPF_CORE_READ(files, count.counter) != 1)
		return; /* shared with another process: nothing is closed yet */
	fdt = BPF_CORE_READ(files, fdt);
	walk.open_fds = BPF_CORE_READ(fdt, open_fds);
	walk.max_fds = BPF_CORE_READ(fdt, max_fds);
	bpf_loop(MAX_CLOSE_RANGE_FDS, exit_walk_step, &walk, 0);
}
struct exec_walk {
	unsigned long *open_fds;      /* the fd table's bitmap of open descriptors */
	unsigned long *close_on_exec; /* and of those marked O_CLOEXEC */
	unsigned long bits;           /* the current word of both */
	__u32 max_fds;
};

static long exec_walk_step(__u32 fd, struct exec_walk *walk)
{
	unsigned long open = 0;

	if (fd >= walk->max_fds)
		return 1;
	if ((fd & 63) == 0) {
		walk->bits = 0;
		bpf_probe_read_kernel(&open, sizeof(open), &walk->open_fds[fd / 64]);
		bpf_probe_read_kernel(&walk->bits, sizeof(walk->bits), &walk->close_on_exec[fd / 64]);
		walk->bits &= open;
	}
	if (walk->bits & (1UL << (fd & 63)))
		note_fd_release(fd, TL_RELEASE_EXEC);
	return 0;
}

/* sched_prepare_exec runs past the point of no return and before the
 * O_CLOEXEC descriptors are closed: the exec (or the death that follows a
 * failure from here on) drops them. Not when the table is shared with
 * another process (CLONE_FILES): exec gives this one a copy and the other
 * keeps its descriptors. Its own threads die with the exec. */
static __always_inline void note_releases_at_exec(struct task_struct *task)
{
	struct files_struct *files = task->files;
	struct exec_walk walk = {};
	struct fdtable *fdt;

	if (!files || BPF_CORE_READ(files, count.counter) > BPF_CORE_READ(task, signal, nr_threads))
		return;
	fdt = BPF_CORE_READ(files, fdt);
	walk.open_fds = BPF_CORE_READ(fdt, open_fds);
	walk.close_on_exec = BPF_CORE_READ(fdt, close_on_exec);
	walk.max_fds = BPF_CORE_READ(fdt, max_fds);
	bpf_loop(MAX_CLOSE_RANGE_FDS, exec_walk_step, &walk, 0);
}
#endif /* TCPLEAK_LIB_RELEASES */
