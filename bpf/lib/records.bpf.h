/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Records into the ring buffer: reserve (a failure is counted as lost),
 * submit with batched wakeups, and the per-CPU counters (enum tl_counter).
 */
#ifndef TCPLEAK_LIB_RECORDS
#define TCPLEAK_LIB_RECORDS

#include "maps.bpf.h"
#include "config.bpf.h"


static __always_inline struct tl_cpu_counters *cpu_counters(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&counters, &zero);
}

/* Atomic although per CPU: a softirq may interrupt another program here. */
static __always_inline void count(__u32 which)
{
	struct tl_cpu_counters *c = cpu_counters();

	if (c && which < TL_CNT_MAX)
		__sync_fetch_and_add(&c->values[which], 1);
}

static __always_inline void *reserve(__u64 size)
{
	void *record = bpf_ringbuf_reserve(&events, size, 0);

	if (!record)
		count(TL_CNT_LOST);
	return record;
}

/* Batched wakeups: one per cfg_wakeup_records records per CPU (one per
 * record costs ~20x); user space also polls every 50 ms. */
static __always_inline void submit_counted(void *record, struct tl_cpu_counters *c)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (c) {
		__sync_fetch_and_add(&c->values[TL_CNT_SENT], 1);
		/* A lost update here only shifts a wakeup. */
		if (++c->unwoken >= cfg_wakeup_records) {
			c->unwoken = 0;
			flags = BPF_RB_FORCE_WAKEUP;
		}
	}
	bpf_ringbuf_submit(record, flags);
}

static __always_inline void submit(void *record)
{
	submit_counted(record, cpu_counters());
}
#endif /* TCPLEAK_LIB_RECORDS */
