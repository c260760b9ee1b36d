// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A small synchronous 9P2000.L client for benchmarks, so agentgw fs-serve
 * and diod are measured with the same client: one connection, one request
 * in flight. Phases (each SECONDS long): stat (walk + getattr + clunk of a
 * file), create+remove (lcreate + clunk + walk + remove), sequential read of a
 * large file, sequential write. Prints the msize the server granted, then
 * one "key=value" line per phase.
 *
 *   bench_fs HOST:PORT ANAME DIR SECONDS
 * DIR is a directory inside the export holding "big" (the read file); the
 * write file and temporaries are created there.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agw.h"
#include "gateway/fs/p9_msg.h"

#define BF_MSIZE (256u * 1024u)

static int bf_fd = -1;
static uint8_t bf_tx[BF_MSIZE], bf_rx[BF_MSIZE];
static uint16_t bf_tag;

static void bf_die(const char *what)
{
	fprintf(stderr, "bench_fs: %s\n", what);
	exit(1);
}

static void bf_io(void *buf, size_t len, bool wr)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = wr ? write(bf_fd, (uint8_t *)buf + off, len - off)
			       : read(bf_fd, (uint8_t *)buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			bf_die("connection lost");
		off += (size_t)n;
	}
}

/* Returns 0 or the Rlerror code. */
static int bf_rpc(struct p9_msg *t, struct p9_msg *r)
{
	size_t len;
	uint32_t size;

	t->tag = bf_tag++;
	if (bf_tag == P9_NOTAG)
		bf_tag = 0;
	if (p9_encode(t, bf_tx, sizeof(bf_tx), &len) < 0)
		bf_die("encode");
	bf_io(bf_tx, len, true);
	bf_io(bf_rx, 4, false);
	if (p9_frame(bf_rx, 4, BF_MSIZE, &size) < 0)
		bf_die("bad reply size");
	bf_io(bf_rx + 4, size - 4, false);
	if (p9_decode(bf_rx, size, r) < 0)
		bf_die("bad reply");
	if (r->type == P9_RLERROR)
		return (int)r->u.lerror.ecode;
	if (r->type != t->type + 1)
		bf_die("unexpected reply type");
	return 0;
}

static struct p9_str bf_str(const char *s)
{
	return (struct p9_str){s, (uint16_t)strlen(s)};
}

static int bf_walk(uint32_t fid, uint32_t nfid, const char *a, const char *b)
{
	struct p9_msg t = {.type = P9_TWALK}, r;

	t.u.walk.fid = fid;
	t.u.walk.newfid = nfid;
	if (a)
		t.u.walk.wname[t.u.walk.nwname++] = bf_str(a);
	if (b)
		t.u.walk.wname[t.u.walk.nwname++] = bf_str(b);
	return bf_rpc(&t, &r);
}

static void bf_clunk(uint32_t fid)
{
	struct p9_msg t = {.type = P9_TCLUNK}, r;

	t.u.fid.fid = fid;
	if (bf_rpc(&t, &r))
		bf_die("clunk");
}

static double bf_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct p9_msg t, r;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char host[64], *colon;
	const char *dir;
	double secs, t0, el;
	uint64_t n, bytes;
	uint32_t msize, iounit;
	int one = 1;

	if (argc != 5) {
		fprintf(stderr, "usage: bench_fs HOST:PORT ANAME DIR SECONDS\n");
		return 2;
	}
	snprintf(host, sizeof(host), "%s", argv[1]);
	colon = strrchr(host, ':');
	if (!colon)
		bf_die("HOST:PORT");
	*colon = 0;
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		bf_die("HOST must be an IPv4 address");
	dir = argv[3];
	secs = atof(argv[4]);
	bf_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (bf_fd < 0 || connect(bf_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		bf_die("connect");
	setsockopt(bf_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	t = (struct p9_msg){.type = P9_TVERSION};
	t.u.version.msize = BF_MSIZE;
	t.u.version.version = bf_str(P9_VERSION_L);
	if (bf_rpc(&t, &r) || !p9_str_eq(r.u.version.version, P9_VERSION_L))
		bf_die("version");
	msize = r.u.version.msize;
	printf("msize=%u\n", msize);
	t = (struct p9_msg){.type = P9_TATTACH};
	t.u.attach.fid = 0;
	t.u.attach.afid = P9_NOFID;
	t.u.attach.uname = bf_str("root");
	t.u.attach.aname = bf_str(argv[2]);
	t.u.attach.n_uname = (uint32_t)geteuid();
	if (bf_rpc(&t, &r))
		bf_die("attach");
	if (bf_walk(0, 1, dir, NULL))
		bf_die("walk DIR");

	/* stat: walk + getattr + clunk */
	n = 0;
	t0 = bf_now();
	do {
		for (int i = 0; i < 64; i++, n++) {
			if (bf_walk(1, 2, "big", NULL))
				bf_die("walk big");
			t = (struct p9_msg){.type = P9_TGETATTR};
			t.u.getattr.fid = 2;
			t.u.getattr.mask = P9_GETATTR_BASIC;
			if (bf_rpc(&t, &r))
				bf_die("getattr");
			bf_clunk(2);
		}
	} while ((el = bf_now() - t0) < secs);
	printf("stat_per_s=%.0f\n", (double)n / el);

	/* create + remove */
	n = 0;
	t0 = bf_now();
	do {
		for (int i = 0; i < 32; i++, n++) {
			char name[32];

			snprintf(name, sizeof(name), "tmp%llu", (unsigned long long)n);
			if (bf_walk(1, 2, NULL, NULL))
				bf_die("clone");
			t = (struct p9_msg){.type = P9_TLCREATE};
			t.u.lcreate.fid = 2;
			t.u.lcreate.name = bf_str(name);
			t.u.lcreate.flags = P9_DOTL_WRONLY | P9_DOTL_CREATE;
			t.u.lcreate.mode = 0644;
			if (bf_rpc(&t, &r))
				bf_die("lcreate");
			bf_clunk(2);
			/* walk + Tremove: diod answers Tunlinkat with an error */
			if (bf_walk(1, 2, name, NULL))
				bf_die("walk tmp");
			t = (struct p9_msg){.type = P9_TREMOVE};
			t.u.fid.fid = 2;
			if (bf_rpc(&t, &r))
				bf_die("remove");
		}
	} while ((el = bf_now() - t0) < secs);
	printf("create_remove_per_s=%.0f\n", (double)n / el);

	/* sequential read of big */
	if (bf_walk(1, 3, "big", NULL))
		bf_die("walk big");
	t = (struct p9_msg){.type = P9_TLOPEN};
	t.u.lopen.fid = 3;
	t.u.lopen.flags = P9_DOTL_RDONLY;
	if (bf_rpc(&t, &r))
		bf_die("lopen big");
	iounit = msize - P9_IOHDRSZ;
	bytes = 0;
	t0 = bf_now();
	do {
		uint64_t off = 0;

		for (;;) {
			t = (struct p9_msg){.type = P9_TREAD};
			t.u.read.fid = 3;
			t.u.read.offset = off;
			t.u.read.count = iounit;
			if (bf_rpc(&t, &r))
				bf_die("read");
			if (r.u.data.count == 0)
				break;
			off += r.u.data.count;
			bytes += r.u.data.count;
		}
	} while ((el = bf_now() - t0) < secs);
	printf("read_mb_per_s=%.1f\n", (double)bytes / el / 1048576.0);
	bf_clunk(3);

	/* sequential write (wraps at 64 MiB) */
	if (bf_walk(1, 4, NULL, NULL))
		bf_die("clone");
	t = (struct p9_msg){.type = P9_TLCREATE};
	t.u.lcreate.fid = 4;
	t.u.lcreate.name = bf_str("w.out");
	t.u.lcreate.flags = P9_DOTL_WRONLY | P9_DOTL_CREATE | P9_DOTL_TRUNC;
	t.u.lcreate.mode = 0644;
	if (bf_rpc(&t, &r))
		bf_die("lcreate w.out");
	{
		static uint8_t data[BF_MSIZE];
		uint64_t off = 0;

		memset(data, 'w', sizeof(data));
		bytes = 0;
		t0 = bf_now();
		do {
			for (int i = 0; i < 16; i++) {
				t = (struct p9_msg){.type = P9_TWRITE};
				t.u.write.fid = 4;
				t.u.write.offset = off;
				t.u.write.count = iounit;
				t.u.write.data = data;
				if (bf_rpc(&t, &r))
					bf_die("write");
				off = (off + r.u.rwrite.count) % (64u << 20);
				bytes += r.u.rwrite.count;
			}
		} while ((el = bf_now() - t0) < secs);
	}
	printf("write_mb_per_s=%.1f\n", (double)bytes / el / 1048576.0);
	bf_clunk(4);
	if (bf_walk(1, 4, "w.out", NULL) == 0) {
		t = (struct p9_msg){.type = P9_TREMOVE};
		t.u.fid.fid = 4;
		(void)bf_rpc(&t, &r);
	}
	close(bf_fd);
	return 0;
}
