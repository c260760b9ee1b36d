/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event loop every long-running process uses: epoll for file
 * descriptors, a min-heap of one-shot timers, signals through a signalfd,
 * and before-sleep hooks (run once per iteration before waiting; sessions
 * are freed there, never inside a callback). Single-threaded: every function
 * must be called from the thread running ev_run(). Nothing here blocks
 * except ev_run() itself while it waits.
 *
 * A callback may add, modify or delete any registration, including its own;
 * events already fetched for a deleted (or deleted and re-added) fd are not
 * delivered.
 */
#ifndef AGW_EV_H
#define AGW_EV_H

#include <stdint.h>

#define EV_READ 0x1u
#define EV_WRITE 0x2u
#define EV_ERROR 0x4u /* delivered only: EPOLLERR/EPOLLHUP seen */
/* ev_add_fd only, with EV_READ: of the loops (processes) that watch the
 * same file (a shared listener), one is woken per event (EPOLLEXCLUSIVE),
 * not all. Pausing it removes it from the kernel's set; resuming adds it. */
#define EV_EXCLUSIVE 0x8u

struct ev_loop;

/* fd callback: events is the subset of the registered mask that fired,
 * plus EV_ERROR (then also EV_READ|EV_WRITE as registered, so the owner
 * notices on read or write). */
typedef void ev_fd_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx);
/* timer callback: the timer is already gone when this runs. */
typedef void ev_timer_cb(struct ev_loop *loop, uint64_t id, void *ctx);
typedef void ev_signal_cb(struct ev_loop *loop, int signo, void *ctx);
typedef void ev_hook_cb(struct ev_loop *loop, void *ctx);

/* New loop. Returns 0 and *out, or -errno / -AGW_ENOMEM. */
int ev_new(struct ev_loop **out);
/* Frees the loop and closes its epoll and signal fds; registered fds are not
 * closed (their owners close them). Restores the signal mask it changed.
 * NULL-safe. */
void ev_free(struct ev_loop *loop);

/* Register fd (non-blocking is the caller's job) for mask. Returns 0,
 * -AGW_EINVAL (already registered, bad fd) or -errno from epoll_ctl. */
int ev_add_fd(struct ev_loop *loop, int fd, unsigned mask, ev_fd_cb *cb, void *ctx);
/* Change the mask of a registered fd (0 is allowed: stay registered, get
 * nothing). Returns 0, -AGW_ENOTFOUND or -errno. */
int ev_mod_fd(struct ev_loop *loop, int fd, unsigned mask);
/* Like ev_mod_fd(fd, 0), but the kernel keeps the old mask until an event
 * fires: no system call for an fd that stays quiet until ev_mod_fd gives
 * it its old mask back. Returns 0 or -AGW_ENOTFOUND. */
int ev_pause_fd(struct ev_loop *loop, int fd);
/* Current mask of fd, 0 if not registered. */
unsigned ev_fd_mask(const struct ev_loop *loop, int fd);
/* Unregister fd (before closing it). NULL loop or unknown fd: no-op. */
void ev_del_fd(struct ev_loop *loop, int fd);
/* Unregister and close fd in one system call (close drops the epoll
 * registration). Only for an fd whose file no other fd refers to (not
 * dup'ed, not inherited by a child, never sent): otherwise the kernel keeps
 * reporting it. fd < 0: no-op. */
void ev_close_fd(struct ev_loop *loop, int fd);

/* One-shot timer firing after ms milliseconds. Returns an id > 0, or 0 when
 * out of memory. */
uint64_t ev_timer_add(struct ev_loop *loop, int64_t ms, ev_timer_cb *cb, void *ctx);
/* Cancel a timer; unknown, fired or 0 ids are ignored. */
void ev_timer_del(struct ev_loop *loop, uint64_t id);

/* Deliver signo through the loop (blocks it for the process's normal
 * delivery). One callback per signal; a second add replaces it.
 * Returns 0 or -errno / -AGW_EINVAL. */
int ev_signal_add(struct ev_loop *loop, int signo, ev_signal_cb *cb, void *ctx);

/* Hook run before each wait, in the order added. Returns 0 or -AGW_ENOMEM.
 * ev_before_sleep_del removes the first hook with this cb and ctx. */
int ev_before_sleep(struct ev_loop *loop, ev_hook_cb *cb, void *ctx);
void ev_before_sleep_del(struct ev_loop *loop, ev_hook_cb *cb, void *ctx);

/* Run until ev_stop(). Returns 0, or -errno when epoll_wait fails. */
int ev_run(struct ev_loop *loop);
/* Make ev_run() return after the current iteration. */
void ev_stop(struct ev_loop *loop);

/* Monotonic milliseconds, cached at the start of each iteration. */
int64_t ev_now_ms(const struct ev_loop *loop);

#endif
