// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Audit writer throughput: P producer threads submit N realistic events
 * (dns/net/http/fs, host and path targets, rules, addresses) as fast as the
 * queue takes them, retrying on -AGW_EFULL like a gateway that backs off;
 * the figure is events committed per second from the first submit to the end
 * of the final flush. Also used by tests/integration/audit_cli.sh to write a
 * database to query (--db PATH --keep).
 *
 * usage: bench_audit [-n EVENTS] [-p PRODUCERS] [--db PATH] [--keep] [--ago SECONDS]
 * (--ago: the events happened that long ago, for retention tests)
 */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agw.h"
#include "audit/aud.h"

struct bench_prod {
	struct aud_writer *w;
	int64_t sandbox, ts;
	uint64_t n, efull;
	unsigned seed;
};

static void *bench_producer(void *arg)
{
	static const char *const kinds[] = {"dns", "net", "net", "http", "fs", "fs"};
	static const char *const ops[] = {"query", "connect", "close", "request", "open", "create"};
	static const char *const decisions[] = {"allow", "allow", "allow", "deny", "would_deny"};
	struct bench_prod *p = arg;
	char target[128], detail[96];

	for (uint64_t i = 0; i < p->n; i++) {
		unsigned k = (unsigned)(i % AGW_ARRAY_LEN(kinds));
		unsigned r = rand_r(&p->seed);

		if (k >= 4)
			snprintf(target, sizeof(target), "src/module%u/file%u.c", r % 50, r % 1000);
		else
			snprintf(target, sizeof(target), "api%u.example.com:443", r % 200);
		snprintf(detail, sizeof(detail), "{\"seq\":%llu}", (unsigned long long)i);
		struct aud_event ev = {
		    .sandbox_id = p->sandbox,
		    .ts = p->ts,
		    .kind = kinds[k],
		    .op = ops[k],
		    .target = target,
		    .decision = decisions[r % AGW_ARRAY_LEN(decisions)],
		    .rule = k >= 4 ? "filesystem.allow[1]" : "network.allow[0]",
		    .reason = "matched rule",
		    .src = "10.77.0.2:40312",
		    .dst = k >= 4 ? NULL : "93.184.216.34:443",
		    .bytes_up = k == 2 ? (int64_t)(r % 100000) : -1,
		    .bytes_down = k == 2 ? (int64_t)(r % 1000000) : -1,
		    .duration_us = k == 2 ? (int64_t)(r % 5000000) : -1,
		    .detail = detail,
		};
		while (aud_writer_submit(p->w, &ev) == -AGW_EFULL) {
			p->efull++;
			if (!aud_writer_healthy(p->w))
				return NULL;
			usleep(200);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct bench_prod prods[16];
	pthread_t thr[16];
	struct aud_writer *w = NULL;
	struct aud_writer_stats st;
	char dir[PATH_MAX] = "", db[PATH_MAX + 16] = "";
	const char *dbarg = NULL;
	uint64_t n = 500000, efull = 0;
	int np = 1, keep = 0, rc;
	int64_t t0, t1, sb = 0, ago = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			n = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc)
			np = atoi(argv[++i]);
		else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
			dbarg = argv[++i];
		else if (strcmp(argv[i], "--keep") == 0)
			keep = 1;
		else if (strcmp(argv[i], "--ago") == 0 && i + 1 < argc)
			ago = strtoll(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: bench_audit [-n EVENTS] [-p PRODUCERS] [--db PATH] "
					"[--keep] [--ago SECONDS]\n");
			return 2;
		}
	}
	if (np < 1 || np > 16 || n == 0)
		return 2;
	if (dbarg) {
		snprintf(db, sizeof(db), "%s", dbarg);
	} else {
		snprintf(dir, sizeof(dir), "%s/agw-bench-audit-XXXXXX",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 1;
		}
		snprintf(db, sizeof(db), "%s/audit.db", dir);
	}
	rc = aud_writer_new(db, &w);
	if (rc < 0) {
		fprintf(stderr, "bench_audit: %s: %s\n", db, agw_strerror(rc));
		return 1;
	}
	for (int i = 0; i < 2; i++) {
		char name[32];

		snprintf(name, sizeof(name), "bench%d", i);
		if (aud_writer_sandbox_start(w, name, "bench", NULL, "version: 1\n", "default",
					     i == 0 ? &sb : NULL) < 0)
			return 1;
	}
	t0 = agw_mono_us();
	for (int i = 0; i < np; i++) {
		prods[i] = (struct bench_prod){.w = w,
					       .sandbox = sb + (i % 2),
					       .ts = ago ? agw_now_us() - ago * 1000000 : 0,
					       .n = n / (uint64_t)np,
					       .seed = (unsigned)i + 1};
		if (pthread_create(&thr[i], NULL, bench_producer, &prods[i]) != 0)
			return 1;
	}
	for (int i = 0; i < np; i++) {
		pthread_join(thr[i], NULL);
		efull += prods[i].efull;
	}
	rc = aud_writer_flush(w);
	t1 = agw_mono_us();
	aud_writer_get_stats(w, &st);
	aud_writer_free(w);
	if (rc < 0) {
		fprintf(stderr, "bench_audit: flush: %s\n", agw_strerror(rc));
		return 1;
	}
	printf("audit writer: %llu events, %d producer(s), %.3f s, %.0f events/s, "
	       "%llu transactions (%.0f events each), %llu EFULL retries\n",
	       (unsigned long long)st.committed, np, (double)(t1 - t0) / 1e6,
	       (double)st.committed * 1e6 / (double)(t1 - t0), (unsigned long long)st.transactions,
	       st.transactions ? (double)st.committed / (double)st.transactions : 0.0,
	       (unsigned long long)efull);
	if (!keep && dir[0]) {
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_audit: could not remove %s\n", dir);
	}
	return 0;
}
