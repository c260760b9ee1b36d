// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The supervisor's audit spill (supervisor/spill.c) with a real writer and a
 * real SQLite file: events come back whole and in order, a writer that
 * refuses keeps the rest pending, the size cap holds, a damaged file is
 * reported and dropped, and the file goes away once it is empty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "test_audit_util.h"
#include "supervisor/spill.h"

static void test_round_trip_in_order(void **state)
{
	char dir[PATH_MAX], db[PATH_MAX + 16], path[PATH_MAX + 16], target[32], got[64];
	struct aud_writer *w;
	struct spill *sp;
	struct stat st;

	(void)state;
	assert_int_equal(tau_mkdir(dir), 0);
	snprintf(db, sizeof(db), "%s/a.db", dir);
	snprintf(path, sizeof(path), "%s/spill.bin", dir);
	assert_int_equal(spill_open(path, SPILL_MAX_BYTES, &sp), 0);
	for (int i = 0; i < 500; i++) {
		struct aud_event ev = tau_event(0, "net", "connect", target, "error");

		snprintf(target, sizeof(target), "host%03d.test:443", i);
		ev.target = target;
		ev.reason = "audit unavailable: action denied";
		ev.detail = "{\"k\":\"\\u00e9\"}";
		assert_int_equal(spill_add(sp, &ev), 0);
	}
	assert_int_equal(spill_pending(sp), 500);
	assert_int_equal(aud_writer_new(db, &w), 0);
	assert_int_equal(spill_replay(sp, w), 500);
	assert_int_equal(spill_pending(sp), 0);
	assert_int_equal(aud_writer_flush(w), 0);
	assert_int_equal(tau_int(db, "SELECT count(*) FROM event"), 500);
	/* ids follow the spill order */
	assert_int_equal(tau_int(db, "SELECT count(*) FROM event e1 JOIN event e2 ON e2.id = e1.id + 1 "
				     "WHERE e2.target < e1.target"),
			 0);
	tau_text(db, "SELECT reason FROM event WHERE target = 'host499.test:443'", got, sizeof(got));
	assert_string_equal(got, "audit unavailable: action denied");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0); /* emptied once everything is out */
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(spill_close(sp), 0);
	assert_int_equal(stat(path, &st), -1); /* and removed on close */
	aud_writer_free(w);
	tau_rmdir(dir);
}

static void test_cap_and_damage(void **state)
{
	char dir[PATH_MAX], db[PATH_MAX + 16], path[PATH_MAX + 16];
	struct aud_event ev = tau_event(0, "dns", "query", "x.test", "error");
	struct aud_writer *w;
	struct spill *sp;
	int n = 0, fd;

	(void)state;
	assert_int_equal(tau_mkdir(dir), 0);
	snprintf(db, sizeof(db), "%s/a.db", dir);
	snprintf(path, sizeof(path), "%s/spill.bin", dir);
	assert_int_equal(spill_open(path, 4096, &sp), 0);
	while (spill_add(sp, &ev) == 0)
		n++;
	assert_true(n > 10);
	assert_int_equal(spill_add(sp, &ev), -ENOSPC);
	assert_int_equal(spill_pending(sp), (size_t)n);
	/* damage the second record's length: the first still comes back,
	 * the rest is reported lost, and the spill starts over empty */
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	{
		uint32_t first, bad = 0xffffff;

		assert_int_equal(pread(fd, &first, 4, 0), 4);
		assert_int_equal(pwrite(fd, &bad, 4, 4 + (off_t)first), 4);
	}
	close(fd);
	assert_int_equal(aud_writer_new(db, &w), 0);
	assert_int_equal(spill_replay(sp, w), -AGW_EPROTO);
	assert_int_equal(spill_pending(sp), 0);
	assert_int_equal(aud_writer_flush(w), 0);
	assert_int_equal(tau_int(db, "SELECT count(*) FROM event WHERE target = 'x.test'"), 1);
	assert_int_equal(spill_add(sp, &ev), 0); /* usable again */
	assert_int_equal(spill_replay(sp, w), 1);
	aud_writer_free(w);
	assert_int_equal(spill_close(sp), 0);
	tau_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_in_order),
	    cmocka_unit_test(test_cap_and_damage),
	};

	return cmocka_run_group_tests_name("spill", tests, NULL, NULL);
}
