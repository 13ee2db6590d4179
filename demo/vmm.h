/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The VMM core of postcopy_demo: the incoming side of a post-copy
 * migration on KVM Userfault layered on userfaultfd MINOR (or on
 * userfaultfd alone).  vmm.c says how it works.
 */
#ifndef POSTCOPY_VMM_H
#define POSTCOPY_VMM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "demo.h"

/* Latency samples of one thread, in ns. */
struct samples {
	uint64_t *ns;
	uint64_t n, max;
};

/* A thread that fetches pages, on a connection of its own. */
struct fetcher {
	int fd;
	uint8_t buf[PAGE];
	struct samples lat;	/* of the vCPU faults it served */
};

struct vmm_vcpu {
	int fd;			/* KVM's vCPU fd */
	struct kvm_run *run;
	pthread_t thread;
	pid_t tid;
	struct fetcher f;	/* KVM Userfault: the vCPU fetches itself */
};

/* Page states, in a futex word per page. */
#define P_MISSING	0
#define P_BUSY		1	/* one fetch or landing in flight */
#define P_BUSY_WAITERS	2	/* ... and someone waits on the futex */
#define P_PRESENT	3

struct vmm {
	/* Guest memory: one memfd, mapped twice (vmm_memory_init()). */
	uint64_t gpa, size, npages;
	int vm_fd, memfd, uffd;
	uint8_t *guest, *alias;
	uint64_t *bitmap;
	struct kvm_userspace_memory_region2 region;
	bool kvm_uf;
	uint32_t *state;

	uint16_t port;		/* of the source, on 127.0.0.1 */
	int stall_ms;		/* a source silent this long is lost */
	int stop_fd;		/* eventfd: done or paused, handlers stop */
	struct vmm_vcpu vcpus[MAX_VCPUS];
	int nvcpus;

	/* The migration. */
	int failed, complete, frozen, landing;
	pthread_mutex_t fail_lock;
	int status;		/* ST_*, the first failure's */
	int64_t bad_page;
	char error[1024];

	/* Counts, atomically updated. */
	uint64_t present, landed[NR_WHO], dropped, coalesced, exits;
	uint64_t vcpu_uffd_faults, other_uffd_faults;
};
extern struct vmm vmm;

int vmm_memory_init(int vm_fd, uint32_t slot, uint64_t gpa, uint64_t size,
		    bool kvm_userfault);
struct vmm_vcpu *vmm_add_vcpu(int fd, struct kvm_run *run);
void vmm_vcpu_run(struct vmm_vcpu *v);
void *vmm_uffd_handler(void *fetcher);
void *vmm_push_receiver(void *fetcher);
void vmm_migration_done(void);
void vmm_fail(int status, int64_t page, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool vmm_failed(void);
void vmm_pause(void);

#endif
