// SPDX-License-Identifier: GPL-2.0-only
/*
 * postcopy_demo: post-copy migration of a running guest's memory, the way
 * a VMM does it with KVM Userfault layered on userfaultfd MINOR, and the
 * same migration with userfaultfd alone, side by side.
 *
 * The VMM is vmm.c: start there.  Per mode this program runs a source
 * (source.c), which owns the guest memory image and serves it over
 * loopback TCP (transport.c), and a destination (dest.c): a VM whose guest
 * (guest.c) sweeps its memory and checks every page (page.h) while the VMM
 * core demand-pages it and lands the background push stream.  This file
 * is the orchestration: it starts both processes with a deadline, waits
 * for the destination to be done or to pause on a failure, prints the
 * results side by side and, with --check, asserts them (check.c, which
 * also holds the fault injection).
 *
 * Exit status: 0 success (with --check: every assertion held), 4 skip (no
 * KVM_CAP_USERFAULT or no userfaultfd MINOR on shmem), 1 failure.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "test_util.h"

#include "demo.h"
#include "transport.h"

struct opts o;
const char *const mode_name[NR_MODES] = { "kvm_userfault", "uffd" };
const char *const mode_title[NR_MODES] = { "KVM Userfault", "userfaultfd alone" };

double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void *shared_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	TEST_ASSERT(p != MAP_FAILED, "mmap: errno %d", errno);
	return p;
}

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

static void end(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

static void run_mode(enum mode mode, struct mode_run *mr)
{
	size_t slen = sizeof(struct source_stats) + o.npages * sizeof(uint32_t);
	pid_t src, dst, parent = getpid();
	int fds[2], status;
	double deadline;
	uint16_t port;

	mr->res = shared_alloc(sizeof(struct result));
	mr->src = shared_alloc(slen);
	mr->res->status = ST_ERROR;
	mr->exit_status = -1;
	TEST_ASSERT(!pipe(fds), "pipe: errno %d", errno);
	fflush(NULL);
	src = fork();
	TEST_ASSERT(src >= 0, "fork: errno %d", errno);
	if (!src) {
		die_with_parent(parent);
		close(fds[0]);
		run_source(fds[1], mr->src);
	}
	close(fds[1]);
	TEST_ASSERT(read(fds[0], &port, sizeof(port)) == sizeof(port),
		    "the source did not start");
	close(fds[0]);

	mr->wall_ms = now_ms();
	dst = fork();
	TEST_ASSERT(dst >= 0, "fork: errno %d", errno);
	if (!dst) {
		die_with_parent(parent);
		run_dest(mode, port, mr->res);
	}

	/*
	 * Wait for the destination to end, or to pause the migration on a
	 * failure: the management's call then.  Without a source to resume
	 * from, the VM is ended.  A hang is a failure too: a deadline.
	 */
	deadline = mr->wall_ms + o.timeout * 1e3;
	for (;;) {
		if (waitpid(dst, &status, WNOHANG) == dst) {
			mr->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) :
					  128 + WTERMSIG(status);
			mr->ended = true;
			break;
		}
		if (__atomic_load_n(&mr->res->state, __ATOMIC_ACQUIRE) == DEST_PAUSED) {
			end(dst);
			mr->ended = true;
			break;
		}
		if (now_ms() > deadline) {
			end(dst);
			break;
		}
		usleep(10000);
	}
	mr->wall_ms = now_ms() - mr->wall_ms;
	mr->source_died = waitpid(src, &status, WNOHANG) == src;
	if (!mr->source_died)
		end(src);
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
			if (r->state != DEST_DONE)			\
				printf(" %20s", "-");			\
			else						\
				printf(" %20" fmt, expr);		\
		}							\
		printf("\n");						\
	} while (0)

	printf("\npost-copy of %lu MiB (%lu pages), %d vCPUs, %lu us added per request, push %lu pages/s, over loopback TCP\n",
	       o.mem >> 20, o.npages, o.vcpus, o.latency_us, o.push_rate);
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
	       snprintf(b[m], sizeof(b[m]), "%lu / %lu", r->reader_reads, r->other_uffd_faults);
	       b[m]; }));
#undef ROW
	printf("(latency: from the VMM learning of the fault, KVM_RUN's return or the\n"
	       " uffd message, to the vCPU's release, its re-entry or the wake)\n");
}

static void parse_pin(const char *list)
{
	char *copy = strdup(list), *tok, *save;
	int i = 0;

	for (tok = strtok_r(copy, ",", &save); tok && i < MAX_VCPUS;
	     tok = strtok_r(NULL, ",", &save))
		o.pin[i++] = atoi(tok);
	TEST_ASSERT(i >= o.vcpus, "--pin-vcpus: %d CPUs for %d vCPUs", i, o.vcpus);
	free(copy);
}

static void usage(const char *name)
{
	printf("usage: %s [--mem SIZE] [--vcpus N] [--latency-us US] [--push-rate PAGES_PER_S]\n"
	       "       [--random N] [--mode kvm|uffd|both] [--pin-vcpus CPU,...] [--seed N]\n"
	       "       [--timeout S] [--csv] [--check] [--slow-first-fetch-ms MS]\n"
	       "       [--source-dies-after PAGES] [--source-stalls-after PAGES [--stall-mid-page]]\n"
	       "       [--stall-timeout-ms MS] [--corrupt-page P]\n"
	       "defaults: --mem 32M --vcpus 4 --latency-us 30 --push-rate 2000 --random 1\n"
	       "          --mode both --timeout 100 --stall-timeout-ms 10000, vCPUs not pinned\n"
	       "--pin-vcpus: vCPU i runs on the i-th CPU of the list (a workaround for\n"
	       "         nested TCG, see tests/kvm-x86_64.list)\n"
	       "--stall-mid-page: the first page served on demand after PAGES stops halfway,\n"
	       "         and only that connection goes silent\n"
	       "--slow-first-fetch-ms: delay the first fetch of the page all vCPUs start on\n"
	       "         (default 0, 200 with --check: concurrent faults on it are certain)\n"
	       "--check: assert the results; with --source-dies-after, --source-stalls-after\n"
	       "         or --corrupt-page, assert that the destination paused the\n"
	       "         migration with the error that says so.\n",
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
		{ "pin-vcpus", required_argument, NULL, 'c' },
		{ "seed", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "csv", no_argument, NULL, 'C' },
		{ "check", no_argument, NULL, 'k' },
		{ "source-dies-after", required_argument, NULL, 'D' },
		{ "source-stalls-after", required_argument, NULL, 'H' },
		{ "stall-mid-page", no_argument, NULL, 'P' },
		{ "stall-timeout-ms", required_argument, NULL, 'W' },
		{ "corrupt-page", required_argument, NULL, 'X' },
		{ "slow-first-fetch-ms", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct mode_run mr[NR_MODES] = { };
	const char *pin = NULL;
	bool slow = false;
	int opt, i, m, failures = 0;

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
	for (i = 0; i < MAX_VCPUS; i++)
		o.pin[i] = -1;
	while ((opt = getopt_long(argc, argv, "m:v:l:r:R:M:c:s:t:CkD:H:PW:X:S:h",
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
		case 'P': o.stall_mid_page = true; break;
		case 'W': o.stall_ms = atoi_positive("stall-timeout-ms", optarg); break;
		case 'X': o.corrupt_page = strtoll(optarg, NULL, 0); break;
		case 'S': o.slow_ms = strtoull(optarg, NULL, 0); slow = true; break;
		default: usage(argv[0]);
		}
	}
	o.npages = o.mem / PAGE;
	if (pin)
		parse_pin(pin);
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
	TEST_ASSERT(!o.stall_mid_page || o.source_stalls_after,
		    "--stall-mid-page: with --source-stalls-after");

	/* A dead peer must show up as an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	TEST_ASSERT(!loopback_up(), "no TCP/IP in this kernel (CONFIG_INET)");

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
		if (!mr[m].ended)
			printf("# %s: the destination hung: killed after %ds\n",
			       mode_title[m], o.timeout);
		else if (mr[m].res->state == DEST_PAUSED)
			printf("# %s: paused after %.0f ms: %s\n", mode_title[m],
			       mr[m].wall_ms, mr[m].res->error);
		else if (mr[m].exit_status != ST_OK)
			printf("# %s: the destination failed after %.0f ms, exit %d\n",
			       mode_title[m], mr[m].wall_ms, mr[m].exit_status);
		else
			printf("# %s: done in %.0f ms\n", mode_title[m], mr[m].wall_ms);
	}
	for (m = 0; m < NR_MODES; m++)
		if ((o.modes & (1 << m)) && mr[m].res->state == DEST_DONE) {
			print_table(mr);
			break;
		}

	if (!o.check) {
		for (m = 0; m < NR_MODES; m++)
			if ((o.modes & (1 << m)) && mr[m].res->state != DEST_DONE)
				return ST_ERROR;
		return ST_OK;
	}
	for (m = 0; m < NR_MODES; m++)
		if (o.modes & (1 << m))
			failures += check_mode(m, &mr[m]);
	printf("%s: %d failed\n", failures ? "FAIL" : "PASS", failures);
	return failures ? ST_ERROR : ST_OK;
}
