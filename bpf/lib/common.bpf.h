/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every part of the kernel side includes: kernel types (CO-RE), libbpf's
 * helpers, the records shared with user space, and a few kernel constants
 * that vmlinux.h does not carry (they are macros in the kernel).
 */
#ifndef TCPLEAK_LIB_COMMON
#define TCPLEAK_LIB_COMMON


#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "tcpleak.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define EEXIST 17
#define PF_EXITING 0x00000004
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#define NSEC_PER_SEC 1000000000ULL
#define MAX_CLOSE_RANGE_FDS (1U << 16)

#endif /* TCPLEAK_LIB_COMMON */
