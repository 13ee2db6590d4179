// SPDX-License-Identifier: GPL-2.0-only
/*
 * exit_storm: vCPUs that exit to userspace on every page, without KVM
 * Userfault, so that it runs on the unpatched base kernel too.
 *
 * The control workload of make hangs (scripts/hangs.sh): the shape of
 * demand_paging_test -k (each vCPU thread leaves KVM_RUN once per 4K page
 * of its own range, does a little work and re-enters), but each exit is an
 * MMIO read of a GPA that no memslot backs, answered by the vCPU thread.
 * The guest checks every value it reads, so a lost or misdirected exit
 * fails the run.
 *
 * Options:
 *   -v VCPUS   vCPUs (default 2, at most 8)
 *   -p PAGES   pages per vCPU (default 2048, as demand_paging_test -b 8M)
 *   -r ROUNDS  rounds over the pages (default 1)
 *   -c CPUS    pin the vCPU threads, as demand_paging_test -c
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#define MAX_VCPUS	8
/* No memslot here: every access is MMIO. */
#define MMIO_GPA	0xc0000000ULL
#define STRIDE		4096ULL

static uint64_t pages, rounds;

static uint64_t value_of(uint64_t gpa)
{
	return gpa * 0x9e3779b97f4a7c15ULL;
}

static void guest_code(uint64_t id)
{
	uint64_t r, i, gpa, got;

	for (r = 0; r < rounds; r++) {
		for (i = 0; i < pages; i++) {
			gpa = MMIO_GPA + (id * pages + i) * STRIDE;
			got = READ_ONCE(*(uint64_t *)gpa);
			__GUEST_ASSERT(got == value_of(gpa),
				       "vCPU %lu read 0x%lx at 0x%lx, not 0x%lx",
				       id, got, gpa, value_of(gpa));
		}
	}
	GUEST_DONE();
}

static struct kvm_vcpu *vcpus[MAX_VCPUS];
static uint32_t vcpu_to_pcpu[MAX_VCPUS];
static bool pin;
static uint64_t exits[MAX_VCPUS];

static void *vcpu_thread(void *arg)
{
	int id = (uintptr_t)arg;
	struct kvm_vcpu *vcpu = vcpus[id];
	struct kvm_run *run = vcpu->run;
	struct ucall uc;
	uint64_t val;

	if (pin)
		kvm_pin_this_task_to_pcpu(vcpu_to_pcpu[id]);
	for (;;) {
		vcpu_run(vcpu);
		if (run->exit_reason == KVM_EXIT_MMIO &&
		    run->mmio.phys_addr >= MMIO_GPA &&
		    run->mmio.phys_addr < MMIO_GPA + MAX_VCPUS * pages * STRIDE) {
			TEST_ASSERT(!run->mmio.is_write && run->mmio.len == 8,
				    "vCPU %d: MMIO %s of %u bytes at 0x%llx", id,
				    run->mmio.is_write ? "write" : "read",
				    run->mmio.len, run->mmio.phys_addr);
			val = value_of(run->mmio.phys_addr);
			memcpy(run->mmio.data, &val, sizeof(val));
			exits[id]++;
			continue;
		}
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_DONE:
			return NULL;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
		default:
			TEST_FAIL("vCPU %d: unexpected exit %s", id,
				  exit_reason_str(run->exit_reason));
		}
	}
}

int main(int argc, char *argv[])
{
	pthread_t threads[MAX_VCPUS];
	struct timespec start, end;
	const char *cpus = NULL;
	struct kvm_vm *vm;
	int opt, i, nr_vcpus = 2;
	uint64_t p, total = 0;

	pages = 2048;
	rounds = 1;
	while ((opt = getopt(argc, argv, "v:p:r:c:")) != -1) {
		switch (opt) {
		case 'v':
			nr_vcpus = atoi_positive("vCPUs", optarg);
			TEST_ASSERT(nr_vcpus <= MAX_VCPUS, "At most %d vCPUs",
				    MAX_VCPUS);
			break;
		case 'p':
			pages = atoi_positive("Pages", optarg);
			break;
		case 'r':
			rounds = atoi_positive("Rounds", optarg);
			break;
		case 'c':
			cpus = optarg;
			break;
		default:
			printf("usage: %s [-v VCPUS] [-p PAGES] [-r ROUNDS] [-c CPUS]\n",
			       argv[0]);
			exit(KSFT_FAIL);
		}
	}
	if (cpus) {
		kvm_parse_vcpu_pinning(cpus, vcpu_to_pcpu, nr_vcpus);
		pin = true;
	}

	vm = vm_create_with_vcpus(nr_vcpus, guest_code, vcpus);
	for (i = 0; i < nr_vcpus; i++)
		vcpu_args_set(vcpus[i], 1, i);
	sync_global_to_guest(vm, pages);
	sync_global_to_guest(vm, rounds);
	for (p = 0; p < nr_vcpus * pages; p++)
		virt_pg_map(vm, MMIO_GPA + p * STRIDE, MMIO_GPA + p * STRIDE);

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < nr_vcpus; i++)
		pthread_create(&threads[i], NULL, vcpu_thread,
			       (void *)(uintptr_t)i);
	for (i = 0; i < nr_vcpus; i++) {
		pthread_join(threads[i], NULL);
		total += exits[i];
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	TEST_ASSERT(total == nr_vcpus * pages * rounds,
		    "%lu MMIO exits, expected %lu", total,
		    nr_vcpus * pages * rounds);
	pr_info("%lu MMIO exits from %d vCPUs in %.2f s (%s)\n", total,
		nr_vcpus, end.tv_sec - start.tv_sec +
		(end.tv_nsec - start.tv_nsec) / 1e9,
		pin ? "pinned" : "unpinned");
	kvm_vm_free(vm);
	return 0;
}
