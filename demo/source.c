// SPDX-License-Identifier: GPL-2.0-only
/*
 * The source of postcopy_demo: the machine the guest left.  It owns the
 * guest memory image and serves it over loopback TCP: a MSG_GET of one page
 * is answered after an added latency (--latency-us), and one MSG_PUSH
 * connection streams every page not yet sent, in order, at --push-rate.
 * A thread per connection; it runs until the orchestrator ends it.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

#include "demo.h"
#include "transport.h"

static uint64_t *image;
static struct source_stats *st;
static uint8_t *sent_on_demand;
static int hot_served;

static void make_image(void)
{
	uint64_t p;

	image = malloc(o.npages * PAGE);
	TEST_ASSERT(image, "source: out of memory");
	for (p = 0; p < o.npages; p++)
		page_make(image + p * WORDS, o.seed, p);
	inject_corrupt(image);
}

static int serve(int fd, uint32_t page, bool on_demand)
{
	const void *data = image + (uint64_t)page * WORDS;

	inject_before_send(st, fd, page, data, on_demand);
	return send_page(fd, page, data);
}

static void push_stream(int fd)
{
	uint64_t interval = o.push_rate ? 1000000000ULL / o.push_rate : 0;
	struct msg end = { .op = MSG_END };
	uint64_t p, next = now_ns();
	struct timespec ts;

	for (p = 0; p < o.npages; p++) {
		/* "Every remaining page": what was served on demand is there. */
		if (__atomic_load_n(&sent_on_demand[p], __ATOMIC_RELAXED)) {
			__atomic_add_fetch(&st->skipped, 1, __ATOMIC_RELAXED);
			continue;
		}
		/* The link's bandwidth: pace the stream, don't burst it. */
		if (interval) {
			next += interval;
			ts.tv_sec = next / 1000000000ULL;
			ts.tv_nsec = next % 1000000000ULL;
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
		if (serve(fd, p, false))
			return;
		__atomic_add_fetch(&st->pushed, 1, __ATOMIC_RELAXED);
	}
	write_full(fd, &end, sizeof(end));
}

static void *serve_conn(void *arg)
{
	int fd = (intptr_t)arg;
	struct timespec lat = {
		.tv_sec = o.latency_us / 1000000,
		.tv_nsec = (o.latency_us % 1000000) * 1000,
	};
	struct msg m;

	while (!read_full(fd, &m, sizeof(m))) {
		if (m.op == MSG_PUSH) {
			push_stream(fd);
			break;
		}
		if (m.op != MSG_GET || m.page >= o.npages)
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
		__atomic_add_fetch(&st->demand_per_page[m.page], 1,
				   __ATOMIC_RELAXED);
		__atomic_add_fetch(&st->demand, 1, __ATOMIC_RELAXED);
		if (serve(fd, m.page, true))
			break;
	}
	close(fd);
	return NULL;
}

/* Listen, tell the orchestrator the port on @ready_fd, serve until killed. */
void run_source(int ready_fd, struct source_stats *stats)
{
	uint16_t port;
	pthread_t t;
	int lfd, fd;

	st = stats;
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

	lfd = tcp_listen(&port);
	TEST_ASSERT(lfd >= 0, "source: cannot listen on 127.0.0.1: errno %d", errno);
	TEST_ASSERT(write(ready_fd, &port, sizeof(port)) == sizeof(port),
		    "source: cannot report its port");
	close(ready_fd);

	while ((fd = tcp_accept(lfd)) >= 0) {
		/* A connection it cannot serve is closed: the peer sees EOF. */
		if (pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)fd))
			close(fd);
		else
			pthread_detach(t);
	}
	_exit(ST_ERROR);
}
