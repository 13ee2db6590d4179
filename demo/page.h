/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The page format of the guest memory image: what the source makes and
 * sends, what the guest and the device reader check, and what the VMM
 * copies without looking at it.
 *
 * A page, in 64-bit words: data, then the page's index (with a magic),
 * then the checksum of everything before it, then the guest's write word,
 * which the checksum leaves out so that guest writes keep the page valid,
 * then a spare word.  A page that arrives at the wrong place, or with a
 * bit flipped, fails page_valid().
 */
#ifndef POSTCOPY_PAGE_H
#define POSTCOPY_PAGE_H

#include <stdbool.h>
#include <stdint.h>

#define PAGE		4096
#define WORDS		(PAGE / 8)
#define W_INDEX		(WORDS - 4)
#define W_SUM		(WORDS - 3)
#define W_WRITE		(WORDS - 2)
#define PAGE_MAGIC	0x5043000000000000ULL	/* "PC" */

/* Also the guest's: everything here runs in the guest as well. */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static inline uint64_t xorshift(uint64_t x)
{
	x ^= x << 13;
	x ^= x >> 7;
	return x ^ (x << 17);
}

static inline uint64_t page_sum(const volatile uint64_t *w)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	int i;

	for (i = 0; i < W_SUM; i++)
		h = (h ^ w[i]) * 0x100000001b3ULL;
	return mix64(h);
}

/* Page @page of the image that @seed generates. */
static inline void page_make(uint64_t *w, uint64_t seed, uint64_t page)
{
	int i;

	for (i = 0; i < W_INDEX; i++)
		w[i] = mix64(seed ^ (page << 9 | i));
	w[W_INDEX] = PAGE_MAGIC | page;
	w[W_SUM] = page_sum(w);
	w[W_WRITE] = 0;
	w[WORDS - 1] = 0;
}

/* Is @w page @page of the image?  @sum gets what its checksum should be. */
static inline bool page_valid(const volatile uint64_t *w, uint64_t page,
			      uint64_t *sum)
{
	*sum = page_sum(w);
	return *sum == w[W_SUM] && w[W_INDEX] == (PAGE_MAGIC | page);
}

#endif
