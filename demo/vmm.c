// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VMM core of postcopy_demo: how a VMM drives KVM Userfault on the
 * incoming side of a post-copy migration.  Read in this order:
 *
 * vmm_memory_init()  guest memory is a memfd mapped twice: the guest
 *	mapping, which is the memslot's userspace address and is registered
 *	with userfaultfd MINOR, and an alias that only the VMM writes pages
 *	into.  With KVM Userfault the memslot also has KVM_MEM_USERFAULT and
 *	a bitmap with a bit set for every page that has not arrived.
 * vmm_vcpu_run()  the vCPU exit path: a vCPU that touches a missing page
 *	exits from KVM_RUN with KVM_MEMORY_EXIT_FLAG_USERFAULT, fetches the
 *	page on its own connection (or waits for the fetch in flight), lands
 *	it and re-enters.  No other thread and no userfaultfd is involved.
 * land()  every page lands the same way, whoever fetched it: written
 *	through the alias, UFFDIO_CONTINUEd into the guest mapping, its bit
 *	cleared with a store-release.
 * demand_page()  one fetch per page: a request for a page being fetched
 *	waits for that fetch.
 * vmm_uffd_handler()  userfaultfd serves everything that is not a vCPU
 *	stage-2 fault: device emulation here, KVM's own accesses in general.
 *	With userfaultfd alone it serves the vCPUs too, which block in the
 *	kernel until it wakes them.
 * vmm_push_receiver()  the background stream: a pushed page lands if it
 *	is still missing and is dropped if it was fetched.
 * vmm_migration_done()  every page is present: KVM_MEM_USERFAULT goes,
 *	the uffd range is unregistered.
 * vmm_fail(), vmm_pause()  a source lost or a bad page pauses the
 *	migration: vCPUs stop, nothing lands, the pages still missing are
 *	reported; what then happens to the VM is not the VMM core's call.
 *
 * The VM and vCPU file descriptors come from the KVM selftests library,
 * which also builds the guest's page tables; everything here is the plain
 * KVM and userfaultfd UAPI.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kvm_util.h"
#include "transport.h"
#include "vmm.h"

struct vmm vmm;

static void futex_wait(uint32_t *addr, uint32_t val)
{
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(uint32_t *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

/* A kick only has to interrupt KVM_RUN: see vmm_pause(). */
static void kick_handler(int sig)
{
}

/*
 * Guest memory for an incoming migration, at @gpa in memslot @slot of the
 * VM @vm_fd.  0, or ST_SKIP without userfaultfd MINOR faults on shmem.
 */
int vmm_memory_init(int vm_fd, uint32_t slot, uint64_t gpa, uint64_t size,
		    bool kvm_userfault)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_THREAD_ID,
	};
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MINOR };
	struct sigaction kick = { .sa_handler = kick_handler };
	uint64_t p, nwords;

	vmm.vm_fd = vm_fd;
	vmm.gpa = gpa;
	vmm.size = size;
	vmm.npages = size / PAGE;
	vmm.kvm_uf = kvm_userfault;
	pthread_mutex_init(&vmm.fail_lock, NULL);

	/*
	 * A memfd, allocated in full: MINOR faults are for pages that are in
	 * the page cache but not mapped by the faulting mapping yet.
	 */
	vmm.memfd = memfd_create("guest-memory", MFD_CLOEXEC);
	if (vmm.memfd < 0 || ftruncate(vmm.memfd, size) ||
	    fallocate(vmm.memfd, 0, 0, size))
		return -errno;
	/*
	 * Mapped twice.  The guest mapping is what KVM maps guest pages
	 * from, and what device emulation and KVM's own accesses read: until
	 * a page lands, a touch of it there is a userfaultfd MINOR fault.
	 * The alias is the VMM's own way in: a write there fills the page
	 * cache and maps nothing in the guest mapping.
	 */
	vmm.guest = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vmm.memfd, 0);
	vmm.alias = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vmm.memfd, 0);
	if (vmm.guest == MAP_FAILED || vmm.alias == MAP_FAILED)
		return -errno;

	vmm.uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (vmm.uffd < 0 || ioctl(vmm.uffd, UFFDIO_API, &api))
		return ST_SKIP;
	reg.range.start = (uint64_t)vmm.guest;
	reg.range.len = size;
	if (ioctl(vmm.uffd, UFFDIO_REGISTER, &reg))
		return -errno;

	/*
	 * The KVM Userfault bitmap: little-endian __u64 words, 8-byte
	 * aligned, bit i for the page at gpa + i * PAGE; set means "not here
	 * yet, exit".  The KVM selftests' helpers (kvm_util.h) handle it.
	 */
	nwords = userfault_bitmap_size(vmm.npages) / 8;
	vmm.bitmap = aligned_alloc(8, nwords * 8);
	vmm.state = calloc(vmm.npages, sizeof(*vmm.state));
	if (!vmm.bitmap || !vmm.state)
		return -ENOMEM;
	memset(vmm.bitmap, 0, nwords * 8);
	for (p = 0; p < vmm.npages; p++)
		userfault_bit_set(vmm.bitmap, p);

	vmm.region = (struct kvm_userspace_memory_region2) {
		.slot = slot,
		.flags = kvm_userfault ? KVM_MEM_USERFAULT : 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)vmm.guest,
		.userfault_bitmap = (uint64_t)vmm.bitmap,
	};
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION2, &vmm.region))
		return -errno;

	vmm.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (vmm.stop_fd < 0 || sigaction(SIGUSR1, &kick, NULL))
		return -errno;
	return 0;
}

/* A vCPU of the VM, by its fd and its mmap()ed struct kvm_run. */
struct vmm_vcpu *vmm_add_vcpu(int fd, struct kvm_run *run)
{
	struct vmm_vcpu *v = &vmm.vcpus[vmm.nvcpus++];

	v->fd = fd;
	v->run = run;
	v->f.fd = -1;
	return v;
}

/* The first failure wins; @page is the corrupted page, or -1. */
void vmm_fail(int status, int64_t page, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&vmm.fail_lock);
	if (!vmm.failed) {
		vmm.bad_page = page;
		va_start(ap, fmt);
		vsnprintf(vmm.error, sizeof(vmm.error), fmt, ap);
		va_end(ap);
		vmm.status = status;
		__atomic_store_n(&vmm.failed, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&vmm.fail_lock);
}

bool vmm_failed(void)
{
	return __atomic_load_n(&vmm.failed, __ATOMIC_ACQUIRE);
}

/*
 * Stop the guest: kick every vCPU out of KVM_RUN (immediate_exit makes a
 * kick that comes just before KVM_RUN count as well), and they stay out,
 * in park().  Then stop pages from landing and wait for the landings in
 * flight, so that the pages present and the pages missing that the VMM
 * reports describe one moment.
 */
void vmm_pause(void)
{
	uint64_t one = 1;
	int i;

	for (i = 0; i < vmm.nvcpus; i++) {
		__atomic_store_n(&vmm.vcpus[i].run->immediate_exit, 1,
				 __ATOMIC_SEQ_CST);
		/* A vCPU thread not running yet sees immediate_exit. */
		if (__atomic_load_n(&vmm.vcpus[i].tid, __ATOMIC_ACQUIRE))
			pthread_kill(vmm.vcpus[i].thread, SIGUSR1);
	}
	__atomic_store_n(&vmm.frozen, 1, __ATOMIC_SEQ_CST);
	/* A landing is a copy and an ioctl: a second is plenty. */
	for (i = 0; i < 1000 && __atomic_load_n(&vmm.landing, __ATOMIC_SEQ_CST); i++)
		usleep(1000);
	if (write(vmm.stop_fd, &one, sizeof(one)) != sizeof(one))
		perror("postcopy_demo: eventfd");
}

/*
 * A paused vCPU waits here for the migration to resume, with the pages it
 * needs fetched from a new source.  This demo has no resume: whoever runs
 * the VMM decides what becomes of the VM (the orchestrator ends it).
 */
static void park(void)
{
	for (;;)
		pause();
}

/* A fetching thread's connection; its failure is the source's loss. */
static int vmm_connect(struct fetcher *f)
{
	f->fd = tcp_connect(vmm.port);
	if (f->fd >= 0)
		return 0;
	/* The source listens until it dies: a refused connection is that. */
	vmm_fail(errno == ECONNREFUSED ? ST_SOURCE_LOST : ST_ERROR, -1,
		 "cannot connect to the source on 127.0.0.1:%u: errno %d",
		 vmm.port, errno);
	return -1;
}

static int fetch(struct fetcher *f, uint64_t page)
{
	struct msg m = { .op = MSG_GET, .page = page };

	if (write_full(f->fd, &m, sizeof(m)) ||
	    recv_full(f->fd, &m, sizeof(m), vmm.stall_ms) ||
	    (m.op == MSG_PAGE && m.page == page &&
	     recv_full(f->fd, f->buf, PAGE, vmm.stall_ms))) {
		if (errno == ETIMEDOUT)
			vmm_fail(ST_SOURCE_LOST, -1, "the source stopped answering (nothing in %d ms) fetching page %lu",
				 vmm.stall_ms, page);
		else
			vmm_fail(ST_SOURCE_LOST, -1, "lost the source fetching page %lu",
				 page);
		return -1;
	}
	if (m.op != MSG_PAGE || m.page != page) {
		vmm_fail(ST_ERROR, -1, "asked the source for page %lu, got message %u for page %u",
			 page, m.op, m.page);
		return -1;
	}
	return 0;
}

/*
 * Land a page whose state this thread moved to P_BUSY.  The order is what
 * makes it safe: the contents are in the page cache (alias write) before
 * the guest mapping maps them (CONTINUE), which is before KVM may map them
 * for a vCPU (the bit's store-release, paired with KVM's acquire on its
 * read of the word).  Clearing the bit first would send the next vCPU that
 * touches the page into userfaultfd.
 *
 * The CONTINUE wakes the threads blocked in userfaultfd on this page: the
 * device reader, or in uffd mode a vCPU, can be waiting on a page that a
 * vCPU exit or the push stream lands, whichever handler read its fault.
 * The uffd checks the page table again after it queues a fault, so a
 * thread that faults during the landing is either woken here or does not
 * block; a handler that finds the page present has nobody left to wake.
 *
 * False if the migration is paused: nothing landed.
 */
static bool land(uint64_t page, const void *buf, enum who who)
{
	struct uffdio_continue cont = {
		.range = { (uint64_t)vmm.guest + page * PAGE, PAGE },
	};
	uint32_t old;

	/* Pairs with vmm_pause(): either it waits for us, or we see it. */
	__atomic_add_fetch(&vmm.landing, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&vmm.frozen, __ATOMIC_SEQ_CST)) {
		__atomic_sub_fetch(&vmm.landing, 1, __ATOMIC_SEQ_CST);
		return false;
	}
	memcpy(vmm.alias + page * PAGE, buf, PAGE);
	/*
	 * Fault-around is off in a uffd MINOR range, so only a CONTINUE maps
	 * a page: EEXIST would mean that this page landed twice.
	 */
	if (ioctl(vmm.uffd, UFFDIO_CONTINUE, &cont)) {
		vmm_fail(ST_ERROR, -1, "UFFDIO_CONTINUE of page %lu: errno %d%s",
			 page, errno, errno == EEXIST ? " (landed twice)" : "");
		__atomic_sub_fetch(&vmm.landing, 1, __ATOMIC_SEQ_CST);
		return false;
	}
	if (vmm.kvm_uf)
		userfault_bit_release(vmm.bitmap, page);
	old = __atomic_exchange_n(&vmm.state[page], P_PRESENT, __ATOMIC_RELEASE);
	if (old == P_BUSY_WAITERS)
		futex_wake(&vmm.state[page]);
	__atomic_add_fetch(&vmm.landed[who], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&vmm.present, 1, __ATOMIC_RELEASE);
	__atomic_sub_fetch(&vmm.landing, 1, __ATOMIC_SEQ_CST);
	return true;
}

/* A fetch that did not land: the page is missing again, for a resume. */
static void give_back(uint64_t page)
{
	if (__atomic_exchange_n(&vmm.state[page], P_MISSING, __ATOMIC_RELEASE) ==
	    P_BUSY_WAITERS)
		futex_wake(&vmm.state[page]);
}

/*
 * Make @page present for a faulting access: fetch and land it if nobody
 * else is on it, else wait for the fetch in flight (the coalescing).
 * 0 if this thread landed it, 1 if someone else did, -1 if the migration
 * is paused.
 */
static int demand_page(uint64_t page, struct fetcher *f, enum who who)
{
	uint32_t s = P_MISSING;
	bool waited = false;

	for (;;) {
		if (vmm_failed())
			return -1;
		if (s == P_MISSING &&
		    __atomic_compare_exchange_n(&vmm.state[page], &s, P_BUSY, false,
						__ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
			if (!fetch(f, page) && land(page, f->buf, who))
				return 0;
			give_back(page);
			return -1;
		}
		if (s == P_PRESENT)
			return 1;
		if (!waited) {
			__atomic_add_fetch(&vmm.coalesced, 1, __ATOMIC_RELAXED);
			waited = true;
		}
		if (s == P_BUSY &&
		    !__atomic_compare_exchange_n(&vmm.state[page], &s, P_BUSY_WAITERS,
						 false, __ATOMIC_ACQUIRE,
						 __ATOMIC_ACQUIRE))
			continue;
		if (s != P_MISSING)
			futex_wait(&vmm.state[page], P_BUSY_WAITERS);
		s = __atomic_load_n(&vmm.state[page], __ATOMIC_ACQUIRE);
	}
}

static void sample(struct samples *s, uint64_t ns)
{
	if (s->n < s->max)
		s->ns[s->n++] = ns;
}

/*
 * The vCPU exit path: run @v until KVM_RUN returns for something that is
 * not a missing page (the caller's: a ucall, here).  Once the migration is
 * paused, the vCPU stays out of the guest.
 */
void vmm_vcpu_run(struct vmm_vcpu *v)
{
	struct kvm_run *run = v->run;
	uint64_t gpa, t0;

	if (!v->tid)
		__atomic_store_n(&v->tid, gettid(), __ATOMIC_RELEASE);
	if (vmm.kvm_uf && v->f.fd < 0 && vmm_connect(&v->f))
		park();
	for (;;) {
		if (vmm_failed())
			park();
		if (!ioctl(v->fd, KVM_RUN, NULL))
			return;
		if (errno == EINTR)	/* a kick, or a signal: look again */
			continue;
		gpa = run->memory_fault.gpa;
		if (!vmm.kvm_uf || errno != EFAULT ||
		    run->exit_reason != KVM_EXIT_MEMORY_FAULT ||
		    !(run->memory_fault.flags & KVM_MEMORY_EXIT_FLAG_USERFAULT) ||
		    gpa < vmm.gpa || gpa >= vmm.gpa + vmm.size) {
			vmm_fail(ST_ERROR, -1, "vCPU thread %d: KVM_RUN failed, errno %d, exit %u, flags 0x%llx, gpa 0x%lx",
				 v->tid, errno, run->exit_reason,
				 run->memory_fault.flags, gpa);
			continue;
		}
		/* A page that has not arrived: fetch it (or wait), re-enter. */
		t0 = now_ns();
		__atomic_add_fetch(&vmm.exits, 1, __ATOMIC_RELAXED);
		if (demand_page((gpa - vmm.gpa) / PAGE, &v->f, BY_VCPU_EXIT) < 0)
			continue;
		sample(&v->f.lat, now_ns() - t0);
	}
}

static bool is_vcpu_tid(pid_t tid)
{
	int i;

	for (i = 0; i < vmm.nvcpus; i++)
		if (__atomic_load_n(&vmm.vcpus[i].tid, __ATOMIC_ACQUIRE) == tid)
			return true;
	return false;
}

/*
 * A userfaultfd handler thread: faults in the guest mapping, from threads
 * that are not vCPUs (and with userfaultfd alone, from vCPUs too).  The
 * faulting thread is blocked in the kernel until the page lands, and the
 * landing's CONTINUE wakes it.  Several handlers share the uffd; each
 * message goes to one of them.
 */
void *vmm_uffd_handler(void *arg)
{
	struct fetcher *f = arg;
	struct pollfd pfd[2] = {
		{ .fd = vmm.uffd, .events = POLLIN },
		{ .fd = vmm.stop_fd, .events = POLLIN },
	};
	struct uffd_msg msg;
	uint64_t page, t0;
	bool vcpu;

	if (vmm_connect(f))
		return NULL;
	for (;;) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		if (read(vmm.uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;	/* another handler took it */
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		t0 = now_ns();
		page = (msg.arg.pagefault.address - (uint64_t)vmm.guest) / PAGE;
		vcpu = is_vcpu_tid(msg.arg.pagefault.feat.ptid);
		__atomic_add_fetch(vcpu ? &vmm.vcpu_uffd_faults : &vmm.other_uffd_faults,
				   1, __ATOMIC_RELAXED);
		/* Paused: the faulting thread stays blocked, the handler stops. */
		if (demand_page(page, f, vcpu ? BY_UFFD_VCPU : BY_UFFD_OTHER) < 0)
			break;
		if (vcpu)
			sample(&f->lat, now_ns() - t0);
	}
	return NULL;
}

/* The background stream: land what is still missing, drop the rest. */
void *vmm_push_receiver(void *arg)
{
	struct fetcher *f = arg;
	struct msg m = { .op = MSG_PUSH };
	struct pollfd pfd[2] = {
		{ .events = POLLIN },
		{ .fd = vmm.stop_fd, .events = POLLIN },
	};
	uint32_t s;
	int r;

	if (vmm_connect(f))
		return NULL;
	pfd[0].fd = f->fd;
	if (write_full(f->fd, &m, sizeof(m)))
		goto lost;
	for (;;) {
		r = poll(pfd, 2, vmm.stall_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r > 0 && pfd[1].revents)
			break;
		if (!r)
			errno = ETIMEDOUT;
		if (r <= 0 ||
		    recv_full(f->fd, &m, sizeof(m), vmm.stall_ms))
			goto lost;
		if (m.op == MSG_END)
			break;
		if (m.op != MSG_PAGE || m.page >= vmm.npages ||
		    recv_full(f->fd, f->buf, PAGE, vmm.stall_ms))
			goto lost;
		s = P_MISSING;
		if (!__atomic_compare_exchange_n(&vmm.state[m.page], &s, P_BUSY,
						 false, __ATOMIC_ACQUIRE,
						 __ATOMIC_RELAXED))
			__atomic_add_fetch(&vmm.dropped, 1, __ATOMIC_RELAXED);
		else if (!land(m.page, f->buf, BY_PUSH))
			give_back(m.page);
	}
	return NULL;
lost:
	/* After the end, the source may go: nothing more is needed of it. */
	if (__atomic_load_n(&vmm.complete, __ATOMIC_ACQUIRE))
		return NULL;
	if (errno == ETIMEDOUT)
		vmm_fail(ST_SOURCE_LOST, -1, "the source stopped answering (nothing in %d ms) on the push stream",
			 vmm.stall_ms);
	else
		vmm_fail(ST_SOURCE_LOST, -1, "lost the source's push stream");
	return NULL;
}

/*
 * Every page is present: stop the push stream and the handlers, clear
 * KVM_MEM_USERFAULT (a flags-only update: vCPU faults stop reading the
 * bitmap, and KVM may map huge pages again) and unregister the range from
 * userfaultfd.
 */
void vmm_migration_done(void)
{
	struct uffdio_range range = { (uint64_t)vmm.guest, vmm.size };
	uint64_t one = 1;

	__atomic_store_n(&vmm.complete, 1, __ATOMIC_RELEASE);
	if (write(vmm.stop_fd, &one, sizeof(one)) != sizeof(one))
		vmm_fail(ST_ERROR, -1, "eventfd write: errno %d", errno);
	vmm.region.flags &= ~KVM_MEM_USERFAULT;
	if (vmm.kvm_uf && ioctl(vmm.vm_fd, KVM_SET_USER_MEMORY_REGION2, &vmm.region))
		vmm_fail(ST_ERROR, -1, "clearing KVM_MEM_USERFAULT: errno %d", errno);
	if (ioctl(vmm.uffd, UFFDIO_UNREGISTER, &range))
		vmm_fail(ST_ERROR, -1, "UFFDIO_UNREGISTER: errno %d", errno);
}
