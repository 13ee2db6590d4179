// SPDX-License-Identifier: GPL-2.0-only
/*
 * memslot_recreate: does a vCPU still read a memslot's old memory after the
 * memslot was deleted (or moved away) and created again on other memory?
 *
 * The reproducer of the x86 userfault_stress_test failure, without KVM
 * Userfault, so that it runs on the unpatched base kernel too.  vCPUs read
 * the first word of every page of a memslot over and over; the host
 * deletes the memslot or moves it away and back, and each time puts it
 * back on the other of two memfds, whose every page it first fills with the
 * next version number.  Once KVM_SET_USER_MEMORY_REGION has returned, no
 * translation of the old memory may be left: the host then raises the
 * minimum version the guest may read (a store-release that the guest reads
 * with a load-acquire before each page), and a vCPU that reads a version
 * below it read the memory the memslot no longer has.  While the memslot
 * is gone, reads are MMIO, answered with the version being installed.
 *
 * Options:
 *   -n ITERATIONS  memslot re-creations (default 2000)
 *   -v VCPUS       vCPUs (default 3, at most 8)
 *   -c CPUS        pin the vCPU threads, as demand_paging_test -c
 *   -m             move the memslot away and back instead of deleting it
 *   -d             dirty logging too: toggled now and then, the log read
 *                  between re-creations
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/bitmap.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#define SLOT		10
#define GPA		0xc0000000ULL
#define MOVED_GPA	0x100000000ULL
#define SIZE		SZ_4M
#define MAX_VCPUS	8

static uint64_t page_size, npages;
/* The lowest version the guest may read from now on. */
static uint64_t min_version;

static void guest_code(uint64_t id)
{
	uint64_t p, min, got;

	for (;;) {
		for (p = 0; p < npages; p++) {
			min = __atomic_load_n(&min_version, __ATOMIC_ACQUIRE);
			got = READ_ONCE(*(uint64_t *)(GPA + p * page_size));
			__GUEST_ASSERT(got >= min,
				       "vCPU %lu read version %lu of page %lu, below %lu: old memory",
				       id, got, p, min);
		}
		GUEST_SYNC(0);
	}
}

static struct kvm_vm *vm;
static struct kvm_vcpu *vcpus[MAX_VCPUS];
static uint32_t vcpu_to_pcpu[MAX_VCPUS];
static bool pin, stop;
/* The version being installed: what an MMIO read answers. */
static uint64_t installing;
static uint64_t rounds[MAX_VCPUS], mmio[MAX_VCPUS];

static void *vcpu_thread(void *arg)
{
	int id = (uintptr_t)arg;
	struct kvm_vcpu *vcpu = vcpus[id];
	struct kvm_run *run = vcpu->run;
	struct ucall uc;
	uint64_t val;

	if (pin)
		kvm_pin_this_task_to_pcpu(vcpu_to_pcpu[id]);
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		vcpu_run(vcpu);
		if (run->exit_reason == KVM_EXIT_MMIO &&
		    run->mmio.phys_addr >= GPA && run->mmio.phys_addr < GPA + SIZE) {
			TEST_ASSERT(!run->mmio.is_write && run->mmio.len == 8,
				    "vCPU %d: MMIO %s of %u bytes at 0x%llx", id,
				    run->mmio.is_write ? "write" : "read",
				    run->mmio.len, run->mmio.phys_addr);
			val = __atomic_load_n(&installing, __ATOMIC_ACQUIRE);
			memcpy(run->mmio.data, &val, sizeof(val));
			mmio[id]++;
			continue;
		}
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			__atomic_add_fetch(&rounds[id], 1, __ATOMIC_RELEASE);
			break;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
		default:
			TEST_FAIL("vCPU %d: unexpected exit %s", id,
				  exit_reason_str(run->exit_reason));
		}
	}
	return NULL;
}

static void set_region(struct kvm_userspace_memory_region *r)
{
	vm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, r);
}

int main(int argc, char *argv[])
{
	uint64_t i, p, n = 2000, *min_hva;
	pthread_t threads[MAX_VCPUS];
	struct kvm_userspace_memory_region region;
	int opt, nr_vcpus = 3, fds[2], k;
	bool move = false, dirty = false;
	unsigned long *log;
	uint8_t *mem[2];

	while ((opt = getopt(argc, argv, "n:v:c:md")) != -1) {
		switch (opt) {
		case 'n':
			n = atoi_positive("Iterations", optarg);
			break;
		case 'v':
			nr_vcpus = atoi_positive("vCPUs", optarg);
			TEST_ASSERT(nr_vcpus <= MAX_VCPUS, "At most %d vCPUs",
				    MAX_VCPUS);
			break;
		case 'c':
			kvm_parse_vcpu_pinning(optarg, vcpu_to_pcpu, nr_vcpus);
			pin = true;
			break;
		case 'm':
			move = true;
			break;
		case 'd':
			dirty = true;
			break;
		default:
			printf("usage: %s [-n ITERATIONS] [-v VCPUS] [-c CPUS] [-m] [-d]\n",
			       argv[0]);
			exit(KSFT_FAIL);
		}
	}

	vm = vm_create_with_vcpus(nr_vcpus, guest_code, vcpus);
	for (k = 0; k < nr_vcpus; k++)
		vcpu_args_set(vcpus[k], 1, k);
	page_size = getpagesize();
	npages = SIZE / page_size;
	sync_global_to_guest(vm, page_size);
	sync_global_to_guest(vm, npages);
	min_hva = addr_gva2hva(vm, (vm_vaddr_t)&min_version);

	/* Version 1 on memfd 0 to start with. */
	for (k = 0; k < 2; k++) {
		fds[k] = memfd_create("guest", 0);
		TEST_ASSERT(fds[k] >= 0 && !ftruncate(fds[k], SIZE), "memfd");
		mem[k] = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			      fds[k], 0);
		TEST_ASSERT(mem[k] != MAP_FAILED, "mmap() failed");
	}
	for (p = 0; p < npages; p++)
		*(uint64_t *)(mem[0] + p * page_size) = 1;
	region = (struct kvm_userspace_memory_region) {
		.slot = SLOT,
		.guest_phys_addr = GPA,
		.memory_size = SIZE,
		.userspace_addr = (uintptr_t)mem[0],
	};
	set_region(&region);
	for (p = 0; p < npages; p++)
		virt_pg_map(vm, GPA + p * page_size, GPA + p * page_size);
	installing = 1;
	*min_hva = 1;
	log = bitmap_zalloc(npages);

	for (k = 0; k < nr_vcpus; k++)
		pthread_create(&threads[k], NULL, vcpu_thread,
			       (void *)(uintptr_t)k);

	for (i = 2; i < n + 2; i++) {
		uint8_t *next = mem[i % 2];

		/* Away: the vCPUs see MMIO meanwhile. */
		if (move)
			region.guest_phys_addr = MOVED_GPA;
		else
			region.memory_size = 0;
		set_region(&region);
		__atomic_store_n(&installing, i, __ATOMIC_RELEASE);
		for (p = 0; p < npages; p++)
			*(uint64_t *)(next + p * page_size) = i;
		if (move) {
			/* A move keeps the memory: back, then to the other. */
			region.guest_phys_addr = GPA;
			set_region(&region);
			region.memory_size = 0;
			set_region(&region);
		}
		region.guest_phys_addr = GPA;
		region.memory_size = SIZE;
		region.userspace_addr = (uintptr_t)next;
		set_region(&region);
		/* The old memory is out of the guest's reach from here on. */
		__atomic_store_n(min_hva, i, __ATOMIC_RELEASE);
		usleep(i % 500);
		if (dirty) {
			/* Read the log, and now and then toggle logging. */
			if (region.flags & KVM_MEM_LOG_DIRTY_PAGES)
				kvm_vm_get_dirty_log(vm, SLOT, log);
			if (!(i % 3)) {
				region.flags ^= KVM_MEM_LOG_DIRTY_PAGES;
				set_region(&region);
			}
		}
		if (!((i - 1) % 100))
			pr_info("%lu re-creations\n", i - 1);
	}

	__atomic_store_n(&stop, true, __ATOMIC_RELEASE);
	for (k = 0; k < nr_vcpus; k++)
		pthread_join(threads[k], NULL);
	for (k = 0; k < nr_vcpus; k++)
		pr_info("vCPU %d: %lu rounds, %lu MMIO reads\n", k, rounds[k],
			mmio[k]);
	pr_info("%lu memslot re-creations (%s%s), no old memory read\n", n,
		move ? "moved away and back" : "deleted",
		dirty ? ", dirty logging" : "");
	kvm_vm_free(vm);
	return 0;
}
