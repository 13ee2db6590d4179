// SPDX-License-Identifier: GPL-2.0-only
/*
 * postcopy_demo's fault injection, which the source runs to break the
 * migration on purpose, and the --check assertions on the outcome.  What
 * a completed migration implies (every page present, the guest's check of
 * every page's checksum and of its own writes) is one assertion, "migration
 * completed"; each of the others can fail while the run itself succeeds.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "demo.h"
#include "transport.h"

/* --corrupt-page P: a bit flipped at rest; the checksum must catch it. */
void inject_corrupt(uint64_t *image)
{
	if (o.corrupt_page >= 0)
		((uint8_t *)(image + o.corrupt_page * WORDS))[100] ^= 0x10;
}

/*
 * The source, before it sends @page (@data) on @fd, on demand or pushed.
 * --source-dies-after N: it crashes instead of sending more than N pages,
 * no goodbye.  --source-stalls-after N: it stays up and connected, and is
 * silent from then on.  --stall-mid-page: instead, the first page it sends
 * on demand after N stops halfway, and that connection stays silent while
 * the others go on: only the fetcher's own wait can end that one.
 */
void inject_before_send(struct source_stats *s, int fd, uint32_t page,
			const void *data, bool on_demand)
{
	static int stalled;
	struct msg m = { .op = MSG_PAGE, .page = page };
	uint64_t n = __atomic_add_fetch(&s->sent, 1, __ATOMIC_RELAXED);

	if (o.source_dies_after && n > o.source_dies_after)
		kill(getpid(), SIGKILL);
	if (!o.source_stalls_after || n <= o.source_stalls_after)
		return;
	if (o.stall_mid_page) {
		if (!on_demand || __atomic_exchange_n(&stalled, 1, __ATOMIC_RELAXED))
			return;
		if (!write_full(fd, &m, sizeof(m)))
			write_full(fd, data, PAGE / 2);
	}
	for (;;)
		pause();
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

/* The failure runs: the VMM paused with the error that says why. */
static void check_failure(const char *name, const struct mode_run *mr)
{
	const struct result *r = mr->res;
	const struct source_stats *s = mr->src;
	uint64_t after = o.source_dies_after ?: o.source_stalls_after;
	char want[64];

	if (o.corrupt_page >= 0) {
		snprintf(want, sizeof(want), "page %ld: checksum mismatch",
			 o.corrupt_page);
		expect(r->state == DEST_PAUSED && r->status == ST_CORRUPT &&
		       r->bad_page == (uint64_t)o.corrupt_page &&
		       strstr(r->error, want) != NULL,
		       name, "paused on the corrupted page %ld: %s",
		       o.corrupt_page, r->error);
		return;
	}
	expect(r->state == DEST_PAUSED && r->status == ST_SOURCE_LOST, name,
	       "paused with the source-lost error: %s", r->error);
	/*
	 * Threads racing to send may each have counted one more; a stall in
	 * the middle of a page leaves the other connections served.
	 */
	expect(mr->source_died == !!o.source_dies_after && s->sent > after &&
	       (o.stall_mid_page || r->present <= after), name,
	       "the source %s after %lu pages (%lu sends counted), %lu pages landed",
	       o.source_dies_after ? "died" :
	       o.stall_mid_page ? "stopped in the middle of a page" : "went silent",
	       after, s->sent, r->present);
	if (o.source_stalls_after)
		expect(strstr(r->error, "the source stopped answering") != NULL,
		       name, "the error says the source stopped answering");
	snprintf(want, sizeof(want), "pages never arrived: %lu", r->first_missing);
	expect(r->missing > 0 && r->missing + r->present == o.npages &&
	       strstr(r->error, want) != NULL, name,
	       "the report names the %lu pages missing (from page %lu), the %lu others are present",
	       r->missing, r->first_missing, r->present);
}

/* The assertions on one mode's run; the number that failed. */
int check_mode(enum mode m, const struct mode_run *mr)
{
	const struct result *r = mr->res;
	const struct source_stats *s = mr->src;
	const char *name = mode_name[m];
	uint64_t p, twice = 0, first_twice = 0;

	failures = 0;
	expect(mr->ended, name, "the destination ended or paused within %ds (%.0f ms)",
	       o.timeout, mr->wall_ms);
	/* What the source served holds whatever became of the destination. */
	for (p = 0; p < o.npages; p++) {
		if (s->demand_per_page[p] > 1 && !twice++)
			first_twice = p;
	}
	expect(!twice, name, "no page fetched twice on demand (%lu were, first %lu)",
	       twice, first_twice);
	if (o.source_dies_after || o.source_stalls_after || o.corrupt_page >= 0) {
		check_failure(name, mr);
		return failures;
	}

	expect(r->state == DEST_DONE && mr->exit_status == ST_OK, name,
	       "migration completed, the guest checked every page (exit %d)%s%s",
	       mr->exit_status, r->error[0] ? ": " : "", r->error);
	if (r->state != DEST_DONE)
		return failures;
	/* Without it, "no page fetched twice" would prove little. */
	expect(r->coalesced >= 1, name,
	       "concurrent requests waited on the fetch in flight: %lu times (page %lu fetched %u times)",
	       r->coalesced, hot_page(), s->demand_per_page[hot_page()]);
	expect(s->demand == demand_total(r), name,
	       "every page the source served on demand landed: %lu served, %lu landed",
	       s->demand, demand_total(r));
	expect(r->other_uffd_faults >= 1 && r->landed[BY_UFFD_OTHER] >= 1 &&
	       r->reader_reads >= 1, name,
	       "the device reader was served by uffd MINOR: %lu faults, %lu fetched for it, %lu reads",
	       r->other_uffd_faults, r->landed[BY_UFFD_OTHER], r->reader_reads);
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
	return failures;
}
