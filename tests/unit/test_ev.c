// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the event loop: fd readiness, deleting registrations from
 * inside callbacks (no stale delivery), timer order and cancellation,
 * signals through signalfd, before-sleep hooks and ev_stop.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "agw.h"
#include "ev.h"

struct rec {
	int order[16];
	int n;
	int hits;
	int other_fd;
	uint64_t other_timer;
};

static void on_read_stop(struct ev_loop *l, int fd, unsigned events, void *ctx)
{
	struct rec *r = ctx;
	char c;

	assert_true(events & EV_READ);
	assert_int_equal(read(fd, &c, 1), 1);
	r->hits++;
	ev_stop(l);
}

static void test_fd_read(void **state)
{
	struct ev_loop *l = NULL;
	struct rec r = {0};
	int sv[2];

	(void)state;
	assert_int_equal(ev_new(&l), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(ev_add_fd(l, sv[0], EV_READ, on_read_stop, &r), 0);
	assert_int_equal(ev_add_fd(l, sv[0], EV_READ, on_read_stop, &r), -AGW_EINVAL);
	assert_int_equal(ev_fd_mask(l, sv[0]), EV_READ);
	assert_int_equal(write(sv[1], "x", 1), 1);
	assert_int_equal(ev_run(l), 0);
	assert_int_equal(r.hits, 1);
	ev_del_fd(l, sv[0]);
	assert_int_equal(ev_fd_mask(l, sv[0]), 0);
	assert_int_equal(ev_mod_fd(l, sv[0], EV_READ), -AGW_ENOTFOUND);
	close(sv[0]);
	close(sv[1]);
	ev_free(l);
}

/* Both fds readable in one batch; whichever runs first deletes the other. */
static void on_read_del_other(struct ev_loop *l, int fd, unsigned events, void *ctx)
{
	struct rec *r = ctx;

	(void)events;
	r->hits++;
	ev_del_fd(l, r->other_fd);
	ev_del_fd(l, fd);
}

static void on_timer_stop(struct ev_loop *l, uint64_t id, void *ctx)
{
	(void)id;
	(void)ctx;
	ev_stop(l);
}

static void test_delete_in_callback(void **state)
{
	struct ev_loop *l = NULL;
	struct rec ra = {0}, rb = {0};
	int a[2], b[2];

	(void)state;
	assert_int_equal(ev_new(&l), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
	ra.other_fd = b[0];
	rb.other_fd = a[0];
	assert_int_equal(ev_add_fd(l, a[0], EV_READ, on_read_del_other, &ra), 0);
	assert_int_equal(ev_add_fd(l, b[0], EV_READ, on_read_del_other, &rb), 0);
	assert_int_equal(write(a[1], "x", 1), 1);
	assert_int_equal(write(b[1], "x", 1), 1);
	assert_non_null(ev_timer_add(l, 50, on_timer_stop, NULL));
	assert_int_equal(ev_run(l), 0);
	assert_int_equal(ra.hits + rb.hits, 1);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	ev_free(l);
}

static void on_timer_rec(struct ev_loop *l, uint64_t id, void *ctx)
{
	struct rec *r = ctx;

	(void)id;
	r->order[r->n++] = (int)r->hits++;
	(void)l;
}

struct tctx {
	struct rec *r;
	int tag;
};

static void on_timer_tag(struct ev_loop *l, uint64_t id, void *ctx)
{
	struct tctx *t = ctx;

	(void)id;
	(void)l;
	t->r->order[t->r->n++] = t->tag;
	if (t->r->other_timer)
		ev_timer_del(l, t->r->other_timer);
}

static void test_timers(void **state)
{
	struct ev_loop *l = NULL;
	struct rec r = {0};
	struct tctx t[5];
	uint64_t ids[5];
	int64_t start;

	(void)state;
	assert_int_equal(ev_new(&l), 0);
	for (int i = 0; i < 5; i++) {
		t[i].r = &r;
		t[i].tag = i;
	}
	/* Fire order 3 (10ms), 1 (20ms), 4 (30ms), 0 cancelled, 2 cancelled by 4. */
	ids[0] = ev_timer_add(l, 15, on_timer_tag, &t[0]);
	ids[1] = ev_timer_add(l, 20, on_timer_tag, &t[1]);
	ids[2] = ev_timer_add(l, 40, on_timer_tag, &t[2]);
	ids[3] = ev_timer_add(l, 10, on_timer_tag, &t[3]);
	ids[4] = ev_timer_add(l, 30, on_timer_tag, &t[4]);
	for (int i = 0; i < 5; i++)
		assert_true(ids[i] != 0);
	ev_timer_del(l, ids[0]);
	ev_timer_del(l, ids[0]); /* twice: no-op */
	ev_timer_del(l, 0);
	assert_non_null(ev_timer_add(l, 100, on_timer_stop, NULL));
	start = agw_mono_us();
	/* The first timer to fire (3) cancels timer 2 through other_timer. */
	r.other_timer = ids[2];
	assert_int_equal(ev_run(l), 0);
	assert_true(agw_mono_us() - start >= 90000);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.order[0], 3);
	assert_int_equal(r.order[1], 1);
	assert_int_equal(r.order[2], 4);
	ev_free(l);
}

static void test_timer_many(void **state)
{
	struct ev_loop *l = NULL;
	struct rec r = {0};
	uint64_t ids[200];

	(void)state;
	assert_int_equal(ev_new(&l), 0);
	for (int i = 0; i < 200; i++)
		ids[i] = ev_timer_add(l, 1000 + i, on_timer_rec, &r);
	for (int i = 0; i < 200; i += 2)
		ev_timer_del(l, ids[i]);
	for (int i = 1; i < 200; i += 2)
		ev_timer_del(l, ids[i]);
	/* Slots are reused with a new generation: old ids do nothing. */
	assert_true(ev_timer_add(l, 1, on_timer_rec, &r) != 0);
	for (int i = 0; i < 200; i++)
		ev_timer_del(l, ids[i]);
	assert_non_null(ev_timer_add(l, 20, on_timer_stop, NULL));
	assert_int_equal(ev_run(l), 0);
	assert_int_equal(r.hits, 1);
	ev_free(l);
}

static void on_signal(struct ev_loop *l, int signo, void *ctx)
{
	struct rec *r = ctx;

	r->order[r->n++] = signo;
	if (signo == SIGUSR2)
		ev_stop(l);
}

static void test_signals(void **state)
{
	struct ev_loop *l = NULL;
	struct rec r = {0};

	(void)state;
	assert_int_equal(ev_new(&l), 0);
	assert_int_equal(ev_signal_add(l, SIGUSR1, on_signal, &r), 0);
	assert_int_equal(ev_signal_add(l, SIGUSR2, on_signal, &r), 0);
	assert_int_equal(ev_signal_add(l, 0, on_signal, &r), -AGW_EINVAL);
	kill(getpid(), SIGUSR1);
	kill(getpid(), SIGUSR2);
	assert_int_equal(ev_run(l), 0);
	assert_true(r.n >= 1);
	assert_int_equal(r.order[r.n - 1], SIGUSR2);
	ev_free(l);
}

static void hook(struct ev_loop *l, void *ctx)
{
	struct rec *r = ctx;

	if (++r->hits == 3)
		ev_stop(l);
}

static void hook2(struct ev_loop *l, void *ctx)
{
	(void)l;
	((struct rec *)ctx)->n++;
}

static void test_hooks(void **state)
{
	struct ev_loop *l = NULL;
	struct rec r = {0}, r2 = {0};

	(void)state;
	assert_int_equal(ev_new(&l), 0);
	assert_int_equal(ev_before_sleep(l, hook, &r), 0);
	assert_int_equal(ev_before_sleep(l, hook2, &r2), 0);
	/* Timers keep the loop iterating. */
	for (int i = 1; i <= 5; i++)
		assert_true(ev_timer_add(l, i * 5, on_timer_rec, &r2) != 0);
	assert_int_equal(ev_run(l), 0);
	assert_int_equal(r.hits, 3);
	ev_before_sleep_del(l, hook2, &r2);
	ev_before_sleep_del(l, hook, &r);
	ev_free(l);
	ev_free(NULL);
}

static void on_write(struct ev_loop *l, int fd, unsigned events, void *ctx)
{
	struct rec *r = ctx;

	assert_true(events & EV_WRITE);
	r->hits++;
	assert_int_equal(ev_mod_fd(l, fd, 0), 0);
	assert_int_equal(ev_fd_mask(l, fd), 0);
	ev_timer_add(l, 20, on_timer_stop, NULL);
}

static void test_write_and_mod(void **state)
{
	struct ev_loop *l = NULL;
	struct rec r = {0};
	int sv[2];

	(void)state;
	assert_int_equal(ev_new(&l), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(ev_add_fd(l, sv[0], EV_WRITE, on_write, &r), 0);
	assert_int_equal(ev_run(l), 0);
	assert_int_equal(r.hits, 1);
	ev_del_fd(l, sv[0]);
	close(sv[0]);
	close(sv[1]);
	ev_free(l);
}

static void on_any(struct ev_loop *l, int fd, unsigned events, void *ctx)
{
	struct rec *r = ctx;

	(void)l;
	(void)fd;
	r->order[r->n++ % 16] = (int)events;
	r->hits++;
}

/* A pause is lazy in the kernel but exact for the owner: no event is
 * delivered, also while the kernel still has the old mask; the old mask
 * back delivers at once. */
static void test_lazy_narrow(void **state)
{
	struct ev_loop *l = NULL;
	struct rec r = {0};
	int sv[2];

	(void)state;
	assert_int_equal(ev_new(&l), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(ev_add_fd(l, sv[0], EV_READ | EV_WRITE, on_any, &r), 0);
	assert_int_equal(write(sv[1], "x", 1), 1);
	assert_int_equal(ev_pause_fd(l, sv[0]), 0);
	assert_int_equal(ev_fd_mask(l, sv[0]), 0);
	assert_true(ev_timer_add(l, 30, on_timer_stop, NULL) != 0);
	assert_int_equal(ev_run(l), 0);
	assert_int_equal(r.hits, 0);
	assert_int_equal(ev_mod_fd(l, sv[0], EV_READ), 0);
	assert_true(ev_timer_add(l, 30, on_timer_stop, NULL) != 0);
	assert_int_equal(ev_run(l), 0);
	assert_true(r.hits >= 1);
	for (int i = 0; i < r.n && i < 16; i++)
		assert_int_equal(r.order[i], EV_READ);
	/* ev_close_fd: gone without EPOLL_CTL_DEL, nothing more delivered */
	r.hits = 0;
	ev_close_fd(l, sv[0]);
	assert_int_equal(ev_fd_mask(l, sv[0]), 0);
	assert_int_equal(fcntl(sv[0], F_GETFD), -1);
	assert_true(ev_timer_add(l, 20, on_timer_stop, NULL) != 0);
	assert_int_equal(ev_run(l), 0);
	assert_int_equal(r.hits, 0);
	ev_close_fd(l, -1);
	close(sv[1]);
	ev_free(l);
}

static void on_accept(struct ev_loop *l, int fd, unsigned events, void *ctx)
{
	struct rec *r = ctx;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK);

	(void)l;
	assert_true(events & EV_READ);
	if (c >= 0) {
		close(c);
		r->hits++;
	}
}

/* EV_EXCLUSIVE (a listener shared by the net workers): delivered, and
 * paused and resumed by removing and adding it (no EPOLL_CTL_MOD). */
static void test_exclusive(void **state)
{
	struct ev_loop *l = NULL;
	struct rec r = {0};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int lfd, c;

	(void)state;
	assert_int_equal(ev_new(&l), 0);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 16), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
	assert_int_equal(ev_add_fd(l, lfd, EV_READ | EV_EXCLUSIVE, on_accept, &r), 0);
	for (int round = 0; round < 3; round++) {
		c = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
		/* paused (exactly, then lazily): nothing delivered */
		if (round == 1)
			assert_int_equal(ev_mod_fd(l, lfd, 0), 0);
		if (round == 2)
			assert_int_equal(ev_pause_fd(l, lfd), 0);
		if (round) {
			assert_true(ev_timer_add(l, 30, on_timer_stop, NULL) != 0);
			assert_int_equal(ev_run(l), 0);
			assert_int_equal(r.hits, round);
			assert_int_equal(ev_mod_fd(l, lfd, EV_READ), 0);
		}
		assert_true(ev_timer_add(l, 30, on_timer_stop, NULL) != 0);
		assert_int_equal(ev_run(l), 0);
		assert_int_equal(r.hits, round + 1);
		close(c);
	}
	ev_del_fd(l, lfd);
	close(lfd);
	ev_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fd_read),	  cmocka_unit_test(test_delete_in_callback),
	    cmocka_unit_test(test_timers),	  cmocka_unit_test(test_timer_many),
	    cmocka_unit_test(test_signals),	  cmocka_unit_test(test_hooks),
	    cmocka_unit_test(test_write_and_mod), cmocka_unit_test(test_lazy_narrow),
	    cmocka_unit_test(test_exclusive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
