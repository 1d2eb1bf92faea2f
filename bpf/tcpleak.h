/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Records shared by the BPF programs (tcpleak.bpf.c) and the C++ consumer.
 * Plain C, fixed-width types only; every record starts with a one-byte kind.
 * The C++ side static_asserts the sizes (src/records.cpp).
 */
#ifndef TCPLEAK_H
#define TCPLEAK_H

#define TL_COMM_LEN 16
#define TL_ARGS_LEN 256

/* First byte of every record. */
enum tl_record_kind {
	TL_REC_TRANSITION = 1, /* struct tl_transition: a TCP state change */
	TL_REC_FD_RELEASE = 2, /* struct tl_fd_release: an fd of a still-referenced socket went away */
	TL_REC_PROC = 3,       /* struct tl_proc: fork/exec/exit of a traced process (run mode) */
	TL_REC_SOCKET = 4,     /* struct tl_socket: one (socket, holder fd) pair from the fd-table iterator */
	TL_REC_ACCEPT = 5,     /* struct tl_accept: accept()/accept4() returned a socket */
	TL_REC_TCP_SOCKET = 6, /* struct tl_tcp_socket: one socket of the kernel's TCP table (iter/tcp) */
};

/* What the kernel side forwards (load-time config). */
enum tl_mode {
	TL_MODE_TRACE = 0, /* every transition that passes the filters */
	TL_MODE_LEAKS = 1, /* what leak tracking needs: CLOSE_WAIT, fd releases (and owners for run) */
};

/* tl_transition.flags */
#define TL_F_OWNER_CONTEXT 0x01 /* connect()/listen(): the on-CPU task is the owner */
#define TL_F_CONTEXT_ONLY  0x02 /* filtered out: sent only for attribution or timing, not to print */
#define TL_F_TASK_EXITING  0x04 /* the on-CPU task is exiting (PF_EXITING) */
#define TL_F_HAS_FILE      0x08 /* a file (some descriptor) still references the socket */
#define TL_F_FILE_RELEASED 0x10 /* the socket's last file reference is being released: close() */
#define TL_F_OWNER_KNOWN   0x20 /* leaks/run, into a watched state: owner_* is who connected or accepted it */
#define TL_F_LISTENER_SHARED 0x40 /* LISTEN -> SYN_RECV (trace): the listener's file has more than one
				   * reference (forked workers, a dup) or is unknown: no single owner
				   * until accept() */

/* trace keeps no per-socket state in the kernel: user space ties its
 * transitions to owners from the owner-context transitions, accept records
 * and the descriptor tables (src/core/attribution.cpp). leaks and run get
 * the owner of a socket entering CLOSE_WAIT from the kernel's small LRU of
 * connect()/accept() owners (TL_F_OWNER_KNOWN): no record per connection. */
struct tl_transition {
	__u8 kind; /* TL_REC_TRANSITION */
	__u8 family; /* AF_INET or AF_INET6 */
	__u8 old_state;
	__u8 new_state;
	__u8 flags; /* TL_F_* */
	__u8 pad[3];
	__u16 sport; /* host byte order */
	__u16 dport;
	__u32 ctx_pid; /* tgid of the task on the CPU (often unrelated: softirq) */
	__u32 uid; /* socket uid */
	__u32 netns; /* network namespace inode */
	__u32 rx_queue; /* unread bytes in the receive queue */
	__u32 owner_pid; /* TL_F_OWNER_CONTEXT: ctx_pid; TL_F_OWNER_KNOWN: the remembered owner */
	__u64 ts_ns; /* CLOCK_MONOTONIC */
	__u64 cookie; /* socket cookie, as `ss -e` prints it */
	__u64 ctx_cgroup; /* cgroup v2 id of that task (owner context only) */
	__u8 saddr[16]; /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
	char ctx_comm[TL_COMM_LEN]; /* thread name */
	char owner_comm[TL_COMM_LEN]; /* process name of owner_pid (either owner flag) */
};

/* The value of the owners LRU (leaks/run), by cookie: who connected or
 * accepted the socket. User space reads it too, for sockets a scan found. */
struct tl_owner {
	__u32 pid;
	char comm[TL_COMM_LEN];
};

/* accept()/accept4() returned fd for the socket with this cookie. */
struct tl_accept {
	__u8 kind; /* TL_REC_ACCEPT */
	__u8 pad[3];
	__u32 pid; /* tgid */
	__u32 fd;
	__u32 pad2;
	__u64 ts_ns;
	__u64 cookie;
	__u64 cgroup;
	char comm[TL_COMM_LEN]; /* process name */
};

/* How a descriptor went away. */
enum tl_release_via {
	TL_RELEASE_CLOSE = 1,
	TL_RELEASE_CLOSE_RANGE = 2,
	TL_RELEASE_DUP2 = 3,
	TL_RELEASE_DUP3 = 4,
	TL_RELEASE_EXIT = 5, /* the process exited */
	TL_RELEASE_EXEC = 6, /* exec() dropped an O_CLOEXEC descriptor */
};

/*
 * A descriptor of a TCP socket was released while other references keep the
 * socket alive (dup, fork inheritance, SCM_RIGHTS). Sent right away for
 * sockets in CLOSE_WAIT; for other sockets it is kept in the kernel and sent
 * after the socket's transition into CLOSE_WAIT.
 */
struct tl_fd_release {
	__u8 kind; /* TL_REC_FD_RELEASE */
	__u8 via; /* enum tl_release_via */
	__u8 state; /* socket state when the descriptor went away */
	__u8 pad;
	__u32 pid; /* tgid that released it */
	__u32 fd;
	__u32 other_refs; /* file references left after this release */
	__u64 ts_ns;
	__u64 cookie;
	char comm[TL_COMM_LEN];
};

enum tl_proc_event {
	TL_PROC_FORK = 1,
	TL_PROC_EXEC = 2,
	TL_PROC_EXIT = 3,
};

/* run mode: the life of a traced process. */
struct tl_proc {
	__u8 kind; /* TL_REC_PROC */
	__u8 event; /* enum tl_proc_event */
	__u16 args_len; /* bytes of args, NUL-separated argv (exec) */
	__u32 pid;
	__u32 ppid;
	__s32 exit_code; /* wait(2) status encoding (exit) */
	__u64 ts_ns;
	char comm[TL_COMM_LEN];
	char args[TL_ARGS_LEN];
};

/* tl_socket.flags */
#define TL_SOCK_AGE_KNOWN 0x01 /* cw_age_ns is a lower bound, from the last segment received */

/* One (socket, descriptor) pair, written by the fd-table iterator. */
struct tl_socket {
	__u8 kind; /* TL_REC_SOCKET */
	__u8 family;
	__u8 state;
	__u8 flags; /* TL_SOCK_* */
	__u16 sport;
	__u16 dport;
	__u32 pid; /* holder tgid */
	__u32 fd; /* holder descriptor */
	__u32 rx_queue;
	__u32 uid;
	__u32 netns;
	__u32 pad2;
	__u64 cookie;
	__u64 cw_age_ns; /* CLOSE_WAIT sockets: lower bound of the time spent there, as of read_ns */
	__u64 cgroup; /* holder's cgroup v2 id */
	__u64 read_ns; /* CLOCK_MONOTONIC when the socket was read */
	__u8 saddr[16];
	__u8 daddr[16];
	char comm[TL_COMM_LEN]; /* holder's process name */
};

/* What the fd-table iterator does on its next run. */
enum tl_iter_mode {
	TL_ITER_SEED = 1,   /* report every socket, so its holders become owners of sockets older than tcpleak */
	TL_ITER_STATES = 2, /* report every (socket, descriptor) with the socket in iter_states: in every
			     * network namespace */
};

/* tl_tcp_socket.flags */
#define TL_TCP_ORPHAN 0x01    /* no file references it: no descriptor can hold it */
#define TL_TCP_TIME_WAIT 0x02 /* a time-wait mini socket; state is its substate (FIN_WAIT2 of an orphan) */
#define TL_TCP_REQUEST 0x04   /* a connection request (NEW_SYN_RECV mini socket) */
#define TL_TCP_AGE_KNOWN 0x08 /* age_ns is meaningful */

/* tl_tcp_socket.timer: what the socket is waiting for. */
enum tl_timer {
	TL_TIMER_NONE = 0,
	TL_TIMER_RETRANSMIT = 1, /* a segment (our FIN, say) is being retransmitted */
	TL_TIMER_PROBE = 2,      /* zero-window probes: the peer's window is closed */
	TL_TIMER_KEEPALIVE = 3,  /* sk_timer: keepalive, or the FIN_WAIT2 timeout of an orphan */
	TL_TIMER_TIME_WAIT = 4,  /* a time-wait socket's end */
	TL_TIMER_SYNACK = 5,     /* a request's SYN-ACK retransmission */
};

/* One socket of the kernel's TCP table (iter/tcp, per network namespace):
 * full sockets, time-wait and request mini sockets. */
struct tl_tcp_socket {
	__u8 kind; /* TL_REC_TCP_SOCKET */
	__u8 family;
	__u8 state;
	__u8 flags; /* TL_TCP_* */
	__u16 sport;
	__u16 dport;
	__u32 netns;
	__u32 uid;
	__u32 rx_queue;      /* unread bytes (listeners: the accept backlog) */
	__u32 tx_queue;      /* bytes sent or queued and not acknowledged (write_seq - snd_una) */
	__u32 snd_wnd;       /* the peer's receive window, as last advertised */
	__u32 total_retrans; /* segments retransmitted over the socket's life */
	__u32 timer_left_ms; /* until the pending timer fires; 0: none or due */
	__u8 timer;          /* enum tl_timer */
	__u8 retransmits;    /* unanswered retransmissions (or SYN-ACKs) of the current segment */
	__u8 probes_out;     /* unanswered zero-window or keepalive probes */
	__u8 backoff;
	__u32 pad;
	__u64 cookie;
	__u64 read_ns; /* CLOCK_MONOTONIC when it was read */
	__u64 age_ns;  /* TL_TCP_AGE_KNOWN: CLOSE_WAIT, a lower bound of the time there; request, since the SYN-ACK */
	__u8 saddr[16];
	__u8 daddr[16];
};

/*
 * Per-CPU counters, summed and named by user space: the second column is
 * the counter's key in the "kernel" object of the JSON records and reports.
 * A new counter is one more line here (and its key in the JSON schemas).
 */
#define TL_COUNTERS(X)                                                                              \
	X(TL_CNT_TRANSITIONS, transitions_seen)        /* transitions seen, before filtering */         \
	X(TL_CNT_SENT, sent)                           /* records handed to the ring buffer */          \
	X(TL_CNT_LOST, lost)                           /* records dropped: ring buffer full */          \
	X(TL_CNT_SELECTED_FULL, selected_full)         /* a selected socket or listener not remembered: \
							  map full (filters, run) */                    \
	X(TL_CNT_RELEASE_MAP_UPDATE_FAILED, release_map_update_failed) /* fd release not remembered */  \
	X(TL_CNT_PIDS_FULL, pids_full)                 /* forked child not tracked: pid map full */ \
	X(TL_CNT_UNNAMED_SOCKETS, unnamed_sockets)     /* descriptor walk: a socket past CLOSE with no cookie yet, skipped */

enum tl_counter {
#define TL_COUNTER_ENUM(name, key) name,
	TL_COUNTERS(TL_COUNTER_ENUM)
#undef TL_COUNTER_ENUM
	TL_CNT_MAX,
};

/* The one value of the per-CPU `counters` map: the counters, leaks/run's
 * transitions per (old, new) state (index old * 16 + new: not all of them
 * are forwarded), and the records sent since the last forced wakeup. One
 * lookup per program run. User space reads it as is (src/kernel). */
struct tl_cpu_counters {
	__u64 values[TL_CNT_MAX];
	__u64 unwoken;
	__u64 transitions[256];
};

#endif /* TCPLEAK_H */
