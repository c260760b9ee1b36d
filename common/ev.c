// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The epoll event loop (see ev.h). Registrations live in an array indexed by
 * fd with a generation number that goes into each epoll event, so an event
 * fetched for an fd that a callback deleted (and maybe re-added) in the same
 * batch is recognised as stale and dropped. Timers are slots in a slab,
 * ordered by a binary min-heap of slot indices; a timer id carries the
 * slot's generation so a stale id never cancels a newer timer.
 */
#include "ev.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "agw.h"

#define EV_MAX_EVENTS 256
#define EV_MAX_HOOKS 16
#define EV_MAX_FDS (1 << 20)
#define EV_NSIG 65 /* signals 1..64 */

struct ev_fd {
	unsigned mask;	/* what the owner wants */
	unsigned kmask; /* what the kernel has (a superset of mask; see ev_pause_fd) */
	bool used;
	bool excl; /* EV_EXCLUSIVE: no EPOLL_CTL_MOD, only ADD and DEL */
	uint32_t gen;
	ev_fd_cb *cb;
	void *ctx;
};

struct ev_timer {
	int64_t when; /* monotonic ms */
	uint64_t seq; /* ties fire in order of creation */
	uint32_t gen;
	int heap_idx; /* -1 when free */
	ev_timer_cb *cb;
	void *ctx;
};

struct ev_hook {
	ev_hook_cb *cb;
	void *ctx;
};

struct ev_loop {
	int epfd;
	int sigfd;
	bool stop;
	int64_t now;
	struct ev_fd *fds;
	size_t nfds;
	struct ev_timer *timers; /* slab */
	size_t ntimers;
	size_t *free_slots;
	size_t nfree;
	size_t *heap;
	size_t nheap;
	uint64_t seq;
	struct ev_hook hooks[EV_MAX_HOOKS];
	size_t nhooks;
	sigset_t sigmask; /* signals we took over */
	sigset_t oldmask;
	bool mask_changed;
	ev_signal_cb *sig_cb[EV_NSIG];
	void *sig_ctx[EV_NSIG];
};

static int64_t ev_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ev_new(struct ev_loop **out)
{
	struct ev_loop *l = NULL;
	int rc;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -AGW_ENOMEM;
	l->sigfd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		rc = -errno;
		goto out;
	}
	sigemptyset(&l->sigmask);
	l->now = ev_mono_ms();
	*out = l;
	l = NULL;
	rc = 0;
out:
	if (l)
		ev_free(l);
	return rc;
}

void ev_free(struct ev_loop *loop)
{
	if (!loop)
		return;
	if (loop->epfd >= 0)
		close(loop->epfd);
	if (loop->sigfd >= 0)
		close(loop->sigfd);
	if (loop->mask_changed)
		sigprocmask(SIG_SETMASK, &loop->oldmask, NULL);
	free(loop->fds);
	free(loop->timers);
	free(loop->free_slots);
	free(loop->heap);
	free(loop);
}

static uint64_t ev_pack(int fd, uint32_t gen)
{
	return (uint64_t)(uint32_t)fd | ((uint64_t)gen << 32);
}

static uint32_t ev_epoll_mask(unsigned mask)
{
	uint32_t e = 0;

	if (mask & EV_READ)
		e |= EPOLLIN | EPOLLRDHUP;
	if (mask & EV_WRITE)
		e |= EPOLLOUT;
	return e;
}

static int ev_grow_fds(struct ev_loop *l, int fd)
{
	size_t n = l->nfds ? l->nfds : 64;
	struct ev_fd *v;

	if ((size_t)fd < l->nfds)
		return 0;
	if (fd >= EV_MAX_FDS)
		return -AGW_EINVAL;
	while (n <= (size_t)fd)
		n *= 2;
	v = realloc(l->fds, n * sizeof(*v));
	if (!v)
		return -AGW_ENOMEM;
	memset(v + l->nfds, 0, (n - l->nfds) * sizeof(*v));
	l->fds = v;
	l->nfds = n;
	return 0;
}

int ev_add_fd(struct ev_loop *loop, int fd, unsigned mask, ev_fd_cb *cb, void *ctx)
{
	struct epoll_event ee = {0};
	struct ev_fd *e;
	int rc;

	if (fd < 0 || !cb)
		return -AGW_EINVAL;
	rc = ev_grow_fds(loop, fd);
	if (rc)
		return rc;
	e = &loop->fds[fd];
	if (e->used)
		return -AGW_EINVAL;
	e->gen++;
	e->excl = (mask & EV_EXCLUSIVE) && (mask & (EV_READ | EV_WRITE)) == EV_READ;
	/* EPOLLEXCLUSIVE takes no EPOLLRDHUP (EINVAL): a listener needs none */
	ee.events = e->excl ? EPOLLIN | EPOLLEXCLUSIVE : ev_epoll_mask(mask);
	ee.data.u64 = ev_pack(fd, e->gen);
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ee) < 0)
		return -errno;
	e->used = true;
	e->mask = mask & (EV_READ | EV_WRITE);
	e->kmask = e->mask;
	e->cb = cb;
	e->ctx = ctx;
	return 0;
}

/* Sets the kernel's mask of a registered fd to exactly its mask. */
static int ev_sync_fd(struct ev_loop *l, int fd, struct ev_fd *e)
{
	struct epoll_event ee = {0};

	ee.events = ev_epoll_mask(e->mask);
	ee.data.u64 = ev_pack(fd, e->gen);
	if (e->excl) {
		/* an exclusive registration cannot be modified: out and in */
		ee.events = EPOLLIN | EPOLLEXCLUSIVE;
		if (!e->mask && e->kmask && epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
			return -errno;
		if (e->mask && !e->kmask && epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ee) < 0)
			return -errno;
	} else if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ee) < 0) {
		return -errno;
	}
	e->kmask = e->mask;
	return 0;
}

int ev_mod_fd(struct ev_loop *loop, int fd, unsigned mask)
{
	struct ev_fd *e;
	unsigned old;
	int rc;

	if (fd < 0 || (size_t)fd >= loop->nfds || !loop->fds[fd].used)
		return -AGW_ENOTFOUND;
	e = &loop->fds[fd];
	mask &= EV_READ | EV_WRITE;
	if (e->mask == mask)
		return 0;
	old = e->mask;
	e->mask = mask;
	if (mask == e->kmask) /* back from a pause: the kernel has it */
		return 0;
	rc = ev_sync_fd(loop, fd, e);
	if (rc)
		e->mask = old;
	return rc;
}

/*
 * A pause is lazy: nothing is delivered from now on, but the kernel keeps
 * the mask until an event fires (ev_run narrows it then). For an fd
 * expected to stay quiet (a client waiting while its upstream connects)
 * the pause and the resume cost no system call; an fd with bytes pending
 * costs one wake-up more than an exact ev_mod_fd.
 */
int ev_pause_fd(struct ev_loop *loop, int fd)
{
	if (fd < 0 || (size_t)fd >= loop->nfds || !loop->fds[fd].used)
		return -AGW_ENOTFOUND;
	loop->fds[fd].mask = 0;
	return 0;
}

unsigned ev_fd_mask(const struct ev_loop *loop, int fd)
{
	if (!loop || fd < 0 || (size_t)fd >= loop->nfds || !loop->fds[fd].used)
		return 0;
	return loop->fds[fd].mask;
}

/* Forgets fd's registration here; del: also in the kernel. */
static void ev_forget_fd(struct ev_loop *loop, int fd, bool del)
{
	struct ev_fd *e;

	if (!loop || fd < 0 || (size_t)fd >= loop->nfds || !loop->fds[fd].used)
		return;
	e = &loop->fds[fd];
	/* Failure means the fd was closed already; the kernel dropped it. */
	if (del)
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	e->used = false;
	e->mask = 0;
	e->kmask = 0;
	e->cb = NULL;
	e->ctx = NULL;
	e->gen++;
}

void ev_del_fd(struct ev_loop *loop, int fd)
{
	ev_forget_fd(loop, fd, true);
}

void ev_close_fd(struct ev_loop *loop, int fd)
{
	if (fd < 0)
		return;
	/* The close drops the registration: the file has no other fd. Events
	 * already fetched carry the old generation and are dropped. */
	ev_forget_fd(loop, fd, false);
	close(fd);
}

/* ---- timers ---- */

static bool ev_timer_less(const struct ev_loop *l, size_t a, size_t b)
{
	const struct ev_timer *ta = &l->timers[l->heap[a]], *tb = &l->timers[l->heap[b]];

	return ta->when < tb->when || (ta->when == tb->when && ta->seq < tb->seq);
}

static void ev_heap_swap(struct ev_loop *l, size_t a, size_t b)
{
	size_t t = l->heap[a];

	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->timers[l->heap[a]].heap_idx = (int)a;
	l->timers[l->heap[b]].heap_idx = (int)b;
}

static void ev_heap_up(struct ev_loop *l, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (!ev_timer_less(l, i, p))
			break;
		ev_heap_swap(l, i, p);
		i = p;
	}
}

static void ev_heap_down(struct ev_loop *l, size_t i)
{
	for (;;) {
		size_t c = 2 * i + 1, m = i;

		if (c < l->nheap && ev_timer_less(l, c, m))
			m = c;
		if (c + 1 < l->nheap && ev_timer_less(l, c + 1, m))
			m = c + 1;
		if (m == i)
			break;
		ev_heap_swap(l, i, m);
		i = m;
	}
}

static void ev_heap_remove(struct ev_loop *l, size_t i)
{
	size_t slot = l->heap[i];

	l->nheap--;
	if (i != l->nheap) {
		l->heap[i] = l->heap[l->nheap];
		l->timers[l->heap[i]].heap_idx = (int)i;
		ev_heap_down(l, i);
		ev_heap_up(l, i);
	}
	l->timers[slot].heap_idx = -1;
	l->timers[slot].gen++;
	l->free_slots[l->nfree++] = slot;
}

static int ev_timer_grow(struct ev_loop *l)
{
	size_t n = l->ntimers ? l->ntimers * 2 : 64;
	struct ev_timer *t;
	size_t *f, *h;

	t = realloc(l->timers, n * sizeof(*t));
	if (!t)
		return -AGW_ENOMEM;
	l->timers = t;
	f = realloc(l->free_slots, n * sizeof(*f));
	if (!f)
		return -AGW_ENOMEM;
	l->free_slots = f;
	h = realloc(l->heap, n * sizeof(*h));
	if (!h)
		return -AGW_ENOMEM;
	l->heap = h;
	for (size_t i = n; i-- > l->ntimers;) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].heap_idx = -1;
		f[l->nfree++] = i;
	}
	l->ntimers = n;
	return 0;
}

uint64_t ev_timer_add(struct ev_loop *loop, int64_t ms, ev_timer_cb *cb, void *ctx)
{
	struct ev_timer *t;
	size_t slot;

	if (!cb)
		return 0;
	if (loop->nfree == 0 && ev_timer_grow(loop))
		return 0;
	slot = loop->free_slots[--loop->nfree];
	t = &loop->timers[slot];
	t->when = ev_mono_ms() + (ms < 0 ? 0 : ms);
	t->seq = ++loop->seq;
	t->cb = cb;
	t->ctx = ctx;
	if (t->gen == 0)
		t->gen = 1;
	loop->heap[loop->nheap] = slot;
	t->heap_idx = (int)loop->nheap;
	loop->nheap++;
	ev_heap_up(loop, loop->nheap - 1);
	return ((uint64_t)t->gen << 32) | (uint64_t)(slot + 1);
}

static struct ev_timer *ev_timer_find(struct ev_loop *l, uint64_t id)
{
	size_t slot = (size_t)(uint32_t)id;
	uint32_t gen = (uint32_t)(id >> 32);

	if (slot == 0 || slot > l->ntimers)
		return NULL;
	slot--;
	if (l->timers[slot].heap_idx < 0 || l->timers[slot].gen != gen)
		return NULL;
	return &l->timers[slot];
}

void ev_timer_del(struct ev_loop *loop, uint64_t id)
{
	struct ev_timer *t;

	if (!loop || !id)
		return;
	t = ev_timer_find(loop, id);
	if (t)
		ev_heap_remove(loop, (size_t)t->heap_idx);
}

static void ev_run_timers(struct ev_loop *l)
{
	/* Timers added by callbacks with 0 ms wait for the next iteration so
	 * a timer re-arming itself cannot starve the fds. */
	int64_t now = ev_mono_ms();
	uint64_t last_seq = l->seq;

	while (l->nheap > 0 && !l->stop) {
		size_t slot = l->heap[0];
		struct ev_timer *t = &l->timers[slot];
		ev_timer_cb *cb;
		void *ctx;
		uint64_t id;

		if (t->when > now || t->seq > last_seq)
			break;
		cb = t->cb;
		ctx = t->ctx;
		id = ((uint64_t)t->gen << 32) | (uint64_t)(slot + 1);
		ev_heap_remove(l, 0);
		cb(l, id, ctx);
	}
}

/* ---- signals ---- */

static void ev_signal_read(struct ev_loop *l, int fd, unsigned events, void *ctx)
{
	struct signalfd_siginfo si;

	(void)events;
	(void)ctx;
	for (;;) {
		ssize_t n = read(fd, &si, sizeof(si));

		if (n != (ssize_t)sizeof(si))
			break;
		if (si.ssi_signo < EV_NSIG && l->sig_cb[si.ssi_signo])
			l->sig_cb[si.ssi_signo](l, (int)si.ssi_signo, l->sig_ctx[si.ssi_signo]);
	}
}

int ev_signal_add(struct ev_loop *loop, int signo, ev_signal_cb *cb, void *ctx)
{
	sigset_t one, old;
	int fd;

	if (signo <= 0 || signo >= (int)EV_NSIG || !cb)
		return -AGW_EINVAL;
	sigemptyset(&one);
	sigaddset(&one, signo);
	if (sigprocmask(SIG_BLOCK, &one, &old) < 0)
		return -errno;
	if (!loop->mask_changed) {
		loop->oldmask = old;
		loop->mask_changed = true;
	}
	sigaddset(&loop->sigmask, signo);
	fd = signalfd(loop->sigfd, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (loop->sigfd < 0) {
		int rc = ev_add_fd(loop, fd, EV_READ, ev_signal_read, NULL);

		if (rc) {
			close(fd);
			return rc;
		}
		loop->sigfd = fd;
	}
	loop->sig_cb[signo] = cb;
	loop->sig_ctx[signo] = ctx;
	return 0;
}

/* ---- hooks and the loop ---- */

int ev_before_sleep(struct ev_loop *loop, ev_hook_cb *cb, void *ctx)
{
	if (loop->nhooks >= EV_MAX_HOOKS || !cb)
		return -AGW_ENOMEM;
	loop->hooks[loop->nhooks].cb = cb;
	loop->hooks[loop->nhooks].ctx = ctx;
	loop->nhooks++;
	return 0;
}

void ev_before_sleep_del(struct ev_loop *loop, ev_hook_cb *cb, void *ctx)
{
	for (size_t i = 0; i < loop->nhooks; i++) {
		if (loop->hooks[i].cb == cb && loop->hooks[i].ctx == ctx) {
			memmove(&loop->hooks[i], &loop->hooks[i + 1],
				(loop->nhooks - i - 1) * sizeof(loop->hooks[0]));
			loop->nhooks--;
			return;
		}
	}
}

void ev_stop(struct ev_loop *loop)
{
	loop->stop = true;
}

int64_t ev_now_ms(const struct ev_loop *loop)
{
	return loop->now;
}

static int ev_wait_ms(struct ev_loop *l)
{
	int64_t d;

	if (l->nheap == 0)
		return -1;
	d = l->timers[l->heap[0]].when - ev_mono_ms();
	if (d < 0)
		return 0;
	return d > 60000 ? 60000 : (int)d;
}

int ev_run(struct ev_loop *loop)
{
	struct epoll_event evs[EV_MAX_EVENTS];

	loop->stop = false;
	while (!loop->stop) {
		int n;

		for (size_t i = 0; i < loop->nhooks && !loop->stop; i++)
			loop->hooks[i].cb(loop, loop->hooks[i].ctx);
		if (loop->stop)
			break;
		n = epoll_wait(loop->epfd, evs, EV_MAX_EVENTS, ev_wait_ms(loop));
		loop->now = ev_mono_ms();
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !loop->stop; i++) {
			int fd = (int)(uint32_t)evs[i].data.u64;
			uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
			struct ev_fd *e;
			unsigned fired = 0;

			/* Re-check: an earlier callback may have deleted it. */
			if ((size_t)fd >= loop->nfds)
				continue;
			e = &loop->fds[fd];
			if (!e->used || e->gen != gen)
				continue;
			if (evs[i].events & (EPOLLIN | EPOLLRDHUP))
				fired |= EV_READ;
			if (evs[i].events & EPOLLOUT)
				fired |= EV_WRITE;
			if (fired & ~e->mask)
				ev_sync_fd(loop, fd, e); /* narrowed lazily: now */
			if (evs[i].events & (EPOLLERR | EPOLLHUP))
				fired |= EV_ERROR | e->mask;
			fired &= e->mask | EV_ERROR;
			if (fired)
				e->cb(loop, fd, fired, e->ctx);
		}
		ev_run_timers(loop);
	}
	return 0;
}
