// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * NFLOG group reader (libnetfilter_log) and the drop-event rate limiter.
 * The kernel batches log messages per group; a short flush timeout keeps
 * events prompt while a flood still arrives in few datagrams. The socket
 * buffer is enlarged so bursts are not lost, and losses that still happen
 * (ENOBUFS) are counted rather than treated as errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libnetfilter_log/libnetfilter_log.h>

#include "gateway/net/nlog.h"

#define NLOG_BUF_SIZE 65536
#define NLOG_RCVBUF (4 * 1024 * 1024)
#define NLOG_MAX_DGRAMS 64 /* per nlog_read call */
#define NLOG_COPY_RANGE 256
#define NLOG_TIMEOUT_CS 5 /* kernel flush timeout, 1/100 s */
#define NLOG_QTHRESH 32
#define NLOG_PFX "agw:"

struct nlog {
	struct nflog_handle *h;
	struct nflog_g_handle *gh;
	int fd;
	struct nlog_stats st;
	nlog_cb cb; /* set only during nlog_read */
	void *ctx;
	int handed;
	char *buf;
};

static int nlog_on_packet(struct nflog_g_handle *gh, struct nfgenmsg *nfmsg, struct nflog_data *nfa,
			  void *data)
{
	struct nlog *nl = data;
	struct pkt_info pi;
	char *payload = NULL, *prefix;
	int len, err;

	len = nflog_get_payload(nfa, &payload);
	if (len < 0 || !payload) {
		nl->st.parse_errors++;
		return 0;
	}
	err = pkt_summarize((const uint8_t *)payload, (size_t)len, &pi);
	if (err < 0 && err != -AGW_ETRUNC) {
		nl->st.parse_errors++;
		return 0;
	}
	prefix = nflog_get_prefix(nfa);
	nl->st.packets++;
	nl->handed++;
	if (nl->cb)
		nl->cb(nl->ctx, &pi, prefix ? prefix : "");
	return 0;
}

int nlog_open(uint16_t group, struct nlog **out)
{
	struct nlog *nl = NULL;
	int err, fl, sz = NLOG_RCVBUF;

	*out = NULL;
	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -AGW_ENOMEM;
	nl->fd = -1;
	nl->buf = malloc(NLOG_BUF_SIZE);
	if (!nl->buf) {
		err = -AGW_ENOMEM;
		goto out;
	}
	errno = 0;
	nl->h = nflog_open();
	if (!nl->h) {
		err = errno ? -errno : -AGW_ENOMEM;
		goto out;
	}
	errno = 0;
	nl->gh = nflog_bind_group(nl->h, group);
	if (!nl->gh) {
		err = errno ? -errno : -EPERM;
		goto out;
	}
	if (nflog_set_mode(nl->gh, NFULNL_COPY_PACKET, NLOG_COPY_RANGE) < 0 ||
	    nflog_set_timeout(nl->gh, NLOG_TIMEOUT_CS) < 0 ||
	    nflog_set_qthresh(nl->gh, NLOG_QTHRESH) < 0) {
		err = errno ? -errno : -AGW_EPROTO;
		goto out;
	}
	nflog_callback_register(nl->gh, nlog_on_packet, nl);
	nl->fd = nflog_fd(nl->h);
	/* Force works as root past rmem_max; the plain one is the fallback. */
	if (setsockopt(nl->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(nl->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	fl = fcntl(nl->fd, F_GETFL);
	if (fl < 0 || fcntl(nl->fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(nl->fd, F_SETFD, FD_CLOEXEC) < 0) {
		err = -errno;
		goto out;
	}
	*out = nl;
	nl = NULL;
	err = 0;
out:
	nlog_free(nl);
	return err;
}

int nlog_fd(const struct nlog *nl)
{
	return nl ? nl->fd : -1;
}

int nlog_read(struct nlog *nl, nlog_cb cb, void *ctx)
{
	int i, err = 0;

	if (!nl)
		return -AGW_EINVAL;
	nl->cb = cb;
	nl->ctx = ctx;
	nl->handed = 0;
	for (i = 0; i < NLOG_MAX_DGRAMS; i++) {
		ssize_t n = recv(nl->fd, nl->buf, NLOG_BUF_SIZE, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == ENOBUFS) {
				nl->st.overruns++;
				continue;
			}
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		nflog_handle_packet(nl->h, nl->buf, (int)n);
	}
	nl->cb = NULL;
	nl->ctx = NULL;
	return err < 0 ? err : nl->handed;
}

void nlog_get_stats(const struct nlog *nl, struct nlog_stats *st)
{
	if (nl)
		*st = nl->st;
	else
		memset(st, 0, sizeof(*st));
}

void nlog_free(struct nlog *nl)
{
	if (!nl)
		return;
	if (nl->gh)
		nflog_unbind_group(nl->gh);
	if (nl->h)
		nflog_close(nl->h);
	free(nl->buf);
	free(nl);
}

int nlog_prefix_parse(const char *prefix, char *name, size_t cap, const char **why)
{
	const char *p, *colon;
	size_t n;

	if (name && cap)
		name[0] = '\0';
	if (why)
		*why = NULL;
	if (!prefix || !name || cap == 0 || strncmp(prefix, NLOG_PFX, strlen(NLOG_PFX)) != 0)
		return -AGW_EPARSE;
	p = prefix + strlen(NLOG_PFX);
	colon = strchr(p, ':');
	if (!colon || colon == p || colon[1] == '\0')
		return -AGW_EPARSE;
	n = (size_t)(colon - p);
	if (n >= cap)
		return -AGW_ETOOBIG;
	memcpy(name, p, n);
	name[n] = '\0';
	if (why)
		*why = colon + 1;
	return 0;
}

#define NLOG_UNIT 1000000ull

void nlog_ratelimit_init(struct nlog_ratelimit *rl, uint32_t rate, uint32_t burst, int64_t now_us)
{
	memset(rl, 0, sizeof(*rl));
	rl->rate = rate ? rate : 1;
	rl->burst = burst ? burst : 1;
	rl->credit = rl->burst * NLOG_UNIT;
	rl->last_us = now_us;
}

bool nlog_ratelimit_allow(struct nlog_ratelimit *rl, int64_t now_us)
{
	uint64_t cap = rl->burst * NLOG_UNIT;

	if (now_us > rl->last_us) {
		uint64_t dt = (uint64_t)(now_us - rl->last_us);
		/* Past this long the bucket is full anyway; also no overflow. */
		uint64_t full = cap / rl->rate + 1;

		if (dt > full)
			dt = full;
		rl->credit += dt * rl->rate;
		if (rl->credit > cap)
			rl->credit = cap;
		rl->last_us = now_us;
	}
	if (rl->credit >= NLOG_UNIT) {
		rl->credit -= NLOG_UNIT;
		return true;
	}
	rl->suppressed++;
	rl->total_suppressed++;
	return false;
}

uint64_t nlog_ratelimit_take_suppressed(struct nlog_ratelimit *rl)
{
	uint64_t n = rl->suppressed;

	rl->suppressed = 0;
	return n;
}
