// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * HTTP load client for tests/bench/net.sh: opens connections to ADDR:PORT
 * and fetches PATH with Host HOST, either many short connections (one
 * request each; prints connections per second and the latency of each
 * connect+request+response, p50 and p99) or one bulk download (prints
 * MB/s). Runs in whatever network namespace it is started in.
 *
 *   bench_net conns ADDR PORT HOST PATH COUNT PARALLEL
 *   bench_net bulk  ADDR PORT HOST PATH
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One connection, one request; returns body+head bytes read or -1. */
static long bench_fetch(const struct sockaddr_in *sa, const char *host, const char *path)
{
	char req[512], buf[65536];
	long total = 0;
	int fd, one = 1, n;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		close(fd);
		return -1;
	}
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
		     path, host);
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		total += r;
	}
	close(fd);
	return total > 0 ? total : -1;
}

static int bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};

	if (argc < 6 || inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1) {
		fprintf(stderr,
			"usage: bench_net conns|bulk ADDR PORT HOST PATH [COUNT PARALLEL]\n");
		return 2;
	}
	sa.sin_port = htons((uint16_t)atoi(argv[3]));
	if (strcmp(argv[1], "bulk") == 0) {
		double t0 = bench_now(), dt;
		long n = bench_fetch(&sa, argv[4], argv[5]);

		dt = bench_now() - t0;
		if (n < 0)
			return 1;
		printf("bytes %ld seconds %.3f mbps %.1f\n", n, dt, (double)n / dt / 1e6);
		return 0;
	}
	if (strcmp(argv[1], "conns") == 0 && argc == 8) {
		int count = atoi(argv[6]), par = atoi(argv[7]), fails = 0;
		int per = count / (par > 0 ? par : 1);
		double t0 = bench_now(), dt, *lat;
		int pfd[2];
		size_t nl = 0;

		if (per <= 0 || pipe(pfd) < 0)
			return 2;
		lat = calloc((size_t)per * (size_t)par, sizeof(*lat));
		if (!lat)
			return 1;
		for (int p = 0; p < par; p++) {
			if (fork() == 0) {
				close(pfd[0]);
				for (int i = 0; i < per; i++) {
					double s = bench_now(), d;

					if (bench_fetch(&sa, argv[4], argv[5]) < 0)
						d = -1;
					else
						d = bench_now() - s;
					if (write(pfd[1], &d, sizeof(d)) != sizeof(d))
						_exit(1);
				}
				_exit(0);
			}
		}
		close(pfd[1]);
		for (;;) {
			double d;
			ssize_t r = read(pfd[0], &d, sizeof(d));

			if (r != sizeof(d))
				break;
			if (d < 0)
				fails++;
			else
				lat[nl++] = d;
		}
		while (wait(NULL) > 0)
			;
		dt = bench_now() - t0;
		if (!nl)
			return 1;
		qsort(lat, nl, sizeof(*lat), bench_cmp);
		printf("conns %zu failed %d seconds %.3f cps %.0f p50_ms %.3f p99_ms %.3f\n", nl,
		       fails, dt, (double)nl / dt, lat[nl / 2] * 1e3,
		       lat[(size_t)((double)nl * 0.99)] * 1e3);
		free(lat);
		return fails ? 1 : 0;
	}
	fprintf(stderr, "bench_net: bad arguments\n");
	return 2;
}
