// SPDX-License-Identifier: GPL-2.0-only
/*
 * The destination process of postcopy_demo: the VM (built with the KVM
 * selftests library, so that the guest is plain C, guest.c), the VMM core
 * (vmm.c) on its memory, a thread standing in for device emulation, and
 * the watch over the migration: its progress over time, its end, or its
 * pause, reported to the orchestrator in struct result.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#include "transport.h"
#include "vmm.h"

static struct kvm_vm *vm;
static struct kvm_vcpu *kvcpus[MAX_VCPUS];
static struct guest_ctl *ctl;
static struct fetcher handlers[MAX_VCPUS], push;
static int vcpus_done, stop_reader;
static uint64_t reader_reads;

static void *vcpu_thread(void *arg)
{
	struct vmm_vcpu *v = arg;
	int id = v - vmm.vcpus;
	struct ucall uc;

	/* --pin-vcpus: a workaround for the emulator, not a VMM's habit. */
	if (o.pin[id] >= 0)
		kvm_pin_this_task_to_pcpu(o.pin[id]);
	for (;;) {
		vmm_vcpu_run(v);
		switch (get_ucall(kvcpus[id], &uc)) {
		case UCALL_DONE:
			__atomic_add_fetch(&vcpus_done, 1, __ATOMIC_RELEASE);
			return NULL;
		case UCALL_SYNC:
			if (uc.args[1] == STAGE_BAD_PAGE)
				vmm_fail(ST_CORRUPT, uc.args[2], "page %lu: checksum mismatch (computed 0x%lx, page says 0x%lx, index word 0x%lx), read by vCPU %d",
					 uc.args[2], uc.args[3], uc.args[4],
					 uc.args[5], id);
			else if (uc.args[1] == STAGE_LOST_WRITE)
				vmm_fail(ST_LOST_WRITE, -1, "page %lu: vCPU %d's write is gone (0x%lx, wrote 0x%lx): a page landed twice",
					 uc.args[2], id, uc.args[3], uc.args[4]);
			else
				vmm_fail(ST_ERROR, -1, "vCPU %d: unexpected sync %lu",
					 id, uc.args[1]);
			break;
		case UCALL_ABORT:
			vmm_fail(ST_ERROR, -1, "vCPU %d: guest assert: %s", id,
				 uc.buffer);
			break;
		default:
			vmm_fail(ST_ERROR, -1, "vCPU %d: unexpected exit %s", id,
				 exit_reason_str(v->run->exit_reason));
		}
		/* The next vmm_vcpu_run() keeps the vCPU out: paused. */
	}
}

/*
 * Device emulation: reads guest memory through the guest mapping, as a
 * device model or vhost does.  Its first read, of the last page, comes
 * before any vCPU runs: the page is missing, and userfaultfd serves it.
 */
static void *reader_thread(void *arg)
{
	uint64_t rng = mix64(o.seed ^ 0xdead), page = o.npages - 1, sum;
	const uint64_t *w;

	while (!__atomic_load_n(&stop_reader, __ATOMIC_ACQUIRE) && !vmm_failed()) {
		w = (const uint64_t *)(vmm.guest + page * PAGE);
		if (!page_valid(w, page, &sum)) {
			vmm_fail(ST_CORRUPT, page, "page %lu: checksum mismatch (computed 0x%lx, page says 0x%lx, index word 0x%lx), read by the device reader",
				 page, sum, w[W_SUM], w[W_INDEX]);
			break;
		}
		__atomic_add_fetch(&reader_reads, 1, __ATOMIC_RELEASE);
		usleep(2000);
		rng = xorshift(rng);
		page = (rng >> 16) % o.npages;
	}
	return NULL;
}

static void vm_setup(enum mode mode)
{
	uint64_t cpages = guest_ctl_pages(o.npages);
	int i, r;

	/* Slot 0 gets room for the page tables of both extra slots. */
	vm = __vm_create_with_vcpus(VM_SHAPE_DEFAULT, o.vcpus,
				    o.npages / 256 + cpages / 256 + 64,
				    guest_code, kvcpus);
	TEST_ASSERT(vm->page_size == PAGE && getpagesize() == PAGE,
		    "4K pages only (guest %u, host %d)", vm->page_size,
		    getpagesize());
	/* The guest's bookkeeping: plain memory, not migrated. */
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, CTL_GPA,
				    CTL_SLOT, cpages, 0);
	virt_map(vm, CTL_GPA, CTL_GPA, cpages);
	ctl = addr_gpa2hva(vm, CTL_GPA);
	guest_ctl_init(ctl);

	/* The migrated memory: the VMM's, the library only maps it. */
	r = vmm_memory_init(vm->fd, DATA_SLOT, DATA_GPA, o.mem,
			    mode == MODE_KVM);
	if (r == ST_SKIP) {
		printf("SKIP: no userfaultfd with MINOR faults on shmem (errno %d)\n",
		       errno);
		_exit(ST_SKIP);
	}
	TEST_ASSERT(!r, "guest memory set-up: errno %d", -r);
	virt_map(vm, DATA_GPA, DATA_GPA, o.npages);

	for (i = 0; i < o.vcpus; i++) {
		vcpu_args_set(kvcpus[i], 1, i);
		vmm_add_vcpu(kvcpus[i]->fd, kvcpus[i]->run);
	}
	for (i = 0; i < MAX_VCPUS; i++) {
		handlers[i].fd = -1;
		handlers[i].lat.max = o.npages;
		handlers[i].lat.ns = malloc(o.npages * sizeof(uint64_t));
		vmm.vcpus[i].f.lat.max = o.npages;
		vmm.vcpus[i].f.lat.ns = malloc(o.npages * sizeof(uint64_t));
		TEST_ASSERT(handlers[i].lat.ns && vmm.vcpus[i].f.lat.ns,
			    "out of memory");
	}
	push.fd = -1;
}

/* A thread that cannot start fails the migration like anything else. */
static bool start(pthread_t *t, void *(*fn)(void *), void *arg,
		  const char *what)
{
	int r = pthread_create(t, NULL, fn, arg);

	if (r)
		vmm_fail(ST_ERROR, -1, "cannot start the %s thread: %s", what,
			 strerror(r));
	return !r;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void add_samples(uint64_t *all, uint64_t *n, const struct samples *s)
{
	memcpy(all + *n, s->ns, s->n * sizeof(*all));
	*n += s->n;
}

/* Nearest rank: the smallest sample with p% of them at or below it. */
static void latency_percentiles(struct result *res)
{
	uint64_t n = 0, *all;
	int i;

	all = malloc(2 * MAX_VCPUS * o.npages * sizeof(*all));
	TEST_ASSERT(all, "out of memory");
	for (i = 0; i < MAX_VCPUS; i++) {
		add_samples(all, &n, &vmm.vcpus[i].f.lat);
		add_samples(all, &n, &handlers[i].lat);
	}
	res->nsamples = n;
	if (n) {
		qsort(all, n, sizeof(*all), cmp_u64);
		res->p50_us = all[(n * 50 + 99) / 100 - 1] / 1e3;
		res->p99_us = all[(n * 99 + 99) / 100 - 1] / 1e3;
	}
	free(all);
}

/* The pages that never arrived, as ranges, for the report. */
static void describe_missing(struct result *res, char *buf, size_t len)
{
	uint64_t p, start, ranges = 0, shown = 16;
	size_t off = 0;

	res->missing = 0;
	res->first_missing = o.npages;
	buf[0] = 0;
	for (p = 0; p < o.npages; p++) {
		if (__atomic_load_n(&vmm.state[p], __ATOMIC_ACQUIRE) == P_PRESENT)
			continue;
		start = p;
		while (p + 1 < o.npages &&
		       __atomic_load_n(&vmm.state[p + 1], __ATOMIC_ACQUIRE) != P_PRESENT)
			p++;
		if (res->first_missing == o.npages)
			res->first_missing = start;
		res->missing += p - start + 1;
		if (ranges++ >= shown || off >= len)
			continue;
		if (start == p)
			off += snprintf(buf + off, len - off, "%s%lu",
					ranges > 1 ? ", " : "", start);
		else
			off += snprintf(buf + off, len - off, "%s%lu-%lu",
					ranges > 1 ? ", " : "", start, p);
	}
	if (ranges > shown && off < len)
		snprintf(buf + off, len - off, ", and %lu more ranges",
			 ranges - shown);
}

static void copy_counts(struct result *res)
{
	int i;

	for (i = 0; i < NR_WHO; i++)
		res->landed[i] = __atomic_load_n(&vmm.landed[i], __ATOMIC_RELAXED);
	res->present = __atomic_load_n(&vmm.present, __ATOMIC_ACQUIRE);
	res->dropped = vmm.dropped;
	res->coalesced = vmm.coalesced;
	res->exits = vmm.exits;
	res->vcpu_uffd_faults = vmm.vcpu_uffd_faults;
	res->other_uffd_faults = vmm.other_uffd_faults;
	res->reader_reads = reader_reads;
}

/*
 * The migration failed: pause it and report what is missing.  The VM stays
 * as it is, vCPUs out of the guest, until the orchestrator, which stands
 * for whoever manages the VM, decides; it has no source to resume from,
 * so it ends the VM.
 */
static void __attribute__((noreturn)) pause_and_report(struct result *res)
{
	char missing[600];
	size_t len;

	vmm_pause();
	describe_missing(res, missing, sizeof(missing));
	copy_counts(res);
	res->status = vmm.status;
	res->bad_page = vmm.bad_page;
	snprintf(res->error, sizeof(res->error), "%s", vmm.error);
	len = strlen(res->error);
	if (res->status == ST_SOURCE_LOST)
		snprintf(res->error + len, sizeof(res->error) - len,
			 "; the source was lost mid-migration: %lu of %lu pages never arrived: %s",
			 res->missing, o.npages, missing);
	fflush(NULL);
	__atomic_store_n(&res->state, DEST_PAUSED, __ATOMIC_RELEASE);
	for (;;)
		pause();
}

struct point {
	float ms;
	uint32_t present, demand, pushed;
};

/* In one write: line by line, a console under TCG takes seconds. */
static void print_csv(enum mode mode, const struct point *pts, uint64_t n)
{
	size_t len = (n + 1) * 80, off = 0;
	char *buf = malloc(len);
	uint64_t i;

	TEST_ASSERT(buf, "out of memory");
	for (i = 0; i < n && off < len; i++)
		off += snprintf(buf + off, len - off, "CSV,%s,%.1f,%u,%u,%u\n",
				mode_name[mode], pts[i].ms, pts[i].present,
				pts[i].demand, pts[i].pushed);
	fflush(stdout);
	TEST_ASSERT(write_full(STDOUT_FILENO, buf, off) == 0, "writing the CSV");
	free(buf);
}

void run_dest(enum mode mode, uint16_t port, struct result *res)
{
	pthread_t ut[MAX_VCPUS], rt, pt;
	int i, nuffd = mode == MODE_KVM ? 1 : o.vcpus;
	uint64_t npoints = 0, maxpoints = 100000;
	struct point *pts = malloc(maxpoints * sizeof(*pts));
	double t0, t, t_done = 0;

	TEST_ASSERT(pts, "out of memory");
	vm_setup(mode);
	vmm.port = port;
	vmm.stall_ms = o.stall_ms;

	for (i = 0; i < nuffd; i++)
		if (!start(&ut[i], vmm_uffd_handler, &handlers[i], "uffd handler"))
			pause_and_report(res);
	/* The device reader's first read faults before anything else runs. */
	if (!start(&rt, reader_thread, NULL, "device reader"))
		pause_and_report(res);
	while (!__atomic_load_n(&reader_reads, __ATOMIC_ACQUIRE) && !vmm_failed())
		usleep(1000);

	t0 = now_ms();
	if (!start(&pt, vmm_push_receiver, &push, "push receiver"))
		pause_and_report(res);
	for (i = 0; i < o.vcpus; i++)
		if (!start(&vmm.vcpus[i].thread, vcpu_thread, &vmm.vcpus[i], "vCPU"))
			pause_and_report(res);

	for (;;) {
		t = now_ms();
		if (npoints < maxpoints) {
			pts[npoints].ms = t - t0;
			pts[npoints].present = __atomic_load_n(&vmm.present, __ATOMIC_RELAXED);
			pts[npoints].demand = vmm.landed[BY_VCPU_EXIT] +
					      vmm.landed[BY_UFFD_VCPU] +
					      vmm.landed[BY_UFFD_OTHER];
			pts[npoints].pushed = vmm.landed[BY_PUSH];
			npoints++;
		}
		if (!vmm.complete &&
		    __atomic_load_n(&vmm.present, __ATOMIC_ACQUIRE) == o.npages) {
			res->migration_ms = t - t0;
			vmm_migration_done();
		}
		if (vmm_failed())
			pause_and_report(res);
		if (!t_done && __atomic_load_n(&vcpus_done, __ATOMIC_ACQUIRE) == o.vcpus)
			t_done = t;
		if (vmm.complete && t_done)
			break;
		usleep(10000);
	}
	res->run_ms = t_done - t0;

	for (i = 0; i < o.vcpus; i++)
		pthread_join(vmm.vcpus[i].thread, NULL);
	vmm.nvcpus = 0;		/* ended: none left for vmm_pause() to kick */
	__atomic_store_n(&stop_reader, 1, __ATOMIC_RELEASE);
	pthread_join(rt, NULL);
	pthread_join(pt, NULL);
	for (i = 0; i < nuffd; i++)
		pthread_join(ut[i], NULL);
	/* A failure while the threads finished: still a failure. */
	if (vmm_failed())
		pause_and_report(res);

	copy_counts(res);
	res->verified = guest_verified(ctl);
	latency_percentiles(res);
	if (o.csv)
		print_csv(mode, pts, npoints);
	res->status = ST_OK;
	kvm_vm_free(vm);
	fflush(NULL);
	__atomic_store_n(&res->state, DEST_DONE, __ATOMIC_RELEASE);
	_exit(ST_OK);
}
