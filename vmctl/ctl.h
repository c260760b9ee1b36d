/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control protocol between the host and agentgw-init, spoken over the
 * virtio-serial port "agentgw.ctl": a pure codec (no I/O, no globals, no
 * allocation) shared by the host (libagentgw) and the static guest init.
 * Every frame is a 12-byte header {u32 len, u16 type, u16 flags, u32 id},
 * big-endian, followed by len payload bytes (len <= CTL_MAX_PAYLOAD).
 * docs/control-protocol.md describes the messages and the conversation.
 */
#ifndef AGW_CTL_H
#define AGW_CTL_H

#include <stddef.h>
#include <stdint.h>

#define CTL_VERSION 1
#define CTL_HDR_LEN 12
#define CTL_MAX_PAYLOAD (64 * 1024)
#define CTL_MAX_FRAME (CTL_HDR_LEN + CTL_MAX_PAYLOAD)
#define CTL_MAX_ARGS 256 /* argv entries and, separately, env entries */
#define CTL_PORT_NAME "agentgw.ctl"

enum ctl_type {
	CTL_HELLO = 1,	   /* both ways, id 0: u32 version, u32 max payload, text */
	CTL_EXEC = 2,	   /* host: start a process (struct ctl_exec) */
	CTL_STARTED = 3,   /* guest: u32 pid of the started process */
	CTL_STDIN = 4,	   /* host: bytes for the process's stdin */
	CTL_STDIN_EOF = 5, /* host: close the process's stdin; empty */
	CTL_RESIZE = 6,	   /* host: u16 rows, u16 cols of the PTY */
	CTL_SIGNAL = 7,	   /* host: u32 signal number for the process */
	CTL_STDOUT = 8,	   /* guest: bytes the process wrote to stdout (or PTY) */
	CTL_STDERR = 9,	   /* guest: bytes the process wrote to stderr */
	CTL_EXIT = 10,	   /* guest: i32 exit code (-1 if killed), u32 signal */
	CTL_ERROR = 11,	   /* guest: i32 errno, text; ends the exec if it failed */
	CTL_POWEROFF = 12, /* host, id 0: sync, unmount, power off; empty */
	CTL_DENIAL = 13,   /* host, id 0: one line for the guest's denials file */
	CTL_TYPE_MAX = 13,
};

/* DENIAL is sent only to a guest whose HELLO text lists this word (an
 * older agentgw-init would reset its stream on an unknown type). */
#define CTL_CAP_DENIALS "denials"
#define CTL_DENIAL_MAX 1024 /* payload bytes of a DENIAL, at most */

/* EXEC flags (header flags field). */
#define CTL_EXEC_PTY 0x1
#define CTL_EXEC_USER 0x2 /* a user name string follows cwd */

struct ctl_hdr {
	uint32_t len; /* payload length */
	uint16_t type;
	uint16_t flags;
	uint32_t id; /* exec id chosen by the host; 0 for HELLO and POWEROFF */
};

/*
 * A decoded EXEC. Strings point into the payload buffer handed to
 * ctl_exec_decode(), which must outlive this struct. argv and env are
 * NULL-terminated, ready for execve().
 */
struct ctl_exec {
	int pty; /* CTL_EXEC_PTY set */
	uint16_t rows, cols;
	char *cwd;  /* "" means the default ("/") */
	char *user; /* "" means the guest's default user (CTL_EXEC_USER not set) */
	uint32_t argc, envc;
	char *argv[CTL_MAX_ARGS + 1];
	char *env[CTL_MAX_ARGS + 1];
};

/* Name of a frame type for logs ("EXEC"); "?" if unknown. Static storage. */
const char *ctl_type_name(uint16_t type);

/*
 * Look for one whole frame at the start of buf[0..n). Returns 0 and fills
 * *h and *frame_len (header + payload) when a frame is complete,
 * -AGW_ETRUNC when more bytes are needed, -AGW_ETOOBIG when len is over
 * CTL_MAX_PAYLOAD, -AGW_EPROTO for an unknown type. Never blocks.
 */
int ctl_frame_parse(const uint8_t *buf, size_t n, struct ctl_hdr *h, size_t *frame_len);

/*
 * Write a frame with a raw payload (plen <= CTL_MAX_PAYLOAD) into
 * buf[0..cap). Returns the frame length, or -AGW_ETOOBIG / -AGW_EINVAL.
 */
int ctl_encode(uint8_t *buf, size_t cap, uint16_t type, uint16_t flags, uint32_t id,
	       const void *payload, size_t plen);

/* Typed encoders: same return convention as ctl_encode(). */
int ctl_encode_hello(uint8_t *buf, size_t cap, const char *text);
int ctl_encode_exec(uint8_t *buf, size_t cap, uint32_t id, const char *const *argv,
		    const char *const *env, const char *cwd, int pty, uint16_t rows, uint16_t cols);
/* EXEC as a user (NULL or "": the guest's default; sets CTL_EXEC_USER otherwise). */
int ctl_encode_exec_as(uint8_t *buf, size_t cap, uint32_t id, const char *const *argv,
		       const char *const *env, const char *cwd, const char *user, int pty,
		       uint16_t rows, uint16_t cols);
int ctl_encode_u32(uint8_t *buf, size_t cap, uint16_t type, uint32_t id, uint32_t v);
int ctl_encode_resize(uint8_t *buf, size_t cap, uint32_t id, uint16_t rows, uint16_t cols);
int ctl_encode_exit(uint8_t *buf, size_t cap, uint32_t id, int32_t code, uint32_t sig);
int ctl_encode_error(uint8_t *buf, size_t cap, uint32_t id, int32_t err, const char *text);

/*
 * Typed decoders over a frame's payload p[0..n). They return 0, or
 * -AGW_EPROTO when the payload is malformed. Decoders never allocate.
 * ctl_exec_decode() rewrites nothing but stores pointers into p.
 */
int ctl_hello_decode(const uint8_t *p, size_t n, uint32_t *version, uint32_t *max_payload);
int ctl_exec_decode(uint8_t *p, size_t n, uint16_t flags, struct ctl_exec *e);
int ctl_u32_decode(const uint8_t *p, size_t n, uint32_t *v);
int ctl_resize_decode(const uint8_t *p, size_t n, uint16_t *rows, uint16_t *cols);
int ctl_exit_decode(const uint8_t *p, size_t n, int32_t *code, uint32_t *sig);
/* *text points into p (not NUL-terminated); *text_len is its length. */
int ctl_error_decode(const uint8_t *p, size_t n, int32_t *err, const char **text, size_t *text_len);

#endif
