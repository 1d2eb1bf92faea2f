/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The syscall register layout of each architecture, for the tp_btf
 * sys_enter/sys_exit fallback, and whether the current task makes 32-bit
 * (compat) syscalls.
 */
#ifndef TCPLEAK_LIB_SYSCALLS
#define TCPLEAK_LIB_SYSCALLS

#include "common.bpf.h"


#if defined(__TARGET_ARCH_x86)
#define SYSCALL_NR(regs) ((long)(regs)->orig_ax)
#define SYSCALL_ARG1(regs) ((regs)->di)
#define SYSCALL_ARG2(regs) ((regs)->si)
#define SYSCALL_ARG3(regs) ((regs)->dx)
#elif defined(__TARGET_ARCH_arm64)
#define SYSCALL_NR(regs) ((long)(regs)->syscallno)
#define SYSCALL_ARG1(regs) ((regs)->orig_x0)
#define SYSCALL_ARG2(regs) ((regs)->regs[1])
#define SYSCALL_ARG3(regs) ((regs)->regs[2])
#else
#error "tcpleak: add the syscall register layout for this architecture"
#endif

/* A 32-bit task's syscall numbers are another table (its 3 is read, not
 * close): the fallback skips them, as the syscalls:* events do on x86. */
static __always_inline bool compat_syscall(void)
{
#if defined(__TARGET_ARCH_x86)
	const __u32 ts_compat = 0x0002;

	return bpf_get_current_task_btf()->thread_info.status & ts_compat;
#elif defined(__TARGET_ARCH_arm64)
	const unsigned long tif_32bit = 1UL << 22;

	return bpf_get_current_task_btf()->thread_info.flags & tif_32bit;
#else
	return false;
#endif
}
#endif /* TCPLEAK_LIB_SYSCALLS */
