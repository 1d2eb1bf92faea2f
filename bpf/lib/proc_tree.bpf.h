/* SPDX-License-Identifier: GPL-2.0 */
/*
 * run: the life of the traced process tree (struct tl_proc).
 */
#ifndef TCPLEAK_LIB_PROC_TREE
#define TCPLEAK_LIB_PROC_TREE

#include "records.bpf.h"


static __always_inline struct tl_proc *reserve_proc(__u8 event, __u32 pid)
{
	struct tl_proc *record = reserve(sizeof(*record));

	if (!record)
		return NULL;
	record->kind = TL_REC_PROC;
	record->event = event;
	record->args_len = 0;
	record->pid = pid;
	record->ppid = 0;
	record->exit_code = 0;
	record->ts_ns = bpf_ktime_get_ns();
	return record;
}
#endif /* TCPLEAK_LIB_PROC_TREE */
