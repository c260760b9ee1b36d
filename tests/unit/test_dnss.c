// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the DNS server's TCP framing (dnss.c) on loopback, with
 * the real resolver, bindings table and policy: pipelined queries in one
 * segment (the issue 12 crash: ~215 queries recursed with a 64 KiB reply
 * buffer per level), many read buffers' worth at once, and a malformed
 * frame. The server runs in a thread with a 1 MiB stack, so any recursion
 * per query shows up as a crash here, not only with 8 MiB stacks.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "agw.h"
#include "ev.h"
#include "gateway/net/dnsb.h"
#include "gateway/net/dnss.h"
#include "gateway/net/netd.h"
#include "gateway/net/res.h"
#include "ipc.h"

#define TD_STACK (1 << 20)

struct td {
	struct netd n;
	struct dnss *d;
	int sv[2];   /* ipc: n.ipc_fd = sv[0], events drained from sv[1] */
	int cli;     /* the test's client socket */
	size_t want; /* answers to wait for */
	size_t got;
	unsigned rcodes; /* bit per rcode seen */
	bool in_order;
	uint8_t buf[1 << 16];
	size_t blen;
	bool eof;
};

static void td_drain_ipc(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	uint8_t b[IPC_MSG_MAX];

	(void)loop;
	(void)events;
	(void)ctx;
	while (recv(fd, b, sizeof(b), MSG_DONTWAIT) > 0)
		;
}

static void td_cli_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct td *t = ctx;
	ssize_t r = recv(fd, t->buf + t->blen, sizeof(t->buf) - t->blen, MSG_DONTWAIT);

	(void)events;
	if (r <= 0) {
		t->eof = true;
		ev_stop(loop);
		return;
	}
	t->blen += (size_t)r;
	for (;;) {
		size_t n;

		if (t->blen < 2 || t->blen < 2 + (n = (size_t)t->buf[0] << 8 | t->buf[1]))
			break;
		if (n >= 4) {
			t->in_order = t->in_order &&
				      ((size_t)(t->buf[2] << 8 | t->buf[3]) == (t->got & 0xffff));
			t->rcodes |= 1u << (t->buf[5] & 15);
		}
		t->got++;
		memmove(t->buf, t->buf + 2 + n, t->blen - 2 - n);
		t->blen -= 2 + n;
	}
	if (t->got >= t->want)
		ev_stop(loop);
}

static void td_timeout(struct ev_loop *loop, uint64_t id, void *ctx)
{
	(void)id;
	(void)ctx;
	ev_stop(loop);
}

static void *td_run(void *arg)
{
	struct td *t = arg;
	uint64_t tm = ev_timer_add(t->n.loop, 10000, td_timeout, t);

	ev_run(t->n.loop);
	ev_timer_del(t->n.loop, tm);
	return NULL;
}

/* Runs the loop on a small-stack thread until want answers or EOF. */
static void td_serve(struct td *t, size_t want)
{
	pthread_attr_t a;
	pthread_t th;

	t->want = want;
	t->got = 0;
	t->rcodes = 0;
	t->in_order = true;
	t->eof = false;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, TD_STACK);
	assert_int_equal(pthread_create(&th, &a, td_run, t), 0);
	pthread_join(th, NULL);
	pthread_attr_destroy(&a);
}

static int td_setup(void **state)
{
	static const char td_pol_text[] = "version: 1\nname: t\nnetwork:\n  allow: [allowed.test]\n"
					  "  dns: { upstream: [127.0.0.1] }\n";
	const char *ups[] = {"127.0.0.1"};
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	struct pol_errors errs = {0};
	struct pol *p = NULL;
	struct td *t = calloc(1, sizeof(*t));
	int lfd, one = 1;

	assert_non_null(t);
	assert_int_equal(ev_new(&t->n.loop), 0);
	assert_int_equal(pol_load_buf("t.yaml", td_pol_text, strlen(td_pol_text), NULL, &p, &errs),
			 0);
	pol_errors_free(&errs);
	t->n.pol = calloc(1, sizeof(*t->n.pol));
	assert_non_null(t->n.pol);
	t->n.pol->p = p;
	t->n.pol->refs = 1;
	t->n.audit_ok = true;
	assert_int_equal(ipc_pair(t->sv), 0);
	t->n.ipc_fd = t->sv[0];
	assert_int_equal(ev_add_fd(t->n.loop, t->sv[1], EV_READ, td_drain_ipc, t), 0);
	assert_int_equal(res_new(t->n.loop, ups, 1, &t->n.res), 0);
	assert_int_equal(dnsb_new(64, &t->n.dnsb), 0);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 8), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &sl), 0);
	assert_int_equal(dnss_new(&t->n, -1, lfd, &t->d), 0);
	t->cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(t->cli, (struct sockaddr *)&sin, sizeof(sin)), 0);
	setsockopt(t->cli, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	assert_int_equal(ev_add_fd(t->n.loop, t->cli, EV_READ, td_cli_cb, t), 0);
	*state = t;
	return 0;
}

static int td_teardown(void **state)
{
	struct td *t = *state;

	ev_del_fd(t->n.loop, t->cli);
	close(t->cli);
	dnss_free(t->d);
	res_free(t->n.res);
	dnsb_free(t->n.dnsb);
	netd_pol_put(t->n.pol);
	ev_del_fd(t->n.loop, t->sv[1]);
	close(t->sv[0]);
	close(t->sv[1]);
	ev_free(t->n.loop);
	free(t);
	return 0;
}

/* count framed A queries for name ("" is the root), ids 0.., into out. */
static size_t td_queries(const char *name, size_t count, uint8_t *out, size_t cap)
{
	size_t off = 0;

	for (size_t i = 0; i < count; i++) {
		uint8_t m[300];
		size_t n = 12;
		const char *p = name;

		memset(m, 0, 12);
		m[0] = (uint8_t)(i >> 8);
		m[1] = (uint8_t)i;
		m[2] = 0x01; /* RD */
		m[5] = 1;    /* QDCOUNT */
		while (*p) {
			const char *dot = strchr(p, '.');
			size_t l = dot ? (size_t)(dot - p) : strlen(p);

			m[n++] = (uint8_t)l;
			memcpy(m + n, p, l);
			n += l;
			p += l + (dot ? 1 : 0);
		}
		m[n++] = 0;
		m[n++] = 0, m[n++] = 1; /* A */
		m[n++] = 0, m[n++] = 1; /* IN */
		assert_true(off + 2 + n <= cap);
		out[off++] = (uint8_t)(n >> 8);
		out[off++] = (uint8_t)n;
		memcpy(out + off, m, n);
		off += n;
	}
	return off;
}

static void test_pipelined_one_segment(void **state)
{
	struct td *t = *state;
	static uint8_t q[4096];
	size_t len = td_queries("", 215, q, sizeof(q));

	assert_int_equal(len, 4085); /* 19 bytes each: one read of the server */
	assert_int_equal(send(t->cli, q, len, 0), (ssize_t)len);
	td_serve(t, 215);
	assert_int_equal(t->got, 215);
	assert_true(t->in_order);
	assert_int_equal(t->rcodes, 1u << 5); /* REFUSED: not a host name */
}

static void test_pipelined_many_reads(void **state)
{
	struct td *t = *state;
	static uint8_t q[64 * 1024];
	size_t len = td_queries("x.denied.test", 1500, q, sizeof(q));

	assert_int_equal(send(t->cli, q, len, 0), (ssize_t)len);
	td_serve(t, 1500);
	assert_int_equal(t->got, 1500);
	assert_true(t->in_order);
	assert_int_equal(t->rcodes, 1u << 3); /* NXDOMAIN */
}

static void test_malformed_frame(void **state)
{
	struct td *t = *state;
	static uint8_t q[512];
	size_t len = td_queries("", 3, q, sizeof(q));

	/* three good queries, then a frame too short for a header */
	q[len++] = 0;
	q[len++] = 4;
	memset(q + len, 0, 4);
	len += 4;
	assert_int_equal(send(t->cli, q, len, 0), (ssize_t)len);
	td_serve(t, 100);
	assert_int_equal(t->got, 3);
	assert_true(t->eof); /* the connection is closed */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pipelined_one_segment, td_setup, td_teardown),
	    cmocka_unit_test_setup_teardown(test_pipelined_many_reads, td_setup, td_teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_frame, td_setup, td_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
