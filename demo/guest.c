// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest of postcopy_demo: each vCPU touches one page that all of them
 * share, then sweeps its share of memory in order, with a random read or
 * write of any page between steps, and checks every page's index and
 * checksum the first time the guest touches it.  A vCPU writes only the
 * pages it owns (page % vCPUs), in the word the checksum leaves out, and
 * checks at the end that its writes survived: a page landed over one the
 * guest already had would lose them.  Its bookkeeping is struct guest_ctl,
 * at CTL_GPA, in a memslot that is not migrated.
 */
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#include "demo.h"

struct guest_ctl {
	uint64_t npages, nvcpus, seed, random_per_step, hot_page;
	uint64_t verified[MAX_VCPUS];	/* pages each vCPU checked first */
	uint64_t writes[MAX_VCPUS];
	/* then, page aligned: uint8_t checked[npages]; uint64_t written[npages] */
};

static inline uint8_t *ctl_checked(struct guest_ctl *ctl)
{
	return (uint8_t *)ctl + PAGE;
}

static inline uint64_t *ctl_written(struct guest_ctl *ctl)
{
	return (uint64_t *)(ctl_checked(ctl) +
			    ((ctl->npages + PAGE - 1) & ~(uint64_t)(PAGE - 1)));
}

uint64_t guest_ctl_pages(uint64_t npages)
{
	return 1 + (npages + PAGE - 1) / PAGE + (npages * 8 + PAGE - 1) / PAGE;
}

void guest_ctl_init(struct guest_ctl *ctl)
{
	ctl->npages = o.npages;
	ctl->nvcpus = o.vcpus;
	ctl->seed = o.seed;
	ctl->random_per_step = o.random_per_step;
	ctl->hot_page = hot_page();
}

uint64_t guest_verified(struct guest_ctl *ctl)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < MAX_VCPUS; i++)
		sum += ctl->verified[i];
	return sum;
}

static void guest_touch(struct guest_ctl *ctl, uint64_t id, uint64_t page,
			bool write)
{
	volatile uint64_t *w = (uint64_t *)(DATA_GPA + page * PAGE);
	uint8_t *checked = ctl_checked(ctl);
	uint64_t sum, v;

	if (!READ_ONCE(checked[page])) {
		/* The first read of the page: the fault, then the check. */
		if (!page_valid(w, page, &sum))
			GUEST_SYNC_ARGS(STAGE_BAD_PAGE, page, sum, w[W_SUM],
					w[W_INDEX]);
		if (!__atomic_exchange_n(&checked[page], 1, __ATOMIC_RELAXED))
			ctl->verified[id]++;
	}
	if (write) {
		v = (id + 1) << 48 | ++ctl->writes[id];
		w[W_WRITE] = v;
		ctl_written(ctl)[page] = v;
	} else {
		(void)w[0];
	}
}

void guest_code(uint64_t id)
{
	struct guest_ctl *ctl = (struct guest_ctl *)CTL_GPA;
	uint64_t n = ctl->npages, nv = ctl->nvcpus;
	uint64_t start = n * id / nv, end = n * (id + 1) / nv;
	uint64_t rng = mix64(ctl->seed + id + 1) | 1;
	uint64_t p, q, r, got;

	/*
	 * Every vCPU starts on the same page, as guests do on shared data:
	 * concurrent faults on one page, which must be fetched once.
	 */
	guest_touch(ctl, id, ctl->hot_page, false);
	/* A sweep of this vCPU's share, with random accesses in between. */
	for (p = start; p < end; p++) {
		guest_touch(ctl, id, p, false);
		for (r = 0; r < ctl->random_per_step; r++) {
			rng = xorshift(rng);
			q = (rng >> 16) % n;
			guest_touch(ctl, id, q, q % nv == id && (rng & 1));
		}
	}
	/* The writes of this vCPU are still there: no page landed twice. */
	for (p = id; p < n; p += nv) {
		guest_touch(ctl, id, p, false);
		got = READ_ONCE(((uint64_t *)(DATA_GPA + p * PAGE))[W_WRITE]);
		if (got != ctl_written(ctl)[p])
			GUEST_SYNC_ARGS(STAGE_LOST_WRITE, p, got,
					ctl_written(ctl)[p], 0);
	}
	GUEST_DONE();
}
