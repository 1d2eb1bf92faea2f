/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Load-time configuration (const volatile: set by user space between open
 * and load, so the verifier prunes what a mode does not use) and the one
 * variable user space changes at run time.
 */
#ifndef TCPLEAK_LIB_CONFIG
#define TCPLEAK_LIB_CONFIG

#include "common.bpf.h"


/* ---- load-time configuration (set by user space before load) ---- */
const volatile __u8 cfg_mode = TL_MODE_TRACE;
const volatile __u8 cfg_select = 0;       /* forward only sockets of selected owners */
const volatile __u8 cfg_track_owners = 1; /* send what user-space attribution needs (trace: connect,
					     * listen, accept, CLOSE) */
const volatile __u8 cfg_kernel_owners = 0; /* leaks/run: remember who connected or accepted each socket
					     * (owners LRU) and send it when the socket enters CLOSE_WAIT */
const volatile __u8 cfg_watch_exec = 0;    /* leaks/run: sched_prepare_exec is attached (CLOEXEC releases) */
/* leaks/run: the transitions into and out of these states (bit per state)
 * are forwarded: CLOSE_WAIT, and the closing states of leaks --state. */
const volatile __u32 cfg_watch_states = 1 << TCP_CLOSE_WAIT;
const volatile __u8 cfg_filter_pids = 0;  /* a selected owner is in selected_pids */
const volatile __u8 cfg_filter_comm = 0;  /* a selected owner is named cfg_comm */
const volatile char cfg_comm[TL_COMM_LEN] = {};
const volatile __u8 cfg_filter_ports = 0; /* local or remote port in filter_ports */
const volatile __u8 cfg_family = 0;       /* 0: both */
/* trace --state: transitions into or out of these states are printed (0: all);
 * transitions into cfg_timing_states are sent too, so that user space knows
 * when a printed transition's old state began. */
const volatile __u32 cfg_print_states = 0;
const volatile __u32 cfg_timing_states = 0;
const volatile __u32 cfg_wakeup_records = 4096; /* per CPU: force a wakeup every this many */
const volatile long cfg_nr_accept = -1;
const volatile long cfg_nr_accept4 = -1;
const volatile long cfg_nr_close = -1;
const volatile long cfg_nr_close_range = -1;
const volatile long cfg_nr_dup2 = -1;
const volatile long cfg_nr_dup3 = -1;

extern int CONFIG_HZ __kconfig __weak;

/* ---- runtime state set by user space ---- */
__u8 iter_mode = TL_ITER_SEED;
__u32 iter_states = 1 << TCP_CLOSE_WAIT; /* TL_ITER_STATES: these states (bit per state) */
__u32 tcp_iter_states = 0; /* iter/tcp reports sockets in these states (bit per state); 0: all */
#endif /* TCPLEAK_LIB_CONFIG */
