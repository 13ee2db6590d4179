/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * postcopy_demo: what its parts share.  The VMM is vmm.c (and vmm.h); the
 * rest feeds it (source.c over transport.c, the guest in guest.c), runs it
 * (dest.c), runs both modes and reports (postcopy.c), and breaks and checks
 * it (check.c).
 */
#ifndef POSTCOPY_DEMO_H
#define POSTCOPY_DEMO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "page.h"

#define MAX_MEM		(256ULL << 20)
#define MAX_VCPUS	16

/*
 * Guest physical memory: the migrated memory (DATA), and the guest's
 * bookkeeping (CTL, guest.c), which is not migrated.  Both identity mapped.
 */
#define DATA_SLOT	10
#define DATA_GPA	0xc0000000ULL
#define CTL_SLOT	11
#define CTL_GPA		0xb0000000ULL

/*
 * A destination's outcome (struct result), and the program's exit status:
 * 0 success (with --check: every assertion held), 4 skip, 1 failure.
 */
#define ST_OK		0
#define ST_ERROR	1
#define ST_CORRUPT	2	/* a page failed its checksum */
#define ST_SOURCE_LOST	3	/* the source died or went silent */
#define ST_SKIP		4	/* no KVM_CAP_USERFAULT, or no uffd MINOR on shmem */
#define ST_LOST_WRITE	5	/* a guest write is gone: a page landed twice */

enum mode { MODE_KVM, MODE_UFFD, NR_MODES };
extern const char *const mode_name[NR_MODES];
extern const char *const mode_title[NR_MODES];

/* Who landed a page, for the counts. */
enum who { BY_VCPU_EXIT, BY_UFFD_VCPU, BY_UFFD_OTHER, BY_PUSH, NR_WHO };

struct opts {
	uint64_t mem, npages;
	int vcpus;
	uint64_t latency_us, push_rate, random_per_step, seed, slow_ms;
	int modes;		/* bit per enum mode */
	int pin[MAX_VCPUS];	/* -1: not pinned */
	bool check, csv;
	/* Fault injection (check.c). */
	uint64_t source_dies_after, source_stalls_after;
	bool stall_mid_page;
	int64_t corrupt_page;
	int timeout, stall_ms;
};
extern struct opts o;

/* The page all vCPUs start on. */
static inline uint64_t hot_page(void)
{
	return o.npages / 2;
}

/* Where a destination is, as the orchestrator sees it. */
enum dest_state { DEST_RUNNING, DEST_DONE, DEST_PAUSED };

/* Filled by the destination, read by the orchestrator (MAP_SHARED). */
struct result {
	int state;		/* enum dest_state, stored with release */
	int status;		/* ST_*: why it paused, or ST_OK */
	char error[1024];
	uint64_t present, missing, first_missing, bad_page;
	uint64_t landed[NR_WHO], dropped, coalesced, exits;
	uint64_t vcpu_uffd_faults, other_uffd_faults, reader_reads;
	uint64_t verified, nsamples;
	double migration_ms, run_ms, p50_us, p99_us;
};

/* Filled by the source (MAP_SHARED), followed by a counter per page. */
struct source_stats {
	uint64_t demand, pushed, skipped, sent;
	uint32_t demand_per_page[];
};

/* One mode's run, as the orchestrator saw it. */
struct mode_run {
	struct result *res;
	struct source_stats *src;
	bool ended;		/* done or paused before the timeout */
	int exit_status;	/* of the destination, if it exited */
	bool source_died;	/* before the orchestrator ended it */
	double wall_ms;
};

static inline uint64_t demand_total(const struct result *r)
{
	return r->landed[BY_VCPU_EXIT] + r->landed[BY_UFFD_VCPU] +
	       r->landed[BY_UFFD_OTHER];
}

double now_ms(void);
uint64_t now_ns(void);

/* guest.c */
struct guest_ctl;
uint64_t guest_ctl_pages(uint64_t npages);
void guest_ctl_init(struct guest_ctl *ctl);
uint64_t guest_verified(struct guest_ctl *ctl);
void guest_code(uint64_t id);
#define STAGE_BAD_PAGE		1	/* GUEST_SYNC_ARGS: page, sum, word, index */
#define STAGE_LOST_WRITE	2	/* GUEST_SYNC_ARGS: page, found, wrote */

/* source.c, dest.c: each is a process of its own, and ends it. */
void run_source(int ready_fd, struct source_stats *stats) __attribute__((noreturn));
void run_dest(enum mode mode, uint16_t port, struct result *res) __attribute__((noreturn));

/* check.c */
void inject_corrupt(uint64_t *image);
void inject_before_send(struct source_stats *s, int fd, uint32_t page,
			const void *data, bool on_demand);
int check_mode(enum mode m, const struct mode_run *mr);

#endif
