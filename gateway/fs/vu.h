/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The vhost-user back end of the fs child's virtio-fs device: the control
 * protocol QEMU speaks over a unix socket (features, the guest memory table
 * as memfds, the virtqueues' addresses and eventfds) and the split
 * virtqueues themselves. Each request chain the guest makes available is
 * gathered into one buffer, handed to a callback (the FUSE server), and the
 * callback's reply is scattered into the chain's writable descriptors.
 *
 * Every address the guest or QEMU gives is checked against the memory table
 * (vu_mem_ptr) before it is touched; a descriptor chain that is too long,
 * loops, points outside guest memory or puts readable after writable parts
 * is answered with nothing (length 0), counted, and never crashes the
 * server. vu_msg_check and vu_chain_get are pure over their inputs and are
 * unit tested and fuzzed without a socket.
 *
 * Single-threaded; nothing here blocks except the socket and eventfd reads,
 * which are non-blocking.
 */
#ifndef AGW_VU_H
#define AGW_VU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define VU_MAX_REGIONS 8u
#define VU_MAX_QUEUES 2u	   /* virtio-fs: hiprio + one request queue */
#define VU_QUEUE_MAX 1024u	   /* the largest ring QEMU's device offers */
#define VU_PAYLOAD_MAX 512u	   /* the largest message we accept (memory table: 264) */
#define VU_REQ_MAX (1100u * 1024u) /* one gathered request: 1 MiB of write data + headers */

/* Control messages (QEMU's docs/interop/vhost-user.rst numbering). */
enum vu_req {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_LOG_BASE = 6,
	VU_SET_LOG_FD = 7,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
};

#define VU_HDR_SIZE 12u
#define VU_FLAG_VERSION 0x1u
#define VU_FLAG_REPLY 0x4u
#define VU_FLAG_NEED_REPLY 0x8u
#define VU_VRING_NOFD 0x100u

#define VU_F_PROTOCOL_FEATURES (1ull << 30)
#define VU_F_VERSION_1 (1ull << 32)
#define VU_PF_MQ (1ull << 0)

struct vu_region_msg {
	uint64_t gpa, size, uva, mmap_offset;
};

/* One decoded control message; fields valid per request. */
struct vu_msg {
	uint32_t req, flags, size;
	union {
		uint64_t u64;
		struct {
			uint32_t index, num;
		} state;
		struct {
			uint32_t index, flags;
			uint64_t desc, used, avail, log;
		} addr;
		struct {
			uint32_t nregions;
			struct vu_region_msg r[VU_MAX_REGIONS];
		} mem;
	} u;
};

/*
 * Decode one message (header and payload, exactly len bytes). Returns 0,
 * -AGW_ETRUNC (need more bytes: not a whole header or payload yet),
 * -AGW_EPROTO (wrong version, a payload too big or too small for its
 * request, too many regions, a queue index out of range). Unknown
 * requests decode (m->req set) with their payload ignored. Pure.
 */
int vu_msg_check(const uint8_t *buf, size_t len, struct vu_msg *m);

/* A guest memory region mapped into this process. */
struct vu_region {
	uint64_t gpa, size, uva;
	uint8_t *host; /* gpa maps here */
	void *map;     /* what munmap gets */
	size_t map_len;
};

struct vu_mem {
	unsigned n;
	struct vu_region r[VU_MAX_REGIONS];
};

/* Host pointer of [gpa, gpa+len) when it lies in one region, else NULL. Pure. */
void *vu_mem_ptr(const struct vu_mem *m, uint64_t gpa, uint64_t len);
/* The same for a QEMU virtual address (ring addresses). Pure. */
void *vu_mem_uva(const struct vu_mem *m, uint64_t uva, uint64_t len);

/* One request chain: readable parts first, then writable ones. */
#define VU_IOV_MAX 1030u
struct vu_chain {
	uint16_t head;
	unsigned n_out, n_in; /* out: guest→us (readable); in: us→guest */
	struct iovec out[VU_IOV_MAX], in[VU_IOV_MAX];
	size_t out_len, in_len;
};

/*
 * Walk the descriptor chain starting at head in a ring of num descriptors
 * (desc points at the table in our mapping; it is read once per entry, so
 * the guest changing it meanwhile cannot make us follow another chain
 * than the one checked). Indirect descriptors are not negotiated and are
 * refused. Returns 0 and ch, or -AGW_EPROTO (index out of range, a loop or
 * chain longer than num, an address outside memory, readable after
 * writable, total length over 4 GiB). Pure over the memory it reads.
 */
int vu_chain_get(const struct vu_mem *mem, const void *desc, uint16_t num, uint16_t head,
		 struct vu_chain *ch);

/* Copy the chain's readable bytes into buf (at most cap). Returns bytes copied. */
size_t vu_chain_gather(const struct vu_chain *ch, uint8_t *buf, size_t cap);
/* Copy len bytes into the chain's writable parts. Returns bytes copied (<= len). */
size_t vu_chain_scatter(const struct vu_chain *ch, const uint8_t *buf, size_t len);

/*
 * The request handler: req/len is one whole request (gathered); write the
 * reply into out (cap bytes) and return its length (0: no reply, e.g.
 * FUSE FORGET). queue is 0 (hiprio) or 1.
 */
typedef size_t vu_handler_fn(void *ctx, unsigned queue, const uint8_t *req, size_t len,
			     uint8_t *out, size_t cap);

struct vu_dev;

struct vu_stats {
	uint64_t requests, bad_chains, kicks;
};

/*
 * A device for one accepted vhost-user connection (fd: owned; closed by
 * vu_dev_free). Returns 0 and *out or -AGW_ENOMEM.
 */
int vu_dev_new(int fd, vu_handler_fn *fn, void *ctx, struct vu_dev **out);
/* Unmaps guest memory, closes the socket and eventfds. NULL-safe. */
void vu_dev_free(struct vu_dev *d);
int vu_dev_fd(const struct vu_dev *d);

/*
 * The socket is readable: read and handle control messages. Returns 0, or
 * a negative code when the connection is over (EOF, protocol error): the
 * caller frees the device. *kick_changed is set when a queue's kick fd
 * changed (re-register them with vu_dev_kick_fd).
 */
int vu_dev_on_msg(struct vu_dev *d, bool *kick_changed);
/* The kick eventfd of queue q, or -1. */
int vu_dev_kick_fd(const struct vu_dev *d, unsigned q);
/*
 * Queue q was kicked: drain its eventfd, handle every available request,
 * signal the call eventfd. Returns 0 (bad chains are counted, answered
 * empty and do not stop the queue).
 */
int vu_dev_on_kick(struct vu_dev *d, unsigned q);
void vu_dev_stats(const struct vu_dev *d, struct vu_stats *st);

#endif
