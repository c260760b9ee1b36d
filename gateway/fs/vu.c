// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vhost-user for the virtio-fs device: the control messages from QEMU and
 * the split virtqueues in the guest's shared memory. The guest and QEMU are
 * untrusted: every address goes through vu_mem_ptr/vu_mem_uva, every
 * descriptor is copied once before it is used, and ring indices are taken
 * modulo the ring size we were told.
 */
#include "gateway/fs/vu.h"

#include <errno.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "agw.h"
#include "log.h"

#define VU_BATCH_MAX 256u /* requests per kick callback */

struct vu_vq {
	uint16_t num;
	uint16_t last_avail, used_idx;
	uint64_t desc_uva, avail_uva, used_uva;
	bool have_addr, enabled, stopped;
	int kick_fd, call_fd, err_fd;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
};

struct vu_dev {
	int fd;
	uint64_t features, proto;
	struct vu_mem mem;
	struct vu_vq vq[VU_MAX_QUEUES];
	vu_handler_fn *fn;
	void *ctx;
	uint8_t *req, *rep;
	struct vu_chain ch;
	struct vu_stats st;
};

static uint32_t vu_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t vu_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

int vu_msg_check(const uint8_t *buf, size_t len, struct vu_msg *m)
{
	const uint8_t *p = buf + VU_HDR_SIZE;

	memset(m, 0, sizeof(*m));
	if (len < VU_HDR_SIZE)
		return -AGW_ETRUNC;
	m->req = vu_le32(buf);
	m->flags = vu_le32(buf + 4);
	m->size = vu_le32(buf + 8);
	if ((m->flags & 0x3u) != VU_FLAG_VERSION || m->size > VU_PAYLOAD_MAX)
		return -AGW_EPROTO;
	if (len < VU_HDR_SIZE + (size_t)m->size)
		return -AGW_ETRUNC;
	if (len != VU_HDR_SIZE + (size_t)m->size)
		return -AGW_EPROTO;
	switch (m->req) {
	case VU_SET_FEATURES:
	case VU_SET_PROTOCOL_FEATURES:
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
		if (m->size < 8)
			return -AGW_EPROTO;
		m->u.u64 = vu_le64(p);
		if (m->req >= VU_SET_VRING_KICK && (m->u.u64 & 0xffu) >= VU_MAX_QUEUES)
			return -AGW_EPROTO;
		return 0;
	case VU_SET_VRING_NUM:
	case VU_SET_VRING_BASE:
	case VU_GET_VRING_BASE:
	case VU_SET_VRING_ENABLE:
		if (m->size < 8)
			return -AGW_EPROTO;
		m->u.state.index = vu_le32(p);
		m->u.state.num = vu_le32(p + 4);
		if (m->u.state.index >= VU_MAX_QUEUES)
			return -AGW_EPROTO;
		if (m->req == VU_SET_VRING_NUM &&
		    (m->u.state.num == 0 || m->u.state.num > VU_QUEUE_MAX ||
		     (m->u.state.num & (m->u.state.num - 1))))
			return -AGW_EPROTO;
		return 0;
	case VU_SET_VRING_ADDR:
		if (m->size < 40)
			return -AGW_EPROTO;
		m->u.addr.index = vu_le32(p);
		m->u.addr.flags = vu_le32(p + 4);
		m->u.addr.desc = vu_le64(p + 8);
		m->u.addr.used = vu_le64(p + 16);
		m->u.addr.avail = vu_le64(p + 24);
		m->u.addr.log = vu_le64(p + 32);
		return m->u.addr.index < VU_MAX_QUEUES ? 0 : -AGW_EPROTO;
	case VU_SET_MEM_TABLE:
		if (m->size < 8)
			return -AGW_EPROTO;
		m->u.mem.nregions = vu_le32(p);
		if (m->u.mem.nregions == 0 || m->u.mem.nregions > VU_MAX_REGIONS ||
		    m->size < 8 + 32 * m->u.mem.nregions)
			return -AGW_EPROTO;
		for (uint32_t i = 0; i < m->u.mem.nregions; i++) {
			const uint8_t *r = p + 8 + 32 * i;

			m->u.mem.r[i].gpa = vu_le64(r);
			m->u.mem.r[i].size = vu_le64(r + 8);
			m->u.mem.r[i].uva = vu_le64(r + 16);
			m->u.mem.r[i].mmap_offset = vu_le64(r + 24);
			if (m->u.mem.r[i].size == 0 ||
			    m->u.mem.r[i].gpa + m->u.mem.r[i].size < m->u.mem.r[i].gpa ||
			    m->u.mem.r[i].uva + m->u.mem.r[i].size < m->u.mem.r[i].uva ||
			    m->u.mem.r[i].mmap_offset + m->u.mem.r[i].size <
				m->u.mem.r[i].mmap_offset)
				return -AGW_EPROTO;
		}
		return 0;
	default:
		return 0;
	}
}

/* [addr, addr+len) inside one region, by guest address or QEMU's. */
static void *vu_mem_find(const struct vu_mem *m, uint64_t addr, uint64_t len, bool uva)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct vu_region *r = &m->r[i];
		uint64_t start = uva ? r->uva : r->gpa;

		if (addr >= start && addr - start <= r->size && len <= r->size - (addr - start))
			return r->host + (addr - start);
	}
	return NULL;
}

void *vu_mem_ptr(const struct vu_mem *m, uint64_t gpa, uint64_t len)
{
	return vu_mem_find(m, gpa, len, false);
}

void *vu_mem_uva(const struct vu_mem *m, uint64_t uva, uint64_t len)
{
	return vu_mem_find(m, uva, len, true);
}

int vu_chain_get(const struct vu_mem *mem, const void *desc, uint16_t num, uint16_t head,
		 struct vu_chain *ch)
{
	uint16_t i = head;
	uint64_t total = 0;

	ch->head = head;
	ch->n_out = ch->n_in = 0;
	ch->out_len = ch->in_len = 0;
	for (unsigned steps = 0;; steps++) {
		struct vring_desc d;
		void *p;

		if (i >= num || steps >= num || steps >= VU_IOV_MAX)
			return -AGW_EPROTO;
		/* One copy: the guest may rewrite the table while we work. */
		memcpy(&d, (const uint8_t *)desc + (size_t)i * sizeof(d), sizeof(d));
		if (d.flags & VRING_DESC_F_INDIRECT)
			return -AGW_EPROTO;
		p = d.len ? vu_mem_ptr(mem, d.addr, d.len) : NULL;
		if (d.len && !p)
			return -AGW_EPROTO;
		total += d.len;
		if (total > UINT32_MAX)
			return -AGW_EPROTO;
		if (d.flags & VRING_DESC_F_WRITE) {
			ch->in[ch->n_in++] = (struct iovec){p, d.len};
			ch->in_len += d.len;
		} else {
			if (ch->n_in)
				return -AGW_EPROTO; /* readable after writable */
			ch->out[ch->n_out++] = (struct iovec){p, d.len};
			ch->out_len += d.len;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

size_t vu_chain_gather(const struct vu_chain *ch, uint8_t *buf, size_t cap)
{
	size_t off = 0;

	for (unsigned i = 0; i < ch->n_out && off < cap; i++) {
		size_t n = AGW_MIN(ch->out[i].iov_len, cap - off);

		if (n) /* a zero-length part has no address */
			memcpy(buf + off, ch->out[i].iov_base, n);
		off += n;
	}
	return off;
}

size_t vu_chain_scatter(const struct vu_chain *ch, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	for (unsigned i = 0; i < ch->n_in && off < len; i++) {
		size_t n = AGW_MIN(ch->in[i].iov_len, len - off);

		if (n)
			memcpy(ch->in[i].iov_base, buf + off, n);
		off += n;
	}
	return off;
}

/* ---- the device ---- */

static void vu_fd_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void vu_mem_unmap(struct vu_mem *m)
{
	for (unsigned i = 0; i < m->n; i++)
		if (m->r[i].map)
			munmap(m->r[i].map, m->r[i].map_len);
	memset(m, 0, sizeof(*m));
}

int vu_dev_new(int fd, vu_handler_fn *fn, void *ctx, struct vu_dev **out)
{
	struct vu_dev *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (!d)
		return -AGW_ENOMEM;
	d->req = malloc(VU_REQ_MAX);
	d->rep = malloc(VU_REQ_MAX);
	if (!d->req || !d->rep) {
		free(d->req);
		free(d->rep);
		free(d);
		return -AGW_ENOMEM;
	}
	d->fd = fd;
	d->fn = fn;
	d->ctx = ctx;
	for (unsigned q = 0; q < VU_MAX_QUEUES; q++) {
		d->vq[q].kick_fd = d->vq[q].call_fd = d->vq[q].err_fd = -1;
		d->vq[q].enabled = true;
	}
	*out = d;
	return 0;
}

void vu_dev_free(struct vu_dev *d)
{
	if (!d)
		return;
	for (unsigned q = 0; q < VU_MAX_QUEUES; q++) {
		vu_fd_close(&d->vq[q].kick_fd);
		vu_fd_close(&d->vq[q].call_fd);
		vu_fd_close(&d->vq[q].err_fd);
	}
	vu_mem_unmap(&d->mem);
	if (d->fd >= 0)
		close(d->fd);
	free(d->req);
	free(d->rep);
	free(d);
}

int vu_dev_fd(const struct vu_dev *d)
{
	return d->fd;
}

int vu_dev_kick_fd(const struct vu_dev *d, unsigned q)
{
	return q < VU_MAX_QUEUES ? d->vq[q].kick_fd : -1;
}

void vu_dev_stats(const struct vu_dev *d, struct vu_stats *st)
{
	*st = d->st;
}

/* Map the rings once the addresses and memory are known. */
static int vu_vq_map(struct vu_dev *d, struct vu_vq *vq)
{
	size_t n = vq->num;

	if (!vq->have_addr || !vq->num || !d->mem.n)
		return 0;
	vq->desc = vu_mem_uva(&d->mem, vq->desc_uva, n * sizeof(struct vring_desc));
	vq->avail = vu_mem_uva(&d->mem, vq->avail_uva, 6 + 2 * n);
	vq->used = vu_mem_uva(&d->mem, vq->used_uva, 6 + 8 * n);
	if (!vq->desc || !vq->avail || !vq->used) {
		vq->desc = NULL;
		vq->avail = NULL;
		vq->used = NULL;
		return -AGW_EPROTO;
	}
	return 0;
}

static int vu_set_mem(struct vu_dev *d, const struct vu_msg *m, const int *fds, unsigned nfds)
{
	struct vu_mem nm = {0};

	if (nfds != m->u.mem.nregions)
		return -AGW_EPROTO;
	for (unsigned i = 0; i < m->u.mem.nregions; i++) {
		const struct vu_region_msg *r = &m->u.mem.r[i];
		size_t len = (size_t)(r->size + r->mmap_offset);
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);

		if (p == MAP_FAILED) {
			int e = errno;

			log_warn(
			    "fs: vhost-user: cannot map guest memory region %u (%llu bytes): %s", i,
			    (unsigned long long)len, strerror(e));
			vu_mem_unmap(&nm);
			return -e;
		}
		nm.r[i] = (struct vu_region){.gpa = r->gpa,
					     .size = r->size,
					     .uva = r->uva,
					     .host = (uint8_t *)p + r->mmap_offset,
					     .map = p,
					     .map_len = len};
		nm.n = i + 1;
	}
	vu_mem_unmap(&d->mem);
	d->mem = nm;
	for (unsigned q = 0; q < VU_MAX_QUEUES; q++)
		if (vu_vq_map(d, &d->vq[q]) < 0)
			return -AGW_EPROTO;
	return 0;
}

static int vu_reply(struct vu_dev *d, const struct vu_msg *m, const void *payload, uint32_t len)
{
	uint8_t buf[VU_HDR_SIZE + 16];
	uint32_t hdr[3] = {m->req, VU_FLAG_VERSION | VU_FLAG_REPLY, len};
	ssize_t n;

	memcpy(buf, hdr, sizeof(hdr));
	memcpy(buf + VU_HDR_SIZE, payload, len);
	n = send(d->fd, buf, VU_HDR_SIZE + len, MSG_NOSIGNAL);
	return n == (ssize_t)(VU_HDR_SIZE + len) ? 0 : -EPIPE;
}

static int vu_reply_u64(struct vu_dev *d, const struct vu_msg *m, uint64_t v)
{
	return vu_reply(d, m, &v, 8);
}

/* Receive one message and its fds (at most VU_MAX_REGIONS). */
static int vu_recv(struct vu_dev *d, uint8_t *buf, size_t *len, int *fds, unsigned *nfds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * VU_MAX_REGIONS)];
		struct cmsghdr align;
	} cb;
	struct iovec iov = {buf, VU_HDR_SIZE};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b, .msg_controllen = sizeof(cb.b)};
	uint32_t size;
	ssize_t n;

	*nfds = 0;
	n = recvmsg(d->fd, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < VU_MAX_REGIONS)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
	if (n == 0)
		return -EPIPE;
	if (n < 0)
		return errno == EAGAIN ? -EAGAIN : -errno;
	if (n != VU_HDR_SIZE || (mh.msg_flags & MSG_CTRUNC))
		return -AGW_EPROTO;
	memcpy(&size, buf + 8, 4);
	if (size > VU_PAYLOAD_MAX)
		return -AGW_EPROTO;
	if (size) {
		n = recv(d->fd, buf + VU_HDR_SIZE, size, MSG_WAITALL);
		if (n != (ssize_t)size)
			return -AGW_EPROTO;
	}
	*len = VU_HDR_SIZE + size;
	return 0;
}

static int vu_handle(struct vu_dev *d, const struct vu_msg *m, int *fds, unsigned nfds,
		     bool *kick_changed)
{
	struct vu_vq *vq;
	int fd = nfds ? fds[0] : -1, rc = 0;
	unsigned q;

	switch (m->req) {
	case VU_GET_FEATURES:
		return vu_reply_u64(d, m, VU_F_VERSION_1 | VU_F_PROTOCOL_FEATURES);
	case VU_SET_FEATURES:
		d->features = m->u.u64;
		return 0;
	case VU_GET_PROTOCOL_FEATURES:
		return vu_reply_u64(d, m, VU_PF_MQ);
	case VU_SET_PROTOCOL_FEATURES:
		d->proto = m->u.u64 & VU_PF_MQ;
		return 0;
	case VU_GET_QUEUE_NUM:
		return vu_reply_u64(d, m, VU_MAX_QUEUES);
	case VU_SET_OWNER:
	case VU_RESET_OWNER:
		return 0;
	case VU_SET_MEM_TABLE:
		rc = vu_set_mem(d, m, fds, nfds);
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		return rc;
	case VU_SET_VRING_NUM:
		vq = &d->vq[m->u.state.index];
		vq->num = (uint16_t)m->u.state.num;
		return vu_vq_map(d, vq);
	case VU_SET_VRING_ADDR:
		vq = &d->vq[m->u.addr.index];
		vq->desc_uva = m->u.addr.desc;
		vq->avail_uva = m->u.addr.avail;
		vq->used_uva = m->u.addr.used;
		vq->have_addr = true;
		rc = vu_vq_map(d, vq);
		if (!rc && vq->used)
			vq->used_idx = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
		return rc;
	case VU_SET_VRING_BASE:
		vq = &d->vq[m->u.state.index];
		vq->last_avail = (uint16_t)m->u.state.num;
		vq->used_idx = (uint16_t)m->u.state.num;
		vq->stopped = false;
		return 0;
	case VU_GET_VRING_BASE: {
		uint32_t st[2];

		q = m->u.state.index;
		vq = &d->vq[q];
		vq->stopped = true;
		st[0] = q;
		st[1] = vq->last_avail;
		vu_fd_close(&vq->kick_fd);
		vu_fd_close(&vq->call_fd);
		*kick_changed = true;
		return vu_reply(d, m, st, sizeof(st));
	}
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR: {
		int *slot;

		q = (unsigned)(m->u.u64 & 0xffu);
		vq = &d->vq[q];
		slot = m->req == VU_SET_VRING_KICK   ? &vq->kick_fd
		       : m->req == VU_SET_VRING_CALL ? &vq->call_fd
						     : &vq->err_fd;
		if (!(m->u.u64 & VU_VRING_NOFD) && nfds != 1)
			return -AGW_EPROTO;
		vu_fd_close(slot);
		if (!(m->u.u64 & VU_VRING_NOFD))
			*slot = fd;
		else if (fd >= 0)
			close(fd);
		if (m->req == VU_SET_VRING_KICK) {
			vq->stopped = false;
			*kick_changed = true;
		}
		return 0;
	}
	case VU_SET_VRING_ENABLE:
		d->vq[m->u.state.index].enabled = m->u.state.num != 0;
		return 0;
	default:
		log_debug("fs: vhost-user: request %u ignored", m->req);
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		return 0;
	}
}

int vu_dev_on_msg(struct vu_dev *d, bool *kick_changed)
{
	uint8_t buf[VU_HDR_SIZE + VU_PAYLOAD_MAX];
	int fds[VU_MAX_REGIONS];
	unsigned nfds = 0;
	struct vu_msg m;
	size_t len = 0;
	int rc;

	*kick_changed = false;
	rc = vu_recv(d, buf, &len, fds, &nfds);
	if (rc == 0)
		rc = vu_msg_check(buf, len, &m);
	if (rc < 0) {
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		return rc == -EAGAIN ? 0 : rc;
	}
	/* Only these carry fds; any other fd is closed at once. */
	if (m.req != VU_SET_MEM_TABLE && m.req != VU_SET_VRING_KICK && m.req != VU_SET_VRING_CALL &&
	    m.req != VU_SET_VRING_ERR) {
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		nfds = 0;
	}
	rc = vu_handle(d, &m, fds, nfds, kick_changed);
	if (rc == 0 && (m.flags & VU_FLAG_NEED_REPLY) && m.req != VU_GET_FEATURES &&
	    m.req != VU_GET_PROTOCOL_FEATURES && m.req != VU_GET_QUEUE_NUM &&
	    m.req != VU_GET_VRING_BASE)
		rc = vu_reply_u64(d, &m, 0);
	if (rc < 0)
		log_warn("fs: vhost-user request %u: %s", m.req, agw_strerror(rc));
	return rc;
}

int vu_dev_on_kick(struct vu_dev *d, unsigned q)
{
	struct vu_vq *vq = q < VU_MAX_QUEUES ? &d->vq[q] : NULL;
	uint64_t v;
	bool any = false;

	if (!vq || vq->kick_fd < 0)
		return 0;
	(void)!read(vq->kick_fd, &v, sizeof(v));
	d->st.kicks++;
	if (!vq->enabled || vq->stopped || !vq->desc)
		return 0;
	for (unsigned batch = 0;; batch++) {
		uint16_t avail = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
		uint16_t head;
		size_t rlen = 0, in;
		uint32_t written = 0;

		if (vq->last_avail == avail)
			break;
		if (batch == VU_BATCH_MAX) {
			/* A guest that keeps the ring full must not starve the
			 * rest of the loop (the supervisor's messages): kick
			 * ourselves and go on at the next pass. */
			v = 1;
			(void)!write(vq->kick_fd, &v, sizeof(v));
			break;
		}
		head =
		    __atomic_load_n(&vq->avail->ring[vq->last_avail % vq->num], __ATOMIC_RELAXED);
		vq->last_avail++;
		d->st.requests++;
		if (vu_chain_get(&d->mem, vq->desc, vq->num, head, &d->ch) < 0) {
			d->st.bad_chains++;
			if (d->st.bad_chains < 10)
				log_warn("fs: virtio-fs queue %u: bad descriptor chain at %u", q,
					 head);
			head = head < vq->num ? head : 0;
		} else {
			in = vu_chain_gather(&d->ch, d->req, VU_REQ_MAX);
			if (in == d->ch.out_len)
				rlen = d->fn(d->ctx, q, d->req, in, d->rep,
					     AGW_MIN((size_t)VU_REQ_MAX, d->ch.in_len));
			else
				d->st.bad_chains++; /* larger than any request we take */
			written = (uint32_t)vu_chain_scatter(&d->ch, d->rep, rlen);
		}
		{
			struct vring_used_elem *e = &vq->used->ring[vq->used_idx % vq->num];

			e->id = head;
			e->len = written;
			vq->used_idx++;
			__atomic_store_n(&vq->used->idx, vq->used_idx, __ATOMIC_RELEASE);
		}
		any = true;
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (any && vq->call_fd >= 0 &&
	    !(__atomic_load_n(&vq->avail->flags, __ATOMIC_ACQUIRE) & VRING_AVAIL_F_NO_INTERRUPT)) {
		v = 1;
		(void)!write(vq->call_fd, &v, sizeof(v));
	}
	return 0;
}
