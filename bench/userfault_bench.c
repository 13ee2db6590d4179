// SPDX-License-Identifier: GPL-2.0-only
/*
 * userfault_bench: the per-exit and per-fault costs that "make bench"
 * reports beside demand_paging_test's rates.  Built against the KVM
 * selftests library of the kernel under test (scripts/bench.sh).
 *
 *   userfault_bench exit [pages]
 *     floor      the cheapest exit: the guest writes to a port (x86) or to
 *                an address without a memslot (arm64) in a loop, and
 *                userspace re-enters after checking exit_reason alone; one
 *                KVM_RUN per exit, per round trip
 *     ucall      a selftests ucall that userspace decodes (GUEST_SYNC: on
 *                x86 two KVM_GET_REGS, and three KVM_RUN per round trip
 *                on both arches), per round trip
 *     fault      a guest read of a page that is present in the host but not
 *                yet mapped by KVM (one stage-2 fault), per page
 *     userfault  a guest read of a page whose userfault bit is set: the
 *                exit, the release of the bit, one KVM_RUN and the fault
 *                that then maps the page, per page
 *   userfault_bench faults [pages]
 *     off        stage-2 fault rate in a memslot without KVM_MEM_USERFAULT
 *     clear      the same with KVM_MEM_USERFAULT and every bit clear
 *     thpoff     faults per second on transparent huge pages (each maps a
 *                2M range), without KVM_MEM_USERFAULT
 *     thpclear   the same with KVM_MEM_USERFAULT and every bit clear: each
 *                fault also reads the range's 8 bitmap words
 *   userfault_bench touch [pages]
 *     small_*    guest read rate over a 2M-hugetlb-backed memslot whose
 *                pages are all present but for the last one of each 2M
 *                range, which the guest skips: KVM maps every page on its
 *                own, as it did before range-aware huge mappings
 *     huge_*     the same with every bit clear: the first fault in a 2M
 *                range maps all of it
 *     *_first    the first pass, faults included; *_later: the passes after
 *                it, over pages that KVM has mapped
 *   userfault_bench enable [pages]
 *     enable     the KVM_SET_USER_MEMORY_REGION2 that turns KVM_MEM_USERFAULT
 *                on for a memslot of 1G whose first [pages] pages the guest
 *                has just mapped: the cost of dropping its mappings, per
 *                call (the mean of ENABLE_CALLS)
 *     disable    the update that turns it off again, which drops nothing
 *                but pays the same memslot update (SRCU synchronization):
 *                enable - disable is what dropping the mappings costs
 *
 * Each result is printed as "RESULT <name> <value> <unit>".  What needs
 * KVM_CAP_USERFAULT is left out, with a note, on a kernel without it.
 * The program runs its vCPU on its own thread, pinned to CPU 1 where
 * there is one (CPU 0 is left to the rest of the system).
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#define SLOT		10
#define SLOT_GPA	0xc0000000ULL
#define BARE_EXITS	20000
#define FLOOR_EXITS	100000

/* Where the guest exits for the floor: a port, or a GPA without a memslot. */
#define FLOOR_PORT	0x1008
#define FLOOR_GPA	0xe0000000ULL

#define TOUCH_PASSES	5

#define ENABLE_CALLS	5

/* guest_skip: if not 0, skip the last page of every guest_skip pages. */
static uint64_t guest_pages, guest_page_size, guest_skip;

/* Read the first word of each page of the slot, then report; forever. */
static void guest_code(void)
{
	uint64_t i, sum = 0;

	GUEST_SYNC(0);
	for (;;) {
		for (i = 0; i < guest_pages; i++) {
			if (guest_skip && i % guest_skip == guest_skip - 1)
				continue;
			sum += READ_ONCE(*(uint64_t *)(SLOT_GPA + i * guest_page_size));
		}
		GUEST_SYNC(sum);
	}
}

/* One exit per iteration, which userspace only re-enters. */
static void guest_floor(void)
{
	for (;;) {
#ifdef __x86_64__
		outl(FLOOR_PORT, 0);
#else
		WRITE_ONCE(*(volatile uint64_t *)FLOOR_GPA, 0);
#endif
	}
}

struct bench {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	struct userspace_mem_region *region;
	uint64_t *bitmap;
	uint64_t pages;
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void pin_self(void)
{
	cpu_set_t set;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(1, &set);
	TEST_ASSERT(!sched_setaffinity(0, sizeof(set), &set),
		    "Pinning to CPU 1 failed, errno %d", errno);
}

/*
 * A VM whose test memslot is present in the host (so that only KVM's own
 * fault is measured) and not mapped by KVM yet.  The guest stops at its
 * first GUEST_SYNC, before touching the memslot.
 */
static void __bench_create(struct bench *b, uint64_t pages, uint32_t flags,
			   bool bits_set, enum vm_mem_backing_src_type src,
			   uint64_t skip)
{
	size_t len = userfault_bitmap_size(pages);

	b->pages = pages;
	b->vm = vm_create_with_one_vcpu(&b->vcpu, guest_code);
	vm_userspace_mem_region_add(b->vm, src, SLOT_GPA, SLOT, pages, 0);
	virt_map(b->vm, SLOT_GPA, SLOT_GPA, pages);
	b->region = memslot2region(b->vm, SLOT);
	memset(b->region->host_mem, 1, pages * getpagesize());

	guest_pages = pages;
	guest_page_size = getpagesize();
	guest_skip = skip;
	sync_global_to_guest(b->vm, guest_pages);
	sync_global_to_guest(b->vm, guest_page_size);
	sync_global_to_guest(b->vm, guest_skip);

	b->bitmap = aligned_alloc(sizeof(uint64_t), len);
	TEST_ASSERT(b->bitmap, "Out of memory");
	memset(b->bitmap, bits_set ? 0xff : 0, len);
	if (flags)
		vm_mem_region_set_flags_bitmap(b->vm, SLOT, flags, b->bitmap);
	vcpu_run_to_sync(b->vcpu);
}

static void bench_create(struct bench *b, uint64_t pages, uint32_t flags,
			 bool bits_set)
{
	__bench_create(b, pages, flags, bits_set, VM_MEM_SRC_ANONYMOUS, 0);
}

static void bench_destroy(struct bench *b)
{
	kvm_vm_free(b->vm);
	free(b->bitmap);
}

/* One guest pass over the memslot, with no exits but the final ucall. */
static double time_pass(struct bench *b)
{
	double start = now_ns();

	vcpu_run_to_sync(b->vcpu);
	return (now_ns() - start) / b->pages;
}

static void floor_run(struct kvm_vcpu *vcpu)
{
#ifdef __x86_64__
	const uint32_t reason = KVM_EXIT_IO;
#else
	const uint32_t reason = KVM_EXIT_MMIO;
#endif
	int r = __vcpu_run(vcpu);

	TEST_ASSERT(!r && vcpu->run->exit_reason == reason,
		    "Expected exit %u, got %d errno %d exit %u", reason, r,
		    errno, vcpu->run->exit_reason);
}

static void bench_exit(uint64_t pages)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct bench b;
	double start;
	uint64_t i, page;
	int r;

	vm = vm_create_with_one_vcpu(&vcpu, guest_floor);
#ifndef __x86_64__
	virt_map(vm, FLOOR_GPA, FLOOR_GPA, 1);
#endif
	for (i = 0; i < FLOOR_EXITS / 10; i++)
		floor_run(vcpu);
	start = now_ns();
	for (i = 0; i < FLOOR_EXITS; i++)
		floor_run(vcpu);
	printf("RESULT exit_floor %.0f ns\n", (now_ns() - start) / FLOOR_EXITS);
	kvm_vm_free(vm);

	/* The guest loops on GUEST_SYNC once it has touched the memslot. */
	bench_create(&b, 1, 0, false);
	vcpu_run_to_sync(b.vcpu);
	start = now_ns();
	for (i = 0; i < BARE_EXITS; i++)
		vcpu_run_to_sync(b.vcpu);
	printf("RESULT exit_ucall %.0f ns\n", (now_ns() - start) / BARE_EXITS);
	bench_destroy(&b);

	bench_create(&b, pages, 0, false);
	printf("RESULT exit_fault %.0f ns\n", time_pass(&b));
	bench_destroy(&b);

	if (!kvm_has_cap(KVM_CAP_USERFAULT)) {
		printf("NOTE no KVM_CAP_USERFAULT: exit_userfault left out\n");
		return;
	}
	bench_create(&b, pages, KVM_MEM_USERFAULT, true);
	start = now_ns();
	for (;;) {
		r = __vcpu_run(b.vcpu);
		if (!r)
			break;
		TEST_ASSERT(errno == EFAULT &&
			    b.vcpu->run->exit_reason == KVM_EXIT_MEMORY_FAULT &&
			    (b.vcpu->run->memory_fault.flags & KVM_MEMORY_EXIT_FLAG_USERFAULT),
			    "Expected a userfault exit, got %d errno %d", r, errno);
		page = (b.vcpu->run->memory_fault.gpa - SLOT_GPA) / getpagesize();
		userfault_bit_release(b.bitmap, page);
	}
	printf("RESULT exit_userfault %.0f ns\n", (now_ns() - start) / pages);
	TEST_ASSERT(get_ucall(b.vcpu, NULL) == UCALL_SYNC, "Expected the guest's report");
	bench_destroy(&b);
}

/*
 * Faults per second in one pass: on transparent huge pages, a fault maps a
 * whole 2M range (checked on x86, where KVM counts its huge mappings).
 */
static double thp_faults(uint64_t pages, uint32_t flags)
{
	uint64_t ranges = pages * getpagesize() / SZ_2M;
	struct bench b;
	double ns;

	__bench_create(&b, pages, flags, false, VM_MEM_SRC_ANONYMOUS_THP, 0);
	ns = time_pass(&b) * b.pages;
#ifdef __x86_64__
	TEST_ASSERT(vm_get_stat(b.vm, "pages_2m") >= ranges,
		    "Expected %lu 2M mappings, got %lu", ranges,
		    vm_get_stat(b.vm, "pages_2m"));
#endif
	bench_destroy(&b);
	return 1e9 * ranges / ns;
}

static void bench_faults(uint64_t pages)
{
	uint64_t thp_pages = align_up(pages, SZ_2M / getpagesize());
	struct bench b;

	bench_create(&b, pages, 0, false);
	printf("RESULT faults_off %.0f pages/s\n", 1e9 / time_pass(&b));
	bench_destroy(&b);
	printf("RESULT faults_thpoff %.0f faults/s\n", thp_faults(thp_pages, 0));

	if (!kvm_has_cap(KVM_CAP_USERFAULT)) {
		printf("NOTE no KVM_CAP_USERFAULT: faults_clear left out\n");
		return;
	}
	bench_create(&b, pages, KVM_MEM_USERFAULT, false);
	printf("RESULT faults_clear %.0f pages/s\n", 1e9 / time_pass(&b));
	bench_destroy(&b);
	printf("RESULT faults_thpclear %.0f faults/s\n",
	       thp_faults(thp_pages, KVM_MEM_USERFAULT));
}

static void bench_touch(uint64_t pages)
{
	uint64_t per_2m = SZ_2M / getpagesize();
	const char *modes[] = { "small", "huge" };
	double later;
	struct bench b;
	uint64_t i;
	int m, n;

	if (!kvm_has_cap(KVM_CAP_USERFAULT)) {
		printf("NOTE no KVM_CAP_USERFAULT: touch left out\n");
		return;
	}
	pages = align_up(pages, per_2m);
	if (get_free_hugepages(SZ_2M) < pages / per_2m) {
		printf("NOTE fewer than %lu free 2M hugetlb pages: touch left out\n",
		       pages / per_2m);
		return;
	}

	for (m = 0; m < ARRAY_SIZE(modes); m++) {
		__bench_create(&b, pages, KVM_MEM_USERFAULT, false,
			       VM_MEM_SRC_ANONYMOUS_HUGETLB_2MB, per_2m);
		/* Nothing is mapped yet: setting bits takes effect. */
		for (i = per_2m - 1; !m && i < pages; i += per_2m)
			userfault_bit_set(b.bitmap, i);
		printf("RESULT touch_%s_first %.0f pages/s\n", modes[m],
		       1e9 / time_pass(&b));
		later = 0;
		for (n = 1; n < TOUCH_PASSES; n++)
			later += time_pass(&b);
		printf("RESULT touch_%s_later %.0f pages/s\n", modes[m],
		       1e9 * (TOUCH_PASSES - 1) / later);
#ifdef __x86_64__
		printf("NOTE touch_%s: pages_4k %lu pages_2m %lu\n", modes[m],
		       vm_get_stat(b.vm, "pages_4k"), vm_get_stat(b.vm, "pages_2m"));
#endif
		bench_destroy(&b);
	}
}

static void bench_enable(uint64_t pages)
{
	uint64_t slot_pages = SZ_1G / getpagesize();
	size_t len = userfault_bitmap_size(slot_pages);
	double start, on = 0, off = 0;
	struct bench b;
	int i, r;

	if (!kvm_has_cap(KVM_CAP_USERFAULT)) {
		printf("NOTE no KVM_CAP_USERFAULT: enable left out\n");
		return;
	}
	TEST_ASSERT(pages <= slot_pages, "At most %lu pages", slot_pages);

	b.pages = pages;
	b.vm = vm_create_with_one_vcpu(&b.vcpu, guest_code);
	vm_userspace_mem_region_add(b.vm, VM_MEM_SRC_ANONYMOUS, SLOT_GPA, SLOT,
				    slot_pages, 0);
	virt_map(b.vm, SLOT_GPA, SLOT_GPA, pages);
	b.region = memslot2region(b.vm, SLOT);
	memset(b.region->host_mem, 1, pages * getpagesize());

	guest_pages = pages;
	guest_page_size = getpagesize();
	guest_skip = 0;
	sync_global_to_guest(b.vm, guest_pages);
	sync_global_to_guest(b.vm, guest_page_size);
	sync_global_to_guest(b.vm, guest_skip);
	b.bitmap = aligned_alloc(sizeof(uint64_t), len);
	TEST_ASSERT(b.bitmap, "Out of memory");
	memset(b.bitmap, 0, len);
	vcpu_run_to_sync(b.vcpu);

	for (i = 0; i < ENABLE_CALLS; i++) {
		/* Map the pages again: the last enable dropped them. */
		vcpu_run_to_sync(b.vcpu);

		start = now_ns();
		r = __vm_mem_region_set_flags_bitmap(b.vm, SLOT, KVM_MEM_USERFAULT,
						     b.bitmap);
		on += now_ns() - start;
		TEST_ASSERT(!r, "Enabling KVM_MEM_USERFAULT failed, errno %d", errno);

		start = now_ns();
		r = __vm_mem_region_set_flags_bitmap(b.vm, SLOT, 0, b.bitmap);
		off += now_ns() - start;
		TEST_ASSERT(!r, "Disabling KVM_MEM_USERFAULT failed, errno %d", errno);
	}
	printf("RESULT enable_1g %.1f us\n", on / ENABLE_CALLS / 1000);
	printf("RESULT disable_1g %.1f us\n", off / ENABLE_CALLS / 1000);
	bench_destroy(&b);
}

int main(int argc, char *argv[])
{
	uint64_t pages = argc > 2 ? strtoull(argv[2], NULL, 0) : 4096;

	setvbuf(stdout, NULL, _IOLBF, 0);
	pin_self();
	if (argc > 1 && !strcmp(argv[1], "exit"))
		bench_exit(pages);
	else if (argc > 1 && !strcmp(argv[1], "faults"))
		bench_faults(pages);
	else if (argc > 1 && !strcmp(argv[1], "touch"))
		bench_touch(pages);
	else if (argc > 1 && !strcmp(argv[1], "enable"))
		bench_enable(pages);
	else
		TEST_FAIL("usage: %s exit|faults|touch|enable [pages]", argv[0]);
	return 0;
}
