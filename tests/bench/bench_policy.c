// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Policy lookup benchmark: builds policies of 10, 1,000, 10,000 and 100,000
 * host rules (exact names, '*.' and '**.' wildcards) as YAML, loads them
 * through the real loader, and times pol_check_host over a fixed mix of
 * names (exact hits, wildcard hits at several depths, misses). Prints load
 * time, lookups per second and nanoseconds per lookup. Never asserts timings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agw.h"
#include "policies/pol.h"

#define NQ 4096

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *make_policy(unsigned n, size_t *len)
{
	size_t cap = (size_t)n * 48 + 256, o = 0;
	char *b = malloc(cap);

	if (!b)
		return NULL;
	o += (size_t)snprintf(b + o, cap - o, "version: 1\nname: bench%u\nnetwork:\n  allow: [", n);
	for (unsigned i = 0; i + 1 < n; i++) { /* n - 1 allow rules and one deny */
		switch (i % 4) {
		case 0:
		case 1:
			o += (size_t)snprintf(b + o, cap - o, "%ss%u.d%u.example.com",
					      i ? ", " : "", i, i);
			break;
		case 2:
			o += (size_t)snprintf(b + o, cap - o, "%s\"*.d%u.example.net\"",
					      i ? ", " : "", i);
			break;
		default:
			o += (size_t)snprintf(b + o, cap - o, "%s\"**.cdn%u.example.org\"",
					      i ? ", " : "", i);
			break;
		}
	}
	o += (size_t)snprintf(b + o, cap - o, "]\n  deny: [\"**.pastebin.com\"]\n");
	*len = o;
	return b;
}

static void make_queries(unsigned n, char q[NQ][80])
{
	unsigned seed = 12345;

	for (unsigned i = 0; i < NQ; i++) {
		unsigned r, k;

		seed = seed * 1103515245u + 12345u;
		r = (seed >> 8) % n;
		k = r - r % 4;
		switch (i % 6) {
		case 0: /* exact hit */
			snprintf(q[i], 80, "s%u.d%u.example.com", k, k);
			break;
		case 1: /* one-label wildcard hit */
			k = n > 2 ? k + 2 < n ? k + 2 : 2 : 0;
			snprintf(q[i], 80, "api.d%u.example.net", k);
			break;
		case 2: /* deep wildcard hit */
			k = n > 3 ? k + 3 < n ? k + 3 : 3 : 0;
			snprintf(q[i], 80, "a.b.c.cdn%u.example.org", k);
			break;
		case 3: /* miss under a known suffix */
			snprintf(q[i], 80, "nope%u.example.com", r);
			break;
		case 4: /* miss, unknown TLD */
			snprintf(q[i], 80, "www.site%u.invalid", r);
			break;
		default: /* deny */
			snprintf(q[i], 80, "x%u.pastebin.com", r);
			break;
		}
	}
}

int main(int argc, char **argv)
{
	static const unsigned sizes[] = {10, 1000, 10000, 100000};
	static char q[NQ][80];
	unsigned long iters = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000000;
	int rc = 0;

	printf("%-10s %10s %12s %14s %12s %8s\n", "rules", "yaml_kB", "load_ms", "lookups/s",
	       "ns/lookup", "allowed");
	for (size_t s = 0; s < AGW_ARRAY_LEN(sizes); s++) {
		struct pol_errors errs = {0};
		struct pol *p = NULL;
		struct pol_decision d;
		size_t len;
		char *y = make_policy(sizes[s], &len);
		double t0, t1, t2;
		unsigned long allowed = 0;

		if (!y)
			return 1;
		t0 = now_s();
		if (pol_load_buf("bench.yaml", y, len, "/tmp", &p, &errs) < 0) {
			fprintf(stderr, "bench_policy: load of %u rules failed: %s\n", sizes[s],
				errs.n ? errs.v[0].msg : "?");
			pol_errors_free(&errs);
			free(y);
			rc = 1;
			continue;
		}
		t1 = now_s();
		make_queries(sizes[s], q);
		for (unsigned i = 0; i < NQ; i++) /* warm up */
			pol_check_host(p, q[i], 443, &d);
		t1 = t1 - t0;
		t0 = now_s();
		for (unsigned long i = 0; i < iters; i++) {
			pol_check_host(p, q[i % NQ], 443, &d);
			allowed += d.verdict == POL_ALLOW;
		}
		t2 = now_s() - t0;
		printf("%-10u %10zu %12.1f %14.0f %12.1f %7.0f%%\n", sizes[s], len / 1024, t1 * 1e3,
		       (double)iters / t2, t2 * 1e9 / (double)iters,
		       100.0 * (double)allowed / (double)iters);
		pol_free(p);
		free(y);
	}
	return rc;
}
