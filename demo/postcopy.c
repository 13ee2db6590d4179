// SPDX-License-Identifier: GPL-2.0-only
/*
 * postcopy_demo: post-copy migration of a running guest's memory, the way a
 * VMM does it with KVM Userfault layered on userfaultfd MINOR, and the same
 * migration with userfaultfd alone, side by side.
 *
 * Three processes per migration, all started by this program:
 *
 * - The source owns the guest memory image (generated; each page carries its
 *   own index and checksum) and serves it over loopback TCP (or pipes, on a
 *   kernel without TCP/IP): a GET of one page is answered after an added
 *   latency (--latency-us), and one PUSH connection streams every page not
 *   yet sent, in order, at --push-rate.
 *
 * - The destination is the VMM.  Guest memory is a memfd mapped twice: the
 *   guest mapping (the memslot's userspace address, registered with
 *   userfaultfd MINOR) and an alias that the VMM writes pages into.  A page
 *   lands by: write it through the alias, UFFDIO_CONTINUE it in the guest
 *   mapping, clear its bit in the KVM Userfault bitmap with a store-release,
 *   mark it present.  Every path lands pages that way; a per-page state word
 *   makes sure exactly one of them does, and that concurrent requests for a
 *   page wait for the one fetch in flight rather than fetch it again.
 *
 *   KVM Userfault mode: the slot has KVM_MEM_USERFAULT with every bit set.
 *   A vCPU that exits on a page fetches it itself, over its own connection,
 *   lands it (CONTINUE without waking: nothing waits on the uffd for a page
 *   a vCPU fetches unless the uffd handler is also on it, and the handler
 *   wakes its own waiters) and re-enters.  vCPUs never reach userfaultfd.
 *   userfaultfd alone: vCPUs block in the kernel on the MINOR fault and
 *   handler threads reading the uffd fetch, land and wake them.
 *   In both, a host thread standing in for device emulation reads guest
 *   memory through the guest mapping and is served by the uffd handler.
 *   When every page is present the VMM stops the push stream, clears
 *   KVM_MEM_USERFAULT and unregisters the uffd.
 *
 * - This process: runs both modes, one source and one destination each, with
 *   a timeout; prints the results side by side; with --check asserts them.
 *
 * The guest: each vCPU touches one page that all of them share, then sweeps
 * its share of memory in order, with a random read or write of any page
 * between steps, and checks every page's index and checksum the first time
 * the guest touches it.  A vCPU writes only the
 * pages it owns (page % vCPUs), in a word the checksum leaves out, and
 * checks at the end that its writes survived: a page pushed over one the
 * guest already had would lose them.  The guest's bookkeeping lives in a
 * second memslot that is not migrated.
 *
 * Failures stop the destination with an error, never a hang: the source
 * dying (--source-dies-after N pages, for the test), or going silent
 * (--source-stalls-after N: nothing for --stall-timeout-ms, 10 s by
 * default, on a connection that waits for a page), names the pages that
 * never arrived; a page whose checksum does not match (--corrupt-page P)
 * is named and the guest does not run on.
 *
 * Exit status: 0 success (with --check: every assertion held), 4 skip (no
 * KVM_CAP_USERFAULT or no userfaultfd MINOR on shmem), 1 failure.  The
 * destination's own: 0 done, 2 corrupted page, 3 source lost, 5 a guest
 * write lost, 1 (or the selftests library's 254) anything else.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/futex.h>
#include <linux/userfaultfd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#define DATA_SLOT	10
#define DATA_GPA	0xc0000000ULL
#define CTL_SLOT	11
#define CTL_GPA		0xb0000000ULL
#define MAX_MEM		(256ULL << 20)
#define MAX_VCPUS	16
#define PAGE		4096
#define WORDS		(PAGE / 8)

/*
 * Page layout, in 64-bit words: data, then the page's index (with a magic),
 * then the checksum of everything before it, then the guest's write word,
 * which the checksum leaves out so that guest writes keep the page valid.
 */
#define W_INDEX		(WORDS - 4)
#define W_SUM		(WORDS - 3)
#define W_WRITE		(WORDS - 2)
#define PAGE_MAGIC	0x5043000000000000ULL	/* "PC" */

/* What the guest reports with GUEST_SYNC_ARGS; the host never resumes it. */
#define STAGE_BAD_PAGE		1
#define STAGE_LOST_WRITE	2

/* Destination exit status, also in struct result. */
#define ST_OK		0
#define ST_ERROR	1
#define ST_CORRUPT	2
#define ST_SOURCE_DIED	3
#define ST_SKIP		4
#define ST_LOST_WRITE	5

/* Page states at the destination, in a futex word per page. */
#define P_MISSING	0
#define P_BUSY		1	/* one fetch or landing in flight */
#define P_BUSY_WAITERS	2	/* ... and someone waits on the futex */
#define P_PRESENT	3

enum mode { MODE_KVM, MODE_UFFD, NR_MODES };
static const char *const mode_name[NR_MODES] = { "kvm_userfault", "uffd" };
static const char *const mode_title[NR_MODES] = { "KVM Userfault", "userfaultfd alone" };

/* Who landed a page, for the counts. */
enum who { BY_VCPU_EXIT, BY_UFFD_VCPU, BY_UFFD_OTHER, BY_PUSH, NR_WHO };

/* The guest's bookkeeping, at CTL_GPA (identity mapped), set up by the host. */
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

static uint64_t ctl_pages(uint64_t npages)
{
	return 1 + (npages + PAGE - 1) / PAGE + (npages * 8 + PAGE - 1) / PAGE;
}

/* Shared by the guest, the source and the destination. */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static inline uint64_t page_sum(const uint64_t *w)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	int i;

	for (i = 0; i < W_SUM; i++)
		h = (h ^ w[i]) * 0x100000001b3ULL;
	return mix64(h);
}

static inline uint64_t xorshift(uint64_t x)
{
	x ^= x << 13;
	x ^= x >> 7;
	return x ^ (x << 17);
}

/* ---------------------------------------------------------------- guest */

static void guest_touch(struct guest_ctl *ctl, uint64_t id, uint64_t page,
			bool write)
{
	uint64_t *w = (uint64_t *)(DATA_GPA + page * PAGE);
	uint8_t *checked = ctl_checked(ctl);
	uint64_t sum, v;

	if (!READ_ONCE(checked[page])) {
		/* The first read of the page: the fault, then the check. */
		sum = page_sum(w);
		if (sum != READ_ONCE(w[W_SUM]) ||
		    READ_ONCE(w[W_INDEX]) != (PAGE_MAGIC | page))
			GUEST_SYNC_ARGS(STAGE_BAD_PAGE, page, sum, w[W_SUM],
					w[W_INDEX]);
		if (!__atomic_exchange_n(&checked[page], 1, __ATOMIC_RELAXED))
			ctl->verified[id]++;
	}
	if (write) {
		v = (id + 1) << 48 | ++ctl->writes[id];
		WRITE_ONCE(w[W_WRITE], v);
		ctl_written(ctl)[page] = v;
	} else {
		(void)READ_ONCE(w[0]);
	}
}

static void guest_code(uint64_t id)
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
	/* Every page was checked by somebody: make sure of this share. */
	for (p = start; p < end; p++)
		guest_touch(ctl, id, p, false);
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

/* ------------------------------------------------------------- common */

struct opts {
	uint64_t mem, npages;
	int vcpus;
	uint64_t latency_us, push_rate, random_per_step, seed, slow_ms;
	int modes;		/* bit per enum mode */
	int pin[MAX_VCPUS];	/* -1: not pinned */
	bool check, csv;
	uint64_t source_dies_after, source_stalls_after;
	int64_t corrupt_page;
	int timeout, stall_ms;
};
static struct opts o;

/* Filled by the destination, read by the parent (MAP_SHARED). */
struct result {
	int status;
	char error[1024];
	uint64_t present, verified, checked;
	uint64_t landed[NR_WHO], dropped, coalesced, exits;
	uint64_t vcpu_uffd_faults, reader_uffd_faults, reader_reads;
	uint64_t missing, first_missing, bad_page;
	uint64_t nsamples;
	double migration_ms, run_ms, p50_us, p99_us;
};

/* Filled by the source (MAP_SHARED), followed by a counter per page. */
struct source_stats {
	uint64_t demand, pushed, skipped, sent;
	uint32_t demand_per_page[];
};

struct msg {
	uint32_t op;
	uint32_t page;
};
#define OP_GET		1
#define OP_PUSH		2
#define PUSH_END	0xffffffffU

/*
 * The transport: loopback TCP, or, on a kernel without TCP/IP (the test
 * VM's tinyconfig kernel has no CONFIG_NET), a pair of pipes per
 * connection, made before the source and the destination are forked.
 * Either way each vCPU, each uffd handler and the push stream has its own
 * connection, and the source dying closes all of them.
 */
#define MAX_CONNS	(2 * MAX_VCPUS + 1)
static bool use_tcp;
static int pipe_req[MAX_CONNS][2], pipe_resp[MAX_CONNS][2];
static int nconns, next_conn;

struct conn {
	int rfd, wfd;
	uint8_t buf[PAGE];
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t r;

	while (done < len) {
		r = read(fd, (char *)buf + done, len - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += r;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;
	ssize_t r;

	while (done < len) {
		r = write(fd, (const char *)buf + done, len - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += r;
	}
	return 0;
}

static void sock_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ------------------------------------------------------------- source */

static uint64_t *image;
static struct source_stats *sstats;
static uint8_t *sent_on_demand;
static int hot_served;

static uint64_t hot_page(void)
{
	return o.npages / 2;
}

static void make_image(void)
{
	uint64_t p, i, *w;

	image = malloc(o.npages * PAGE);
	TEST_ASSERT(image, "source: out of memory");
	for (p = 0; p < o.npages; p++) {
		w = image + p * WORDS;
		for (i = 0; i < W_INDEX; i++)
			w[i] = mix64(o.seed ^ (p << 9 | i));
		w[W_INDEX] = PAGE_MAGIC | p;
		w[W_SUM] = page_sum(w);
		w[W_WRITE] = 0;
		w[WORDS - 1] = 0;
	}
	/* A bit flipped in transit or at rest: the checksum must catch it. */
	if (o.corrupt_page >= 0)
		((uint8_t *)(image + o.corrupt_page * WORDS))[100] ^= 0x10;
}

/* The source crashing mid-migration, for the test: no goodbye. */
static void source_count_send(void)
{
	uint64_t n = __atomic_add_fetch(&sstats->sent, 1, __ATOMIC_RELAXED);

	if (o.source_dies_after && n > o.source_dies_after)
		kill(getpid(), SIGKILL);
	/* Or hanging: alive, connected, and silent from then on. */
	while (o.source_stalls_after && n > o.source_stalls_after)
		pause();
}

static int send_page(int fd, uint32_t page)
{
	struct msg hdr = { .op = OP_GET, .page = page };
	struct iovec iov[2] = {
		{ &hdr, sizeof(hdr) },
		{ image + (uint64_t)page * WORDS, PAGE },
	};
	size_t len = sizeof(hdr) + PAGE;
	ssize_t r;

	do
		r = writev(fd, iov, 2);
	while (r < 0 && errno == EINTR);
	if (r == (ssize_t)len)
		return 0;
	if (r < 0)
		return -1;
	/* Short send: finish the rest by hand. */
	if ((size_t)r < sizeof(hdr)) {
		if (write_full(fd, (char *)&hdr + r, sizeof(hdr) - r))
			return -1;
		r = sizeof(hdr);
	}
	return write_full(fd, (char *)iov[1].iov_base + (r - sizeof(hdr)),
			  len - r);
}

static void source_push(int fd)
{
	uint64_t interval = o.push_rate ? 1000000000ULL / o.push_rate : 0;
	struct timespec ts;
	uint64_t p, next;
	struct msg end = { .op = OP_PUSH, .page = PUSH_END };

	clock_gettime(CLOCK_MONOTONIC, &ts);
	next = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	for (p = 0; p < o.npages; p++) {
		/* "Every remaining page": what was served on demand is there. */
		if (__atomic_load_n(&sent_on_demand[p], __ATOMIC_RELAXED)) {
			__atomic_add_fetch(&sstats->skipped, 1, __ATOMIC_RELAXED);
			continue;
		}
		/* The link's bandwidth: pace the stream, don't burst it. */
		if (interval) {
			next += interval;
			ts.tv_sec = next / 1000000000ULL;
			ts.tv_nsec = next % 1000000000ULL;
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
		source_count_send();
		if (send_page(fd, p))
			return;
		__atomic_add_fetch(&sstats->pushed, 1, __ATOMIC_RELAXED);
	}
	write_full(fd, &end, sizeof(end));
}

static void *source_conn(void *arg)
{
	struct conn *c = arg;
	struct timespec lat = {
		.tv_sec = o.latency_us / 1000000,
		.tv_nsec = (o.latency_us % 1000000) * 1000,
	};
	struct msg m;

	while (!read_full(c->rfd, &m, sizeof(m))) {
		if (m.op == OP_PUSH) {
			source_push(c->wfd);
			break;
		}
		if (m.op != OP_GET || m.page >= o.npages)
			break;
		if (o.latency_us)
			clock_nanosleep(CLOCK_MONOTONIC, 0, &lat, NULL);
		/*
		 * --slow-first-fetch-ms: the first fetch of the page every vCPU
		 * starts on takes long enough for all of them to ask for it.
		 */
		if (o.slow_ms && m.page == hot_page() &&
		    !__atomic_exchange_n(&hot_served, 1, __ATOMIC_RELAXED))
			usleep(o.slow_ms * 1000);
		__atomic_store_n(&sent_on_demand[m.page], 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&sstats->demand_per_page[m.page], 1,
				   __ATOMIC_RELAXED);
		__atomic_add_fetch(&sstats->demand, 1, __ATOMIC_RELAXED);
		source_count_send();
		if (send_page(c->wfd, m.page))
			break;
	}
	close(c->rfd);
	if (c->wfd != c->rfd)
		close(c->wfd);
	free(c);
	return NULL;
}

static void run_source(int port_fd)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(sa);
	uint16_t port = 0;
	struct conn *c;
	pthread_t t;
	int lfd, fd, i;

	/* The added latency is tens of microseconds: no 50 us timer slack. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	sent_on_demand = calloc(o.npages, 1);
	TEST_ASSERT(sent_on_demand, "source: out of memory");
	make_image();
	/*
	 * The source stands in for another machine: its replies must not
	 * queue for a CPU behind the destination's busy vCPU threads, or the
	 * latency measured is the scheduler's.  Best effort (needs root).
	 */
	sched_setscheduler(0, SCHED_FIFO, &(struct sched_param){ .sched_priority = 1 });

	if (!use_tcp) {
		/* Ready: serve every pipe pair until killed. */
		TEST_ASSERT(write(port_fd, &port, sizeof(port)) == sizeof(port),
			    "source: cannot report it is ready");
		close(port_fd);
		for (i = 0; i < nconns; i++) {
			c = calloc(1, sizeof(*c));
			TEST_ASSERT(c, "source: out of memory");
			c->rfd = pipe_req[i][0];
			c->wfd = pipe_resp[i][1];
			TEST_ASSERT(!pthread_create(&t, NULL, source_conn, c),
				    "source: pthread_create");
		}
		for (;;)
			pause();
	}

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	TEST_ASSERT(lfd >= 0, "source: socket: errno %d", errno);
	TEST_ASSERT(!bind(lfd, (struct sockaddr *)&sa, sizeof(sa)),
		    "source: bind 127.0.0.1: errno %d", errno);
	TEST_ASSERT(!listen(lfd, 64), "source: listen: errno %d", errno);
	TEST_ASSERT(!getsockname(lfd, (struct sockaddr *)&sa, &len),
		    "source: getsockname: errno %d", errno);
	port = ntohs(sa.sin_port);
	TEST_ASSERT(write(port_fd, &port, sizeof(port)) == sizeof(port),
		    "source: cannot report its port");
	close(port_fd);

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		sock_nodelay(fd);
		c = calloc(1, sizeof(*c));
		TEST_ASSERT(c, "source: out of memory");
		c->rfd = c->wfd = fd;
		if (pthread_create(&t, NULL, source_conn, c)) {
			close(fd);
			free(c);
		} else {
			pthread_detach(t);
		}
	}
	_exit(1);
}

/* -------------------------------------------------------- destination */

/* Latency samples of one thread, in ns. */
struct samples {
	uint64_t *ns;
	uint64_t n, max;
};

static struct {
	enum mode mode;
	bool kvm_uf;
	uint16_t port;
	struct result *res;
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpus[MAX_VCPUS];
	struct guest_ctl *ctl;
	uint8_t *guest, *alias;
	unsigned long *bitmap;
	uint32_t *state;
	int uffd, stop_fd, push_stop_fd;
	pthread_mutex_t fail_lock;

	/* Counters, atomically updated. */
	uint64_t present, landed[NR_WHO], dropped, coalesced, exits;
	uint64_t vcpu_uffd_faults, reader_uffd_faults, reader_reads;
	int failed, complete, vcpus_done, reader_ready, stop_reader;
	/* Once failed: no more landings, so that the report is one snapshot. */
	int frozen, landing;

	pid_t vcpu_tid[MAX_VCPUS], reader_tid;
	struct samples lat[MAX_VCPUS * 2];
} d;

/* The first failure wins; @page is the corrupted page, or -1. */
static void dest_fail(int status, int64_t page, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&d.fail_lock);
	if (!d.failed) {
		if (page >= 0)
			d.res->bad_page = page;
		va_start(ap, fmt);
		vsnprintf(d.res->error, sizeof(d.res->error), fmt, ap);
		va_end(ap);
		d.res->status = status;
		__atomic_store_n(&d.failed, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&d.fail_lock);
}

static bool dest_failed(void)
{
	return __atomic_load_n(&d.failed, __ATOMIC_ACQUIRE);
}

static void sample(struct samples *s, uint64_t ns)
{
	if (s->n < s->max)
		s->ns[s->n++] = ns;
}

static void conn_open(struct conn *c)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons(d.port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};

	int i;

	if (!use_tcp) {
		i = __atomic_fetch_add(&next_conn, 1, __ATOMIC_RELAXED);
		TEST_ASSERT(i < nconns, "out of connections to the source");
		c->rfd = pipe_resp[i][0];
		c->wfd = pipe_req[i][1];
		return;
	}
	c->rfd = c->wfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	TEST_ASSERT(c->rfd >= 0, "socket: errno %d", errno);
	/*
	 * The source listens until it dies: a refused connection is its
	 * death, reported as such; the first fetch on the closed socket then
	 * fails and stops this thread.
	 */
	if (connect(c->rfd, (struct sockaddr *)&sa, sizeof(sa))) {
		dest_fail(errno == ECONNREFUSED ? ST_SOURCE_DIED : ST_ERROR, -1,
			  "cannot connect to the source on 127.0.0.1:%u: errno %d",
			  d.port, errno);
		close(c->rfd);
		c->rfd = c->wfd = -1;
		return;
	}
	sock_nodelay(c->rfd);
}

/*
 * read_full() for the destination: a source that stays silent for
 * --stall-timeout-ms is as lost as a dead one (errno ETIMEDOUT).
 */
static int recv_full(int fd, void *buf, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int r;

	do {
		r = poll(&pfd, 1, o.stall_ms);
	} while (r < 0 && errno == EINTR);
	if (!r)
		errno = ETIMEDOUT;
	return r > 0 ? read_full(fd, buf, len) : -1;
}

static int fetch(struct conn *c, uint64_t page)
{
	struct msg m = { .op = OP_GET, .page = page };

	if (write_full(c->wfd, &m, sizeof(m)) ||
	    recv_full(c->rfd, &m, sizeof(m)) ||
	    recv_full(c->rfd, c->buf, PAGE))
		return -1;
	if (m.page != page) {
		dest_fail(ST_ERROR, -1, "asked the source for page %lu, got page %u",
			  page, m.page);
		return -1;
	}
	return 0;
}

static void futex_wait(uint32_t *addr, uint32_t val)
{
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(uint32_t *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

/*
 * Land a page whose state this thread moved to P_BUSY.  The order is what
 * makes it safe: the contents are in the page cache (alias write) before the
 * guest mapping maps them (CONTINUE), which is before KVM may map them (the
 * bit's release, paired with KVM's acquire on its read of the word).
 */
static void land(uint64_t page, const void *buf, enum who who, bool wake)
{
	struct uffdio_continue cont = {
		.range = { (uint64_t)(d.guest + page * PAGE), PAGE },
		.mode = wake ? 0 : UFFDIO_CONTINUE_MODE_DONTWAKE,
	};
	uint32_t old;

	/* Pairs with freeze_landings(): either it waits for us, or we see it. */
	__atomic_add_fetch(&d.landing, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&d.frozen, __ATOMIC_SEQ_CST)) {
		__atomic_sub_fetch(&d.landing, 1, __ATOMIC_SEQ_CST);
		return;
	}
	memcpy(d.alias + page * PAGE, buf, PAGE);
	/*
	 * Fault-around is off in a uffd MINOR range, so only a CONTINUE maps
	 * a page: EEXIST would mean that this page landed twice.
	 */
	if (ioctl(d.uffd, UFFDIO_CONTINUE, &cont)) {
		dest_fail(ST_ERROR, -1, "UFFDIO_CONTINUE of page %lu: errno %d%s",
			  page, errno, errno == EEXIST ? " (landed twice)" : "");
		__atomic_sub_fetch(&d.landing, 1, __ATOMIC_SEQ_CST);
		return;
	}
	if (d.kvm_uf)
		__atomic_fetch_and(&d.bitmap[page / BITS_PER_LONG],
				   ~(1UL << (page % BITS_PER_LONG)),
				   __ATOMIC_RELEASE);
	old = __atomic_exchange_n(&d.state[page], P_PRESENT, __ATOMIC_RELEASE);
	if (old == P_BUSY_WAITERS)
		futex_wake(&d.state[page]);
	__atomic_add_fetch(&d.landed[who], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&d.present, 1, __ATOMIC_RELEASE);
	__atomic_sub_fetch(&d.landing, 1, __ATOMIC_SEQ_CST);
}

/*
 * After a failure, stop pages from landing and wait for those in the middle
 * of it, so that the pages named missing and the count of present ones
 * describe the same moment.
 */
static void freeze_landings(void)
{
	int i;

	__atomic_store_n(&d.frozen, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < 1000 && __atomic_load_n(&d.landing, __ATOMIC_SEQ_CST); i++)
		usleep(1000);
}

/*
 * Make @page present for a faulting access: fetch and land it if nobody
 * else is on it, else wait for the fetch in flight (the coalescing).
 * Return 0 if this thread landed it, 1 if someone else did, -1 if the fetch
 * failed (the destination is failing).
 */
static int demand_page(uint64_t page, struct conn *c, enum who who, bool wake)
{
	uint32_t s = P_MISSING;
	bool waited = false;

	if (__atomic_compare_exchange_n(&d.state[page], &s, P_BUSY, false,
					__ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
		if (fetch(c, page)) {
			if (errno == ETIMEDOUT)
				dest_fail(ST_SOURCE_DIED, -1, "the source stopped answering (nothing in %d ms) fetching page %lu",
					  o.stall_ms, page);
			else
				dest_fail(ST_SOURCE_DIED, -1, "lost the source fetching page %lu",
					  page);
			return -1;
		}
		land(page, c->buf, who, wake);
		return 0;
	}
	while (s != P_PRESENT) {
		if (!waited) {
			__atomic_add_fetch(&d.coalesced, 1, __ATOMIC_RELAXED);
			waited = true;
		}
		if (s == P_BUSY &&
		    !__atomic_compare_exchange_n(&d.state[page], &s, P_BUSY_WAITERS,
						 false, __ATOMIC_ACQUIRE,
						 __ATOMIC_ACQUIRE))
			continue;
		futex_wait(&d.state[page], P_BUSY_WAITERS);
		s = __atomic_load_n(&d.state[page], __ATOMIC_ACQUIRE);
	}
	return 1;
}

static void *vcpu_thread(void *arg)
{
	int id = (intptr_t)arg;
	struct kvm_vcpu *vcpu = d.vcpus[id];
	struct kvm_run *run = vcpu->run;
	struct samples *lat = &d.lat[id];
	struct conn *c = calloc(1, sizeof(*c));
	uint64_t page, t0, gpa;
	struct ucall uc;
	int r;

	TEST_ASSERT(c, "out of memory");
	if (o.pin[id] >= 0)
		kvm_pin_this_task_to_pcpu(o.pin[id]);
	__atomic_store_n(&d.vcpu_tid[id], gettid(), __ATOMIC_RELEASE);
	if (d.kvm_uf)
		conn_open(c);

	for (;;) {
		r = _vcpu_run(vcpu);
		if (r) {
			gpa = run->memory_fault.gpa;
			if (!d.kvm_uf || errno != EFAULT ||
			    run->exit_reason != KVM_EXIT_MEMORY_FAULT ||
			    !(run->memory_fault.flags & KVM_MEMORY_EXIT_FLAG_USERFAULT) ||
			    gpa < DATA_GPA || gpa >= DATA_GPA + o.mem) {
				dest_fail(ST_ERROR, -1, "vCPU %d: KVM_RUN failed, errno %d, exit %s, flags 0x%llx, gpa 0x%lx",
					  id, errno, exit_reason_str(run->exit_reason),
					  run->memory_fault.flags, gpa);
				break;
			}
			/* Our page fault: fetch (or wait for) it, re-enter. */
			t0 = now_ns();
			page = (gpa - DATA_GPA) / PAGE;
			__atomic_add_fetch(&d.exits, 1, __ATOMIC_RELAXED);
			if (demand_page(page, c, BY_VCPU_EXIT, false) < 0)
				break;
			sample(lat, now_ns() - t0);
			continue;
		}
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			if (uc.args[1] == STAGE_BAD_PAGE)
				dest_fail(ST_CORRUPT, uc.args[2], "page %lu: checksum mismatch (computed 0x%lx, page says 0x%lx, index word 0x%lx), read by vCPU %d",
					  uc.args[2], uc.args[3], uc.args[4],
					  uc.args[5], id);
			else if (uc.args[1] == STAGE_LOST_WRITE)
				dest_fail(ST_LOST_WRITE, -1, "page %lu: vCPU %d's write is gone (0x%lx, wrote 0x%lx): a page landed twice",
					  uc.args[2], id, uc.args[3], uc.args[4]);
			else
				dest_fail(ST_ERROR, -1, "vCPU %d: unexpected sync %lu",
					  id, uc.args[1]);
			goto out;
		case UCALL_DONE:
			goto out;
		case UCALL_ABORT:
			dest_fail(ST_ERROR, -1, "vCPU %d: guest assert: %s", id,
				  uc.buffer);
			goto out;
		default:
			dest_fail(ST_ERROR, -1, "vCPU %d: unexpected exit %s", id,
				  exit_reason_str(run->exit_reason));
			goto out;
		}
	}
out:
	__atomic_add_fetch(&d.vcpus_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static bool is_vcpu_tid(pid_t tid)
{
	int i;

	for (i = 0; i < o.vcpus; i++)
		if (__atomic_load_n(&d.vcpu_tid[i], __ATOMIC_ACQUIRE) == tid)
			return true;
	return false;
}

/* Reads the uffd: the reader's faults, and in uffd mode the vCPUs'. */
static void *uffd_thread(void *arg)
{
	struct samples *lat = &d.lat[MAX_VCPUS + (intptr_t)arg];
	struct pollfd pfd[2] = {
		{ .fd = d.uffd, .events = POLLIN },
		{ .fd = d.stop_fd, .events = POLLIN },
	};
	struct conn *c = calloc(1, sizeof(*c));
	struct uffdio_range wake;
	struct uffd_msg msg;
	uint64_t page, addr, t0;
	bool vcpu;
	pid_t tid;
	int r;

	TEST_ASSERT(c, "out of memory");
	conn_open(c);
	for (;;) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		if (read(d.uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;	/* another handler took it */
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		t0 = now_ns();
		addr = msg.arg.pagefault.address & ~(uint64_t)(PAGE - 1);
		page = (addr - (uint64_t)d.guest) / PAGE;
		tid = msg.arg.pagefault.feat.ptid;
		vcpu = is_vcpu_tid(tid);
		if (vcpu)
			__atomic_add_fetch(&d.vcpu_uffd_faults, 1, __ATOMIC_RELAXED);
		else if (tid == d.reader_tid)
			__atomic_add_fetch(&d.reader_uffd_faults, 1, __ATOMIC_RELAXED);
		r = demand_page(page, c, vcpu ? BY_UFFD_VCPU : BY_UFFD_OTHER, true);
		if (r < 0)
			break;
		if (r > 0) {
			/* Landed by someone else, without a wake: ours to do. */
			wake.start = addr;
			wake.len = PAGE;
			if (ioctl(d.uffd, UFFDIO_WAKE, &wake))
				dest_fail(ST_ERROR, -1, "UFFDIO_WAKE of page %lu: errno %d",
					  page, errno);
		}
		if (vcpu)
			sample(lat, now_ns() - t0);
	}
	free(c);
	return NULL;
}

/* Device emulation: reads guest memory through the guest mapping. */
static void *reader_thread(void *arg)
{
	uint64_t rng = mix64(o.seed ^ 0xdead), page, sum;
	const uint64_t *w;
	bool first = true;

	d.reader_tid = gettid();
	while (!__atomic_load_n(&d.stop_reader, __ATOMIC_ACQUIRE) && !dest_failed()) {
		/*
		 * The first read is of the last page, before anything else
		 * runs: it is missing, so the uffd MINOR path must serve it.
		 */
		if (first) {
			page = o.npages - 1;
		} else {
			rng = xorshift(rng);
			page = (rng >> 16) % o.npages;
		}
		w = (const uint64_t *)(d.guest + page * PAGE);
		sum = page_sum(w);
		if (sum != w[W_SUM] || w[W_INDEX] != (PAGE_MAGIC | page)) {
			dest_fail(ST_CORRUPT, page, "page %lu: checksum mismatch (computed 0x%lx, page says 0x%lx, index word 0x%lx), read by the device reader",
				  page, sum, w[W_SUM], w[W_INDEX]);
			break;
		}
		__atomic_add_fetch(&d.reader_reads, 1, __ATOMIC_RELAXED);
		if (first) {
			__atomic_store_n(&d.reader_ready, 1, __ATOMIC_RELEASE);
			first = false;
		}
		usleep(2000);
	}
	return NULL;
}

/* The background stream: land what is still missing, drop the rest. */
static void *push_thread(void *arg)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct msg m = { .op = OP_PUSH };
	struct pollfd pfd[2] = {
		{ .events = POLLIN },
		{ .fd = d.push_stop_fd, .events = POLLIN },
	};
	uint32_t s;
	int r;

	TEST_ASSERT(c, "out of memory");
	conn_open(c);
	pfd[0].fd = c->rfd;
	if (write_full(c->wfd, &m, sizeof(m)))
		goto lost;
	for (;;) {
		/* The destination stops listening once every page is in. */
		r = poll(pfd, 2, o.stall_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (!r && !__atomic_load_n(&d.complete, __ATOMIC_ACQUIRE)) {
			dest_fail(ST_SOURCE_DIED, -1, "the source stopped answering (nothing in %d ms) on the push stream",
				  o.stall_ms);
			return NULL;
		}
		if (r <= 0)
			goto lost;
		if (pfd[1].revents)
			break;
		if (recv_full(c->rfd, &m, sizeof(m)))
			goto lost;
		if (m.page == PUSH_END)
			break;
		if (m.page >= o.npages || recv_full(c->rfd, c->buf, PAGE))
			goto lost;
		s = P_MISSING;
		if (__atomic_compare_exchange_n(&d.state[m.page], &s, P_BUSY,
						false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			land(m.page, c->buf, BY_PUSH, false);
		else
			__atomic_add_fetch(&d.dropped, 1, __ATOMIC_RELAXED);
	}
	return NULL;
lost:
	if (!__atomic_load_n(&d.complete, __ATOMIC_ACQUIRE))
		dest_fail(ST_SOURCE_DIED, -1, "lost the source's push stream");
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void latency_percentiles(struct result *res)
{
	uint64_t n = 0, i, j, *all;

	for (i = 0; i < MAX_VCPUS * 2; i++)
		n += d.lat[i].n;
	res->nsamples = n;
	if (!n)
		return;
	all = malloc(n * sizeof(*all));
	TEST_ASSERT(all, "out of memory");
	for (i = 0, n = 0; i < MAX_VCPUS * 2; i++)
		for (j = 0; j < d.lat[i].n; j++)
			all[n++] = d.lat[i].ns[j];
	qsort(all, n, sizeof(*all), cmp_u64);
	/* Nearest rank: the smallest sample with p% of them at or below it. */
	res->p50_us = all[(n * 50 + 99) / 100 - 1] / 1e3;
	res->p99_us = all[(n * 99 + 99) / 100 - 1] / 1e3;
	free(all);
}

/* The pages that never arrived, as ranges, for the error message. */
static void describe_missing(struct result *res, char *buf, size_t len)
{
	uint64_t p, start, ranges = 0, shown = 16;
	size_t off = 0;

	res->missing = 0;
	res->first_missing = o.npages;
	buf[0] = 0;
	for (p = 0; p < o.npages; p++) {
		if (__atomic_load_n(&d.state[p], __ATOMIC_ACQUIRE) == P_PRESENT)
			continue;
		start = p;
		while (p + 1 < o.npages &&
		       __atomic_load_n(&d.state[p + 1], __ATOMIC_ACQUIRE) != P_PRESENT)
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

static void set_userfault(bool on)
{
	struct userspace_mem_region *region = memslot2region(d.vm, DATA_SLOT);

	if (on)
		region->region.flags |= KVM_MEM_USERFAULT;
	else
		region->region.flags &= ~KVM_MEM_USERFAULT;
	region->region.userfault_bitmap = (uintptr_t)d.bitmap;
	vm_ioctl(d.vm, KVM_SET_USER_MEMORY_REGION2, &region->region);
}

static void uffd_setup(void)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_THREAD_ID,
	};
	struct uffdio_register reg = {
		.range = { (uint64_t)d.guest, o.mem },
		.mode = UFFDIO_REGISTER_MODE_MINOR,
	};

	d.uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (d.uffd < 0 || ioctl(d.uffd, UFFDIO_API, &api)) {
		printf("SKIP: no userfaultfd with MINOR faults on shmem (errno %d)\n",
		       errno);
		exit(ST_SKIP);
	}
	TEST_ASSERT(!ioctl(d.uffd, UFFDIO_REGISTER, &reg),
		    "UFFDIO_REGISTER MINOR: errno %d", errno);
	d.stop_fd = eventfd(0, EFD_CLOEXEC);
	d.push_stop_fd = eventfd(0, EFD_CLOEXEC);
	TEST_ASSERT(d.stop_fd >= 0 && d.push_stop_fd >= 0, "eventfd: errno %d",
		    errno);
}

static void vm_setup(void)
{
	struct userspace_mem_region *region;
	uint64_t cpages = ctl_pages(o.npages), nwords;
	int i;

	/* Slot 0 gets room for the page tables of both extra slots. */
	d.vm = __vm_create_with_vcpus(VM_SHAPE_DEFAULT, o.vcpus,
				      o.npages / 256 + cpages / 256 + 64,
				      guest_code, d.vcpus);
	TEST_ASSERT(d.vm->page_size == PAGE && getpagesize() == PAGE,
		    "4K pages only (guest %u, host %d)", d.vm->page_size,
		    getpagesize());
	for (i = 0; i < o.vcpus; i++)
		vcpu_args_set(d.vcpus[i], 1, i);

	vm_userspace_mem_region_add(d.vm, VM_MEM_SRC_ANONYMOUS, CTL_GPA,
				    CTL_SLOT, cpages, 0);
	virt_map(d.vm, CTL_GPA, CTL_GPA, cpages);
	d.ctl = addr_gpa2hva(d.vm, CTL_GPA);
	d.ctl->npages = o.npages;
	d.ctl->nvcpus = o.vcpus;
	d.ctl->seed = o.seed;
	d.ctl->random_per_step = o.random_per_step;
	d.ctl->hot_page = hot_page();

	vm_userspace_mem_region_add(d.vm, VM_MEM_SRC_SHMEM, DATA_GPA,
				    DATA_SLOT, o.npages, 0);
	virt_map(d.vm, DATA_GPA, DATA_GPA, o.npages);
	region = memslot2region(d.vm, DATA_SLOT);
	d.guest = region->host_mem;
	d.alias = region->host_alias;
	/*
	 * MINOR faults are for pages in the page cache that the faulting
	 * mapping does not map yet: allocate them all, as a VMM does before
	 * it starts the incoming side.
	 */
	TEST_ASSERT(!fallocate(region->fd, 0, 0, o.mem),
		    "fallocate of guest memory: errno %d", errno);

	d.state = calloc(o.npages, sizeof(*d.state));
	TEST_ASSERT(d.state, "out of memory");
	nwords = (o.npages + BITS_PER_LONG - 1) / BITS_PER_LONG;
	d.bitmap = aligned_alloc(sizeof(unsigned long),
				 nwords * sizeof(unsigned long));
	TEST_ASSERT(d.bitmap, "out of memory");
	memset(d.bitmap, 0, nwords * sizeof(unsigned long));
	for (i = 0; (uint64_t)i < o.npages; i++)
		d.bitmap[i / BITS_PER_LONG] |= 1UL << (i % BITS_PER_LONG);
	for (i = 0; i < MAX_VCPUS * 2; i++) {
		d.lat[i].max = o.npages;
		d.lat[i].ns = malloc(o.npages * sizeof(uint64_t));
		TEST_ASSERT(d.lat[i].ns, "out of memory");
	}
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

static void run_dest(enum mode mode, uint16_t port, struct result *res)
{
	pthread_t vt[MAX_VCPUS], ut[MAX_VCPUS], rt, pt;
	int i, nuffd = mode == MODE_KVM ? 1 : o.vcpus;
	uint64_t npoints = 0, maxpoints = 100000, eventval = 1, sum;
	struct point *pts = malloc(maxpoints * sizeof(*pts));
	double t0, t, t_done = 0;
	char missing[600];

	TEST_ASSERT(pts, "out of memory");
	d.mode = mode;
	d.kvm_uf = mode == MODE_KVM;
	d.port = port;
	d.res = res;
	pthread_mutex_init(&d.fail_lock, NULL);
	vm_setup();
	uffd_setup();
	if (d.kvm_uf)
		set_userfault(true);

	for (i = 0; i < nuffd; i++)
		pthread_create(&ut[i], NULL, uffd_thread, (void *)(intptr_t)i);
	/* The device reader's first read faults before anything else runs. */
	pthread_create(&rt, NULL, reader_thread, NULL);
	while (!__atomic_load_n(&d.reader_ready, __ATOMIC_ACQUIRE) && !dest_failed())
		usleep(1000);

	t0 = now_ms();
	pthread_create(&pt, NULL, push_thread, NULL);
	for (i = 0; i < o.vcpus; i++)
		pthread_create(&vt[i], NULL, vcpu_thread, (void *)(intptr_t)i);

	for (;;) {
		t = now_ms();
		if (npoints < maxpoints) {
			pts[npoints].ms = t - t0;
			pts[npoints].present = __atomic_load_n(&d.present, __ATOMIC_RELAXED);
			pts[npoints].demand = d.landed[BY_VCPU_EXIT] +
					      d.landed[BY_UFFD_VCPU] +
					      d.landed[BY_UFFD_OTHER];
			pts[npoints].pushed = d.landed[BY_PUSH];
			npoints++;
		}
		if (dest_failed())
			break;
		if (!d.complete &&
		    __atomic_load_n(&d.present, __ATOMIC_ACQUIRE) == o.npages) {
			/*
			 * Everything is here: stop the stream, let vCPUs fault
			 * without exits, and userfaultfd out of the way.
			 */
			res->migration_ms = t - t0;
			__atomic_store_n(&d.complete, 1, __ATOMIC_RELEASE);
			TEST_ASSERT(write(d.push_stop_fd, &eventval, sizeof(eventval)) ==
				    sizeof(eventval), "eventfd write");
			if (d.kvm_uf)
				set_userfault(false);
		}
		if (!t_done && __atomic_load_n(&d.vcpus_done, __ATOMIC_ACQUIRE) == o.vcpus)
			t_done = t;
		if (d.complete && t_done)
			break;
		usleep(10000);
	}
	res->run_ms = t_done - t0;

	if (dest_failed()) {
		/*
		 * Stop here: the threads may be blocked on pages that will
		 * never come (in the kernel, in uffd mode); exiting ends them.
		 */
		freeze_landings();
		describe_missing(res, missing, sizeof(missing));
		res->present = __atomic_load_n(&d.present, __ATOMIC_ACQUIRE);
		if (res->status == ST_SOURCE_DIED) {
			snprintf(res->error + strlen(res->error),
				 sizeof(res->error) - strlen(res->error),
				 "; the source was lost mid-migration: %lu of %lu pages never arrived: %s",
				 res->missing, o.npages, missing);
		}
		for (i = 0; i < NR_WHO; i++)
			res->landed[i] = d.landed[i];
		fprintf(stderr, "postcopy_demo: %s: %s\n", mode_name[mode],
			res->error);
		fflush(NULL);
		_exit(res->status);
	}

	for (i = 0; i < o.vcpus; i++)
		pthread_join(vt[i], NULL);
	__atomic_store_n(&d.stop_reader, 1, __ATOMIC_RELEASE);
	pthread_join(rt, NULL);
	pthread_join(pt, NULL);
	TEST_ASSERT(write(d.stop_fd, &eventval, sizeof(eventval)) == sizeof(eventval),
		    "eventfd write");
	for (i = 0; i < nuffd; i++)
		pthread_join(ut[i], NULL);
	{
		struct uffdio_range range = { (uint64_t)d.guest, o.mem };

		TEST_ASSERT(!ioctl(d.uffd, UFFDIO_UNREGISTER, &range),
			    "UFFDIO_UNREGISTER: errno %d", errno);
	}

	/* What the guest says it checked. */
	for (i = 0, sum = 0; i < o.vcpus; i++)
		sum += d.ctl->verified[i];
	res->verified = sum;
	for (i = 0, sum = 0; (uint64_t)i < o.npages; i++)
		sum += ctl_checked(d.ctl)[i] == 1;
	res->checked = sum;
	res->present = d.present;
	for (i = 0; i < NR_WHO; i++)
		res->landed[i] = d.landed[i];
	res->dropped = d.dropped;
	res->coalesced = d.coalesced;
	res->exits = d.exits;
	res->vcpu_uffd_faults = d.vcpu_uffd_faults;
	res->reader_uffd_faults = d.reader_uffd_faults;
	res->reader_reads = d.reader_reads;
	latency_percentiles(res);
	if (o.csv)
		print_csv(mode, pts, npoints);
	res->status = ST_OK;
	kvm_vm_free(d.vm);
	fflush(NULL);
	_exit(ST_OK);
}

/* ------------------------------------------------------ orchestrator */

static void *shared_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	TEST_ASSERT(p != MAP_FAILED, "mmap: errno %d", errno);
	return p;
}

struct mode_run {
	struct result *res;
	struct source_stats *src;
	int exit_status;	/* of the destination; -1 if it hung */
	bool source_died;	/* before the destination stopped */
	double wall_ms;
};

/*
 * The source and the destination end with the run that started them: one
 * left behind (say the orchestrator was killed on a timeout) would keep the
 * output pipe of the test runner open and hang it.
 */
static void die_with_parent(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(ST_ERROR);
}

static void run_mode(enum mode mode, struct mode_run *mr)
{
	size_t slen = sizeof(struct source_stats) + o.npages * sizeof(uint32_t);
	pid_t src, dst, parent;
	uint16_t port;
	int fds[2], status, i;
	double t0, deadline;

	mr->res = shared_alloc(sizeof(struct result));
	mr->src = shared_alloc(slen);
	mr->res->status = ST_ERROR;
	TEST_ASSERT(!pipe(fds), "pipe: errno %d", errno);
	nconns = use_tcp ? 0 : MAX_CONNS;
	for (i = 0; i < nconns; i++)
		TEST_ASSERT(!pipe(pipe_req[i]) && !pipe(pipe_resp[i]),
			    "pipe: errno %d", errno);
	fflush(NULL);
	parent = getpid();
	src = fork();
	TEST_ASSERT(src >= 0, "fork: errno %d", errno);
	if (!src) {
		die_with_parent(parent);
		close(fds[0]);
		/* Only the source's ends: its death must be seen as EOF. */
		for (i = 0; i < nconns; i++) {
			close(pipe_req[i][1]);
			close(pipe_resp[i][0]);
		}
		sstats = mr->src;
		run_source(fds[1]);
	}
	close(fds[1]);
	TEST_ASSERT(read(fds[0], &port, sizeof(port)) == sizeof(port),
		    "the source did not start");
	close(fds[0]);

	t0 = now_ms();
	dst = fork();
	TEST_ASSERT(dst >= 0, "fork: errno %d", errno);
	if (!dst) {
		die_with_parent(parent);
		for (i = 0; i < nconns; i++) {
			close(pipe_req[i][0]);
			close(pipe_resp[i][1]);
		}
		run_dest(mode, port, mr->res);
	}
	for (i = 0; i < nconns; i++) {
		close(pipe_req[i][0]);
		close(pipe_req[i][1]);
		close(pipe_resp[i][0]);
		close(pipe_resp[i][1]);
	}

	/* A hang is a failure too: wait with a deadline, then kill. */
	deadline = t0 + o.timeout * 1e3;
	mr->exit_status = -1;
	for (;;) {
		if (waitpid(dst, &status, WNOHANG) == dst) {
			if (WIFEXITED(status))
				mr->exit_status = WEXITSTATUS(status);
			else
				mr->exit_status = 128 + WTERMSIG(status);
			break;
		}
		if (now_ms() > deadline) {
			kill(dst, SIGKILL);
			waitpid(dst, &status, 0);
			break;
		}
		usleep(10000);
	}
	mr->wall_ms = now_ms() - t0;
	mr->source_died = waitpid(src, &status, WNOHANG) == src;
	if (!mr->source_died) {
		kill(src, SIGKILL);
		waitpid(src, &status, 0);
	}
}

static uint64_t demand_total(const struct result *r)
{
	return r->landed[BY_VCPU_EXIT] + r->landed[BY_UFFD_VCPU] +
	       r->landed[BY_UFFD_OTHER];
}

static void print_table(struct mode_run *mr)
{
	int m;

#define ROW(label, fmt, expr)						\
	do {								\
		printf("%-44s", label);					\
		for (m = 0; m < NR_MODES; m++) {			\
			const struct result *r = mr[m].res;		\
			if (!(o.modes & (1 << m)))			\
				continue;				\
			if (r->status != ST_OK)				\
				printf(" %20s", "-");			\
			else						\
				printf(" %20" fmt, expr);		\
		}							\
		printf("\n");						\
	} while (0)

	printf("\npost-copy of %lu MiB (%lu pages), %d vCPUs, %lu us added per request, push %lu pages/s, over %s\n",
	       o.mem >> 20, o.npages, o.vcpus, o.latency_us, o.push_rate,
	       use_tcp ? "loopback TCP" : "pipes");
	printf("%-44s", "");
	for (m = 0; m < NR_MODES; m++)
		if (o.modes & (1 << m))
			printf(" %20s", mode_title[m]);
	printf("\n");
	ROW("total migration time (ms)", ".0f", r->migration_ms);
	ROW("guest run time (ms)", ".0f", r->run_ms);
	ROW("pages fetched on demand", "lu", demand_total(r));
	ROW("  by vCPUs on a KVM Userfault exit", "lu", r->landed[BY_VCPU_EXIT]);
	ROW("  by uffd handlers, for vCPUs", "lu", r->landed[BY_UFFD_VCPU]);
	ROW("  by uffd handlers, for the device reader", "lu", r->landed[BY_UFFD_OTHER]);
	ROW("pages pushed", "lu", r->landed[BY_PUSH]);
	ROW("pushed pages dropped (already fetched)", "lu", r->dropped);
	ROW("requests that waited on a fetch in flight", "lu", r->coalesced);
	ROW("vCPU fault latency p50 (us)", ".0f", r->p50_us);
	ROW("vCPU fault latency p99 (us)", ".0f", r->p99_us);
	ROW("vCPU faults measured", "lu", r->nsamples);
	ROW("pages verified by the guest", "lu", r->verified);
	ROW("device reads / served by uffd MINOR", "s",
	    ({ static char b[NR_MODES][32];
	       snprintf(b[m], sizeof(b[m]), "%lu / %lu", r->reader_reads, r->reader_uffd_faults);
	       b[m]; }));
#undef ROW
	printf("(latency: from the VMM learning of the fault, KVM_RUN's return or the\n"
	       " uffd message, to the vCPU's release, its re-entry or the wake)\n");
}

static int failures;

static void expect(bool ok, const char *mode, const char *fmt, ...)
{
	va_list ap;

	printf("%s: %s: ", ok ? "ok" : "FAIL", mode);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	failures += !ok;
}

static void check_mode(enum mode m, struct mode_run *mr)
{
	const struct result *r = mr->res;
	const struct source_stats *s = mr->src;
	const char *name = mode_name[m];
	uint64_t p, twice = 0, first_twice = 0;
	char want[64];

	expect(mr->exit_status >= 0, name, "the destination stopped within %ds (%.0f ms)",
	       o.timeout, mr->wall_ms);
	/* What the source served holds whatever became of the destination. */
	for (p = 0; p < o.npages; p++) {
		if (s->demand_per_page[p] > 1 && !twice++)
			first_twice = p;
	}
	expect(!twice, name, "no page fetched twice on demand (%lu were, first %lu)",
	       twice, first_twice);
	if (o.source_dies_after || o.source_stalls_after) {
		uint64_t after = o.source_dies_after ?: o.source_stalls_after;

		expect(mr->exit_status == ST_SOURCE_DIED && r->status == ST_SOURCE_DIED,
		       name, "stopped with the source-lost error (exit %d): %s",
		       mr->exit_status, r->error);
		/* Threads racing to send may each have counted one more. */
		expect(mr->source_died == !!o.source_dies_after &&
		       s->sent > after && r->present <= after, name,
		       "the source %s after %lu pages (%lu counted), %lu of them landed",
		       o.source_dies_after ? "died" : "went silent", after,
		       s->sent, r->present);
		if (o.source_stalls_after)
			expect(strstr(r->error, "the source stopped answering") != NULL,
			       name, "the error says the source stopped answering");
		expect(r->missing > 0 && r->missing + r->present == o.npages,
		       name, "%lu pages named missing, %lu present, of %lu",
		       r->missing, r->present, o.npages);
		snprintf(want, sizeof(want), "pages never arrived: %lu", r->first_missing);
		expect(strstr(r->error, want) != NULL, name,
		       "the error names the missing pages, from page %lu",
		       r->first_missing);
		return;
	}
	if (o.corrupt_page >= 0) {
		snprintf(want, sizeof(want), "page %ld: checksum mismatch", o.corrupt_page);
		expect(mr->exit_status == ST_CORRUPT && r->status == ST_CORRUPT &&
		       r->bad_page == (uint64_t)o.corrupt_page &&
		       strstr(r->error, want) != NULL,
		       name, "stopped on the corrupted page %ld (exit %d): %s",
		       o.corrupt_page, mr->exit_status, r->error);
		return;
	}
	expect(mr->exit_status == ST_OK && r->status == ST_OK, name,
	       "migration completed (exit %d)%s%s", mr->exit_status,
	       r->error[0] ? ": " : "", r->error);
	if (mr->exit_status != ST_OK)
		return;
	expect(r->present == o.npages && demand_total(r) + r->landed[BY_PUSH] == o.npages,
	       name, "every page landed once: %lu present, %lu on demand + %lu pushed, of %lu",
	       r->present, demand_total(r), r->landed[BY_PUSH], o.npages);
	expect(r->verified == o.npages && r->checked == o.npages, name,
	       "the guest verified every page's checksum: %lu (%lu marked)",
	       r->verified, r->checked);
	expect(r->coalesced >= 1, name,
	       "concurrent requests waited on the fetch in flight: %lu times (page %lu fetched %u times)",
	       r->coalesced, hot_page(), s->demand_per_page[hot_page()]);
	expect(s->demand == demand_total(r), name,
	       "every on-demand fetch landed: source served %lu, landed %lu",
	       s->demand, demand_total(r));
	expect(r->reader_uffd_faults >= 1 && r->landed[BY_UFFD_OTHER] >= 1 &&
	       r->reader_reads >= 1, name,
	       "the device reader was served by uffd MINOR: %lu faults, %lu fetched for it, %lu reads",
	       r->reader_uffd_faults, r->landed[BY_UFFD_OTHER], r->reader_reads);
	if (m == MODE_KVM)
		expect(r->vcpu_uffd_faults == 0 && r->exits > 0 &&
		       r->landed[BY_VCPU_EXIT] > 0, name,
		       "vCPUs faulted through KVM Userfault only: %lu exits, %lu fetched, %lu uffd faults",
		       r->exits, r->landed[BY_VCPU_EXIT], r->vcpu_uffd_faults);
	else
		expect(r->exits == 0 && r->vcpu_uffd_faults > 0 &&
		       r->landed[BY_UFFD_VCPU] > 0, name,
		       "vCPUs faulted through userfaultfd: %lu uffd faults, %lu fetched",
		       r->vcpu_uffd_faults, r->landed[BY_UFFD_VCPU]);
}

static void parse_pin(const char *list)
{
	char *copy = strdup(list), *tok, *save;
	int i = 0;

	for (tok = strtok_r(copy, ",", &save); tok && i < MAX_VCPUS;
	     tok = strtok_r(NULL, ",", &save))
		o.pin[i++] = atoi(tok);
	TEST_ASSERT(i >= o.vcpus, "--pin: %d CPUs for %d vCPUs", i, o.vcpus);
	free(copy);
}

/* Loopback TCP, if this kernel has TCP/IP; with lo up (a fresh VM's is down). */
static bool tcp_available(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return false;
	if (!ioctl(fd, SIOCGIFFLAGS, &ifr) && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return true;
}

static void usage(const char *name)
{
	printf("usage: %s [--mem SIZE] [--vcpus N] [--latency-us US] [--push-rate PAGES_PER_S]\n"
	       "       [--random N] [--mode kvm|uffd|both] [--pin CPU,...|none] [--seed N]\n"
	       "       [--timeout S] [--csv] [--check] [--source-dies-after PAGES] [--corrupt-page P]\n"
	       "       [--source-stalls-after PAGES] [--stall-timeout-ms MS]\n"
	       "       [--transport auto|tcp|pipe] [--slow-first-fetch-ms MS]\n"
	       "defaults: --mem 32M --vcpus 4 --latency-us 30 --push-rate 2000 --random 1\n"
	       "          --stall-timeout-ms 10000\n"
	       "          --mode both --pin 1,2,3,1... (vCPUs off CPU 0) --timeout 100\n"
	       "--slow-first-fetch-ms: delay the first fetch of the page all vCPUs start on\n"
	       "         (default 0, 200 with --check: concurrent faults on it are certain)\n"
	       "--check: assert the results; with --source-dies-after, --source-stalls-after\n"
	       "         or --corrupt-page,\n"
	       "         assert that the destination stopped with the error that says so.\n",
	       name);
	exit(ST_ERROR);
}

int main(int argc, char *argv[])
{
	static const struct option lopts[] = {
		{ "mem", required_argument, NULL, 'm' },
		{ "vcpus", required_argument, NULL, 'v' },
		{ "latency-us", required_argument, NULL, 'l' },
		{ "push-rate", required_argument, NULL, 'r' },
		{ "random", required_argument, NULL, 'R' },
		{ "mode", required_argument, NULL, 'M' },
		{ "pin", required_argument, NULL, 'c' },
		{ "seed", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "csv", no_argument, NULL, 'C' },
		{ "check", no_argument, NULL, 'k' },
		{ "source-dies-after", required_argument, NULL, 'D' },
		{ "source-stalls-after", required_argument, NULL, 'H' },
		{ "stall-timeout-ms", required_argument, NULL, 'W' },
		{ "corrupt-page", required_argument, NULL, 'X' },
		{ "transport", required_argument, NULL, 'T' },
		{ "slow-first-fetch-ms", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct mode_run mr[NR_MODES] = { };
	const char *pin = NULL, *transport = "auto";
	bool slow = false;
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	int opt, i, m;

	setvbuf(stdout, NULL, _IOLBF, 0);
	o.mem = 32ULL << 20;
	o.vcpus = 4;
	o.latency_us = 30;
	o.push_rate = 2000;
	o.random_per_step = 1;
	o.seed = 0x5eed;
	o.modes = (1 << MODE_KVM) | (1 << MODE_UFFD);
	o.corrupt_page = -1;
	o.timeout = 100;
	o.stall_ms = 10000;
	while ((opt = getopt_long(argc, argv, "m:v:l:r:R:M:c:s:t:CkD:H:W:X:T:S:h",
				  lopts, NULL)) != -1) {
		switch (opt) {
		case 'm': o.mem = parse_size(optarg); break;
		case 'v': o.vcpus = atoi_positive("vCPUs", optarg); break;
		case 'l': o.latency_us = strtoull(optarg, NULL, 0); break;
		case 'r': o.push_rate = strtoull(optarg, NULL, 0); break;
		case 'R': o.random_per_step = strtoull(optarg, NULL, 0); break;
		case 'M':
			if (!strcmp(optarg, "kvm"))
				o.modes = 1 << MODE_KVM;
			else if (!strcmp(optarg, "uffd"))
				o.modes = 1 << MODE_UFFD;
			else if (!strcmp(optarg, "both"))
				o.modes = (1 << MODE_KVM) | (1 << MODE_UFFD);
			else
				usage(argv[0]);
			break;
		case 'c': pin = optarg; break;
		case 's': o.seed = strtoull(optarg, NULL, 0); break;
		case 't': o.timeout = atoi_positive("timeout", optarg); break;
		case 'C': o.csv = true; break;
		case 'k': o.check = true; break;
		case 'D': o.source_dies_after = strtoull(optarg, NULL, 0); break;
		case 'H': o.source_stalls_after = strtoull(optarg, NULL, 0); break;
		case 'W': o.stall_ms = atoi_positive("stall-timeout-ms", optarg); break;
		case 'X': o.corrupt_page = strtoll(optarg, NULL, 0); break;
		case 'T': transport = optarg; break;
		case 'S': o.slow_ms = strtoull(optarg, NULL, 0); slow = true; break;
		default: usage(argv[0]);
		}
	}
	o.npages = o.mem / PAGE;
	/* --check makes sure that concurrent faults on one page happen. */
	if (o.check && !slow)
		o.slow_ms = 200;
	TEST_ASSERT(o.mem % PAGE == 0 && o.npages >= 64 && o.mem <= MAX_MEM,
		    "--mem: a multiple of 4K, from 256K to %lluM", MAX_MEM >> 20);
	TEST_ASSERT(o.vcpus <= MAX_VCPUS, "--vcpus: at most %d", MAX_VCPUS);
	TEST_ASSERT(o.corrupt_page < (int64_t)o.npages, "--corrupt-page: past the end");
	TEST_ASSERT(!o.source_dies_after || o.source_dies_after < o.npages,
		    "--source-dies-after: fewer than the %lu pages", o.npages);
	TEST_ASSERT(!o.source_stalls_after || o.source_stalls_after < o.npages,
		    "--source-stalls-after: fewer than the %lu pages", o.npages);
	TEST_ASSERT(!o.source_stalls_after || !o.source_dies_after,
		    "--source-stalls-after and --source-dies-after: one or the other");

	/*
	 * vCPUs pinned off CPU 0 by default: under TCG, vCPU threads that
	 * exit to userspace on every page and move between CPUs have hung
	 * the nested guest (see tests/kvm-x86_64.list).
	 */
	for (i = 0; i < MAX_VCPUS; i++)
		o.pin[i] = ncpus > 1 ? 1 + i % (ncpus - 1) : -1;
	if (pin && !strcmp(pin, "none"))
		for (i = 0; i < MAX_VCPUS; i++)
			o.pin[i] = -1;
	else if (pin)
		parse_pin(pin);

	/* A dead peer must show up as an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(transport, "pipe"))
		use_tcp = false;
	else if (!strcmp(transport, "tcp") || !strcmp(transport, "auto"))
		use_tcp = tcp_available();
	else
		usage(argv[0]);
	TEST_ASSERT(use_tcp || strcmp(transport, "tcp"),
		    "--transport tcp: this kernel has no TCP/IP");
	printf("# transport: %s\n", use_tcp ? "loopback TCP (127.0.0.1)" :
	       "a pair of pipes per connection (this kernel has no TCP/IP: CONFIG_INET)");

	if ((o.modes & (1 << MODE_KVM)) && !kvm_has_cap(KVM_CAP_USERFAULT)) {
		printf("SKIP: no KVM_CAP_USERFAULT\n");
		if (o.check || o.modes == 1 << MODE_KVM)
			return ST_SKIP;
		o.modes &= ~(1 << MODE_KVM);
	}

	for (m = 0; m < NR_MODES; m++) {
		if (!(o.modes & (1 << m)))
			continue;
		printf("# %s: migrating %lu pages...\n", mode_title[m], o.npages);
		run_mode(m, &mr[m]);
		if (mr[m].exit_status == ST_SKIP)
			return ST_SKIP;
		if (mr[m].exit_status < 0)
			printf("# %s: the destination hung: killed after %ds\n",
			       mode_title[m], o.timeout);
		else if (mr[m].exit_status != ST_OK)
			printf("# %s: stopped after %.0f ms, exit %d: %s\n",
			       mode_title[m], mr[m].wall_ms, mr[m].exit_status,
			       mr[m].res->error);
		else
			printf("# %s: done in %.0f ms\n", mode_title[m], mr[m].wall_ms);
	}
	for (m = 0; m < NR_MODES; m++)
		if ((o.modes & (1 << m)) && mr[m].exit_status == ST_OK) {
			print_table(mr);
			break;
		}

	if (!o.check) {
		for (m = 0; m < NR_MODES; m++)
			if ((o.modes & (1 << m)) && mr[m].exit_status != ST_OK)
				return ST_ERROR;
		return ST_OK;
	}
	for (m = 0; m < NR_MODES; m++)
		if (o.modes & (1 << m))
			check_mode(m, &mr[m]);
	printf("%s: %d failed\n", failures ? "FAIL" : "PASS", failures);
	return failures ? ST_ERROR : ST_OK;
}
