/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every map of the kernel side. Sizes are defaults: user space shrinks the
 * ones a mode does not use (their memory is charged at load) and sizes the
 * ring buffer.
 */
#ifndef TCPLEAK_LIB_MAPS
#define TCPLEAK_LIB_MAPS

#include "common.bpf.h"


struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by user space */
} events SEC(".maps");

/* -p PIDs (trace, leaks), or the traced process tree (run). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} selected_pids SEC(".maps");

/* Sockets of selected owners (cfg_select), by cookie, until they close. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} selected_sockets SEC(".maps");

/* Listening sockets of selected owners: the connections they receive are
 * selected too (until accepted by someone unselected). */
struct listener_key {
	__u32 netns;
	__u16 family;
	__u16 port;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct listener_key);
	__type(value, __u8);
} selected_listeners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);
	__type(value, __u8);
} filter_ports SEC(".maps");

/* The first descriptor release of a still-referenced socket, by cookie,
 * until the socket enters CLOSE_WAIT (then it is sent to user space). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct tl_fd_release);
} fd_releases SEC(".maps");

/* leaks/run: who connected or accepted a socket, by cookie, sent when the
 * socket enters CLOSE_WAIT; deleted when it closes, so it holds live sockets
 * only. An LRU: past 131,072 live sockets the least recently used entries go
 * (uncounted by the kernel), and such a socket's owner is reported unknown
 * (null), never guessed. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 131072);
	__type(key, __u64);
	__type(value, struct tl_owner);
} owners SEC(".maps");

/* trace: the listening socket of each (netns, family, port), so that a
 * connection it receives can tell whether its file is shared (forked
 * workers): the socket's address, read only through CO-RE reads and checked
 * against its cookie (it may have been freed and reused). */
#define TL_LISTENERS_PER_PORT 4

struct listener_sockets {
	__u64 sk[TL_LISTENERS_PER_PORT];     /* 0: a free slot */
	__u64 cookie[TL_LISTENERS_PER_PORT];
	__u8 crowded; /* more listeners than slots: treated as shared */
	__u8 pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct listener_key);
	__type(value, struct listener_sockets);
} listener_sockets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tl_cpu_counters);
} counters SEC(".maps");
#endif /* TCPLEAK_LIB_MAPS */
