// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Crash and disk-full tests of the audit writer, with real processes and
 * real limits. Crash: a forked writer streams events and reports each count
 * it knows committed (after a flush) down a pipe; the parent kill -9s it
 * mid-stream, several times over the same database, and checks that the
 * database passes PRAGMA integrity_check (also with the sqlite3 command line)
 * and holds at least every reported event. Disk full: in a forked child the
 * database file size is capped with RLIMIT_FSIZE (works unprivileged), and as
 * root a tiny tmpfs is filled; the writer must go unhealthy, refuse events,
 * keep what it accepted, and come back once space returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "test_audit_util.h"

/* The child: stream forever, flushing every 500 events and reporting. */
static void crash_child(const char *db, int fd)
{
	struct aud_writer *w = NULL;
	char target[64], detail[256];
	uint64_t n = 0;

	if (aud_writer_new(db, &w) < 0)
		_exit(20);
	for (;;) {
		snprintf(target, sizeof(target), "src/file%llu.c", (unsigned long long)n);
		snprintf(detail, sizeof(detail), "{\"seq\":%llu,\"pad\":\"%0100d\"}",
			 (unsigned long long)n, 0);
		struct aud_event ev = tau_event(1, "fs", "open", target, "allow");
		ev.detail = detail;
		if (aud_writer_submit(w, &ev) == 0)
			n++;
		if (n % 500 == 0 && aud_writer_flush(w) == 0 &&
		    write(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
			_exit(21);
	}
}

static void test_kill9_keeps_committed(void **state)
{
	struct tau_ctx *t = *state;
	uint64_t total = 0, v;
	char out[128];

	for (int round = 0; round < 4; round++) {
		int p[2], status = 0;
		pid_t pid;
		uint64_t base =
		    (uint64_t)(round == 0 ? 0 : tau_int(t->db, "SELECT COUNT(*) FROM event"));
		uint64_t want = 2000 + (uint64_t)round * 3500; /* different moments each round */

		assert_int_equal(pipe(p), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			crash_child(t->db, p[1]);
		}
		close(p[1]);
		uint64_t reported = 0;
		while (reported < want && read(p[0], &v, sizeof(v)) == (ssize_t)sizeof(v))
			reported = v;
		assert_true(reported >= want);
		/* it is still writing: kill it between (or inside) transactions */
		usleep((useconds_t)(round * 7000));
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		close(p[0]);
		/* a later report may be in the pipe; what we read is a lower bound */
		char ic[32];
		assert_string_equal(tau_text(t->db, "PRAGMA integrity_check", ic, sizeof(ic)),
				    "ok");
		total = (uint64_t)tau_int(t->db, "SELECT COUNT(*) FROM event");
		assert_true(total >= base + reported);
		/* the rows are whole: every detail is the JSON that was written */
		assert_int_equal(tau_int(t->db, "SELECT COUNT(*) FROM event WHERE NOT "
						"json_valid(detail)"),
				 0);
		print_message("round %d: %llu committed reported, %llu rows\n", round,
			      (unsigned long long)reported, (unsigned long long)(total - base));
	}
	/* the real sqlite3 CLI agrees, and a new writer opens it and goes on */
	assert_int_equal(tau_sqlite3_cli(t->db, "PRAGMA integrity_check", out, sizeof(out)), 0);
	assert_string_equal(out, "ok");
	struct aud_writer *w = NULL;
	struct aud_event ev = tau_event(1, "lifecycle", "start", NULL, "allow");
	assert_int_equal(aud_writer_new(t->db, &w), 0);
	assert_int_equal(aud_writer_submit(w, &ev), 0);
	assert_int_equal(aud_writer_flush(w), 0);
	aud_writer_free(w);
	assert_int_equal(tau_int(t->db, "SELECT COUNT(*) FROM event"), (int64_t)total + 1);
}

/*
 * Fill until the writer fails. Returns accepted count, or < 0.
 * A refused submit while healthy means the queue is momentarily full.
 */
static int64_t fill_until_failing(struct aud_writer *w, size_t dsize)
{
	static char detail[8192];
	int64_t accepted = 0;

	if (dsize < 3 || dsize > sizeof(detail))
		return -3;
	memset(detail, 'x', dsize - 1);
	detail[0] = '"';
	detail[dsize - 2] = '"';
	detail[dsize - 1] = '\0';
	for (int i = 0; i < 200000; i++) {
		struct aud_event ev = tau_event(1, "net", "close", "big.test:443", "allow");
		ev.detail = detail;
		int rc = aud_writer_submit(w, &ev);

		if (rc == 0) {
			accepted++;
		} else if (rc != -AGW_EFULL) {
			return -1;
		} else if (!aud_writer_healthy(w)) {
			return accepted;
		} else {
			usleep(1000);
		}
		if (i % 64 == 0)
			usleep(1000); /* let the writer hit the wall */
	}
	return -2;
}

/* After space is back: all accepted events committed within 5 s, healthy. */
static int recover_and_check(struct aud_writer *w, const char *db, int64_t accepted)
{
	struct aud_writer_stats st;
	char ic[32];

	for (int i = 0; i < 5000; i++) {
		aud_writer_get_stats(w, &st);
		if (st.committed == (uint64_t)accepted && aud_writer_healthy(w))
			break;
		usleep(1000);
	}
	if (!aud_writer_healthy(w))
		return 40;
	if (aud_writer_flush(w) != 0)
		return 41;
	aud_writer_free(w);
	if (tau_int(db, "SELECT COUNT(*) FROM event") != accepted)
		return 42;
	if (strcmp(tau_text(db, "PRAGMA integrity_check", ic, sizeof(ic)), "ok") != 0)
		return 43;
	return 0;
}

static int rlimit_child(const char *db)
{
	struct aud_writer *w = NULL;
	struct rlimit rl;
	struct aud_event ev = tau_event(1, "dns", "query", "x.test", "allow");
	int64_t accepted;

	/* a write past the limit must fail with EFBIG, not kill us */
	signal(SIGXFSZ, SIG_IGN);
	if (aud_writer_new(db, &w) < 0)
		return 30;
	if (getrlimit(RLIMIT_FSIZE, &rl) < 0)
		return 31;
	rl.rlim_cur = 512 * 1024;
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
		return 32;
	accepted = fill_until_failing(w, 8192);
	if (accepted <= 0)
		return 33;
	/* failing: submits are refused, flush reports the error at once */
	if (aud_writer_submit(w, &ev) != -AGW_EFULL)
		return 34;
	if (aud_writer_flush(w) == 0)
		return 35;
	/* raise the soft limit back (allowed up to the hard limit) */
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
		return 36;
	return recover_and_check(w, db, accepted);
}

static void run_child(int (*fn)(const char *), const char *db)
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(db));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_disk_full_rlimit(void **state)
{
	struct tau_ctx *t = *state;
	char out[64];

	run_child(rlimit_child, t->db);
	assert_int_equal(tau_sqlite3_cli(t->db, "PRAGMA integrity_check", out, sizeof(out)), 0);
	assert_string_equal(out, "ok");
}

/*
 * Root only: a 32 MiB tmpfs with a 16 MiB ballast file that is removed to
 * make room: more than the events still queued when the disk filled need.
 */
static int tmpfs_child(const char *dir)
{
	char mnt[PATH_MAX + 16], db[PATH_MAX + 32], ballast[PATH_MAX + 32], buf[4096] = {0};
	struct aud_writer *w = NULL;
	int64_t accepted;
	int fd, rc;

	if (geteuid() != 0)
		return 77;
	snprintf(mnt, sizeof(mnt), "%s/tmpfs", dir);
	snprintf(db, sizeof(db), "%s/audit.db", mnt);
	snprintf(ballast, sizeof(ballast), "%s/ballast", mnt);
	if (mkdir(mnt, 0700) < 0 || unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("agw-audit-test", mnt, "tmpfs", 0, "size=32m") < 0)
		return 50;
	fd = open(ballast, O_WRONLY | O_CREAT, 0600);
	if (fd < 0)
		return 51;
	for (int i = 0; i < 4096; i++)
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			return 52;
	close(fd);
	if (aud_writer_new(db, &w) < 0)
		return 53;
	accepted = fill_until_failing(w, 1024);
	if (accepted <= 0)
		return 54;
	if (aud_writer_flush(w) != -ENOSPC)
		return 55;
	if (unlink(ballast) < 0)
		return 56;
	rc = recover_and_check(w, db, accepted);
	umount(mnt);
	return rc;
}

static void test_disk_full_tmpfs(void **state)
{
	struct tau_ctx *t = *state;

	if (geteuid() != 0) {
		print_message("SKIP: mounting a tmpfs needs root (the RLIMIT_FSIZE test ran)\n");
		skip();
	}
	run_child(tmpfs_child, t->dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_kill9_keeps_committed, tau_setup, tau_teardown),
	    cmocka_unit_test_setup_teardown(test_disk_full_rlimit, tau_setup, tau_teardown),
	    cmocka_unit_test_setup_teardown(test_disk_full_tmpfs, tau_setup, tau_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
