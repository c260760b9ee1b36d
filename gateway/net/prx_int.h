/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Inside the transparent proxy, shared by its two halves: prx.c owns the
 * connection (accept, the first look at the bytes, deciding on a name or
 * an address, resolving, dialing, relaying, timers, teardown),
 * prx_http.c judges HTTP request by request and follows responses, and
 * prx_tls.c runs inspected TLS (both handshakes, deferred request rows,
 * the response scan for credential values). Nothing here is used outside
 * gateway/net/prx*.c. Every function runs on
 * the net child's loop and never blocks.
 */
#ifndef AGW_PRX_INT_H
#define AGW_PRX_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cred.h"
#include "http.h"
#include "ipc.h"
#include "prx.h"
#include "res.h"
#include "sni.h"

/* PRX_ASK: the name is decided "ask"; the connection (nothing dialed yet,
 * the client's first bytes buffered) waits for a person. PRX_TLS:
 * inspected connection, both TLS handshakes (guest, upstream) in progress
 * (prx_tls.c). */
enum prx_state {
	PRX_PEEK,
	PRX_ASK,
	PRX_RESOLVE,
	PRX_CONNECT,
	PRX_TLS,
	PRX_RELAY,
	PRX_DRAIN,
	PRX_DEAD
};

/* Client side in HTTP mode: next is a head, a body, the wait for the
 * response to an Upgrade request (bytes held), or raw after a 101. */
enum prx_hstate { PRX_H_HEAD, PRX_H_BODY, PRX_H_UPWAIT, PRX_H_RAW };

/* Upstream side in HTTP mode: next is a response head, a response body, or
 * untracked (after a 101, a body delimited by close, or a response the
 * proxy cannot frame): bytes then pass as they come. */
enum prx_rstate { PRX_R_HEAD, PRX_R_BODY, PRX_R_RAW };

#define PRX_PIPE_MAX 32	 /* requests sent upstream and not yet answered */
#define PRX_RQ_HEAD 0x01 /* a HEAD request: its response has no body */
#define PRX_RQ_UPGRADE 0x02
#define PRX_SCAN_TAIL 16 /* bytes kept to find a signature across reads */
/* Inspected client side: room kept free in the buffer for a credential
 * to grow a head (a value is at most CRED_VALUE_MAX bytes). */
#define PRX_INJECT_ROOM (2 * CRED_VALUE_MAX)

struct prx_half {
	int fd;
	uint8_t *buf; /* PRX_BUF bytes read from fd, for the other side */
	size_t off, len;
	size_t fwd; /* client half in HTTP or guarded mode: approved up to here */
	bool rd_eof;
	bool wr_shut;
	int64_t bytes;
	struct ssl_st *ssl; /* inspected: the TLS on fd (NULL: plain) */
	unsigned xwant;	    /* EV_* an SSL read or write waits for across (read
			       wants write or write wants read) */
};

/* An inspected request, recorded when its response is complete (status,
 * bytes, duration) or the connection ends. */
struct prx_rqi {
	char method[16];
	char path[512];
	char rule[48];
	const char *verdict;
	const char *reason;
	int cred; /* injected: index in the net child's credentials, else -1 */
	int status;
	int64_t t0_us, up, down;
};

struct prx_sess {
	struct prx *px;
	enum prx_state state;
	uint64_t timer;
	struct prx_half cli, up;
	struct netd_pol *pol;
	struct sockaddr_storage src, odst, dial;
	char src_s[64], odst_s[64], dial_s[64];
	char name[SNI_HOST_MAX + 1];
	char target[SNI_HOST_MAX + 8];
	const char *via;
	uint16_t port;
	bool http;
	bool tls; /* the first bytes were a TLS ClientHello (a denial gets an alert) */
	/* Allowed on the original address alone (a DNS binding, no cidr
	 * rule): the client's bytes are approved only while nothing in them
	 * is TLS- or HTTP-shaped (prx_guard_advance). */
	bool guarded;
	bool first_seen; /* guarded: the first client bytes were judged */
	uint8_t tail[PRX_SCAN_TAIL];
	size_t tail_len;
	int hstate;
	struct http_body body;
	bool upgrade_pending; /* the request being sent asked for an upgrade */
	int rstate;	      /* enum prx_rstate */
	struct http_body rbody;
	uint8_t rq[PRX_PIPE_MAX]; /* PRX_RQ_* of requests awaiting a response */
	unsigned rq_head, rq_n;
	struct res_req *req;
	uint8_t addrs[RES_MAX_ADDRS][16];
	size_t naddrs, next_addr;
	int family;
	struct pol_decision dec;
	struct netd_waiter *ask; /* PRX_ASK: our place in the open ask */
	uint32_t approval;	 /* a person approved this connection (approval id), or 0 */
	char approved_why[128];	 /* "approved (once) by root (uid 0)", the rows' reason */
	char denied_why[IPC_ASK_REASON_MAX + 96];
	/* TLS inspection */
	bool inspect;
	int cred;		/* credential for this host (index in n->creds), or -1 */
	bool cli_hs, up_hs;	/* handshake done (the upstream's: or failed) */
	char tls_fail[200];	/* why the upstream handshake failed */
	struct prx_rqi *rqi;	/* PRX_PIPE_MAX, aligned with rq */
	struct cred_scan bscan; /* the body being sent */
	uint8_t *vtail;		/* responses: CRED_VALUE_MAX bytes carried to find a value */
	size_t vtail_len;
	size_t vhold; /* upstream bytes at the end held back: they begin a value */
	char cur_method[16], cur_path[512]; /* the request whose body is sent */
	/* Bulk downloads: upstream's bytes go to the client through this
	 * pipe with splice (no copy through the buffer) once PRX_BUF bytes
	 * came down and while nothing needs to read them (prx_resp_opaque);
	 * pipe_len bytes are in it, sent before anything else. */
	int pipe[2];
	size_t pipe_len;
	bool no_splice; /* the pipe or splice failed: the buffer only */
	bool decided;  /* a connect event was recorded (allow or not) */
	bool opened;   /* an allowing connect event was recorded: record the close */
	unsigned nreq; /* HTTP requests sent upstream */
	const char *close_reason;
	int64_t start_us, last_ms;
	char *reply;
	size_t reply_len, reply_off;
	struct prx_sess *next, *prev;
};

struct prx {
	struct netd *n;
	int lfd;
	struct sockaddr_storage laddr; /* the listener's address (family 0: wildcard) */
	int spare_fd;
	uint64_t resume_timer;
	bool held; /* accepting paused: the audit channel is full (prx_intake) */
	uint64_t emfile_count;
	int64_t emfile_logged; /* ev ms of the last EMFILE warning */
	struct prx_sess *sess;
	size_t nsess;
	struct prx_sess *dead;
};

/* prx.c: the connection core. */
void prx_set_state(struct prx_sess *s, enum prx_state st, const char *why);
void prx_kill(struct prx_sess *s, const char *why);
void prx_close_fd(struct prx_sess *s, struct prx_half *h);
void prx_pump(struct prx_sess *s);
/* Records ev: -EACCES for a denial, 0 when the action may go on,
 * -AGW_EFULL when the audit path fails (the action is then denied too). */
int prx_audit(struct prx_sess *s, struct aud_event *ev);
/* Records the connection's connect row (once per session). Returns as
 * prx_audit. */
int prx_audit_connect(struct prx_sess *s, const char *decision, const char *reason);
/* The upstream socket's event callback (registered by prx_connect). */
void prx_up_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx);
/* Sets TCP_NODELAY on a connected or listening socket (errors ignored). */
void prx_nodelay(int fd);

/* Sends len bytes of buf on h (TLS when h->ssl). Returns the count,
 * -EAGAIN or a negative error. */
ssize_t prx_send(struct prx_half *h, const void *buf, size_t len);

/* prx_decide.c: from the first bytes to a connected upstream. */
/* Records the connect decision and refuses: a 403 in HTTP mode, a TLS
 * access_denied alert after a ClientHello, else the connection is closed. */
void prx_deny(struct prx_sess *s, const char *reason);
/* Decides on a name read from the first bytes (r: the first HTTP request,
 * NULL for TLS); resolves and dials when allowed. */
void prx_decide_name(struct prx_sess *s, const char *name, const char *via,
		     const struct http_req *r);
/* Is the original destination allowed by a cidr rule (for TLS or HTTP
 * without a usable name: nothing but the address was asked for)? */
bool prx_cidr_allows(struct prx_sess *s);
/* Decides on the original destination alone (see prx_decide.c). */
void prx_decide_addr(struct prx_sess *s, const char *via);
/* The peek (PRX_PEEK): decides once the client's first bytes say what the
 * connection is. final: no more bytes will come before the decision
 * (deadline, EOF, full buffer). */
void prx_peek_decide(struct prx_sess *s, bool final);
/* A guarded connection (decided on a DNS binding): checks the client's
 * bytes past fwd before they may go upstream; ends the connection on TLS
 * or HTTP found late. */
void prx_guard_advance(struct prx_sess *s);
/* Dials the next usable address; false when none is left. */
bool prx_dial_next(struct prx_sess *s);
/* Upstream's TCP is up: TLS handshakes (inspect) or RELAY. */
void prx_connected(struct prx_sess *s);

/* prx_tls.c: inspected TLS. */
/* Starts both handshakes once upstream's TCP is up (inspect sessions). */
void prx_tls_start(struct prx_sess *s);
/* Advances them (PRX_TLS), then enters RELAY in HTTP mode or refuses. */
void prx_tls_step(struct prx_sess *s);
/* Upstream bytes just read (not yet forwarded): true when they hold a
 * credential's value, then the session is cut and the row recorded. */
bool prx_tls_resp_leak(struct prx_sess *s, const uint8_t *buf, size_t len);
/* How many bytes at the end of the upstream's buffer to hold back (they
 * could be the first part of a value split across reads): 0 once the
 * response is complete or upstream closed. */
size_t prx_tls_hold(const struct prx_sess *s);
/* Records the deferred row of the inspected request at rq index i. */
void prx_rqi_emit(struct prx_sess *s, unsigned i, const char *why);
/* Records every pending one (connection ends or responses go untracked). */
void prx_rqi_flush(struct prx_sess *s, const char *why);

/* prx_http.c: judging plain HTTP. */
/* The first look at an HTTP-shaped connection: decides on the first
 * request's Host, or refuses with a 403. final: no more bytes will come
 * before the decision (deadline, EOF, full buffer). */
void prx_http_peek(struct prx_sess *s, bool final);
/* Judges the request heads in the client's buffer past fwd (RELAY). */
void prx_http_advance(struct prx_sess *s);
/* Follows response framing in the upstream's buffer past up.fwd. */
void prx_resp_advance(struct prx_sess *s);
/* How many of upstream's next bytes the relay may pass without reading
 * them (splice): the data left in the response body being forwarded,
 * everything once responses are not tracked (raw) or outside HTTP mode,
 * nothing while a response head or chunk framing is next. */
uint64_t prx_resp_opaque(const struct prx_sess *s);
/* n such bytes were passed: follows the framing past them. */
void prx_resp_moved(struct prx_sess *s, size_t n);
/* Every request sent upstream has its complete response in the buffer. */
bool prx_resp_done(const struct prx_sess *s);
/* Ends the session with a 403 after whatever upstream already sent. */
void prx_reply_403(struct prx_sess *s, const char *rule, const char *reason);
/* Records one HTTP request; returns 0 when it may go upstream. */
int prx_audit_http(struct prx_sess *s, const struct http_req *r, const struct pol_decision *d,
		   const char *decision, const char *reason);
/* Judges one request: what the proxy refuses whatever the policy says (in
 * audit mode too), then the policy's host, method and path rules. */
void prx_judge_http(struct prx_sess *s, const struct http_req *r, struct pol_decision *d);

#endif
