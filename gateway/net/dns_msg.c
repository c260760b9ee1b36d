// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DNS message parsing and building for the gateway resolver (see
 * dns_msg.h). Queries are parsed strictly: the question name must be plain
 * printable labels without compression, so a guest cannot hide data in
 * binary labels or make two parsers disagree about the name. The answer
 * builder only ever emits A/AAAA records and an OPT record, which may carry
 * an Extended DNS Error saying why a name was refused.
 */
#include <string.h>

#include "gateway/net/dns_msg.h"

#define DNS_F_QR 0x8000
#define DNS_F_AA 0x0400
#define DNS_F_TC 0x0200
#define DNS_F_RD 0x0100
#define DNS_F_RA 0x0080
#define DNS_WIRE_NAME_MAX 255

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static bool dns_label_char_ok(uint8_t c)
{
	/* Space, '.', '\\' and anything outside printable ASCII only exist in
	 * names built to carry data or to be read differently once printed. */
	return c > 0x20 && c < 0x7f && c != '.' && c != '\\';
}

static bool dns_host_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Reads the uncompressed question name at buf[*off]. */
static int dns_read_qname(const uint8_t *buf, size_t len, size_t *off, struct dns_query *q)
{
	size_t p = *off, wire = 0, out = 0;
	bool host = true;

	for (;;) {
		uint8_t l;

		if (p >= len)
			return -AGW_EPARSE;
		l = buf[p++];
		wire++;
		if (l == 0)
			break;
		if (l & 0xc0) /* pointer or extended label type: not in a question */
			return -AGW_EPARSE;
		if (len - p < l)
			return -AGW_EPARSE;
		wire += l;
		if (wire + 1 > DNS_WIRE_NAME_MAX)
			return -AGW_EPARSE;
		if (out)
			q->name[out++] = '.';
		for (uint8_t i = 0; i < l; i++) {
			uint8_t c = buf[p + i];

			if (!dns_label_char_ok(c))
				return -AGW_EPARSE;
			if (c >= 'A' && c <= 'Z')
				c = (uint8_t)(c - 'A' + 'a');
			if (!dns_host_char(c))
				host = false;
			q->name[out++] = (char)c;
		}
		p += l;
	}
	q->name[out] = '\0';
	q->name_is_hostname = host;
	*off = p;
	return 0;
}

/* Skips a possibly compressed owner name in the answer/authority/additional
 * sections without following pointers. */
static int dns_skip_name(const uint8_t *buf, size_t len, size_t *off, bool *is_root)
{
	size_t p = *off, wire = 0;

	*is_root = false;
	for (;;) {
		uint8_t l;

		if (p >= len)
			return -AGW_EPARSE;
		l = buf[p];
		if ((l & 0xc0) == 0xc0) {
			if (len - p < 2)
				return -AGW_EPARSE;
			*off = p + 2;
			return 0;
		}
		if (l & 0xc0)
			return -AGW_EPARSE;
		p++;
		wire++;
		if (l == 0) {
			*is_root = wire == 1;
			*off = p;
			return 0;
		}
		if (len - p < l)
			return -AGW_EPARSE;
		wire += l;
		if (wire + 1 > DNS_WIRE_NAME_MAX)
			return -AGW_EPARSE;
		p += l;
	}
}

int dns_parse_query(const uint8_t *buf, size_t len, struct dns_query *q)
{
	size_t off = DNS_HDR_LEN;
	unsigned qd, an, ns, ar;
	int ret;

	memset(q, 0, sizeof(*q));
	q->udp_size = DNS_UDP_MIN;
	if (!buf || len < DNS_HDR_LEN || len > DNS_TCP_MAX)
		return -AGW_EPARSE;
	q->id = get16(buf);
	q->flags = get16(buf + 2);
	if (q->flags & DNS_F_QR)
		return -AGW_EPARSE;
	q->opcode = (uint8_t)((q->flags >> 11) & 0xf);
	q->rd = (q->flags & DNS_F_RD) != 0;
	qd = get16(buf + 4);
	an = get16(buf + 6);
	ns = get16(buf + 8);
	ar = get16(buf + 10);
	if (qd != 1)
		return -AGW_EPARSE;
	ret = dns_read_qname(buf, len, &off, q);
	if (ret < 0)
		return ret;
	if (len - off < 4)
		return -AGW_EPARSE;
	q->qtype = get16(buf + off);
	q->qclass = get16(buf + off + 2);
	off += 4;
	q->question_end = off;

	/* Each record is at least 11 bytes, so the loop is bounded by len. */
	for (unsigned i = 0; i < an + ns + ar; i++) {
		bool root;
		uint16_t type, rdlen;

		ret = dns_skip_name(buf, len, &off, &root);
		if (ret < 0)
			return ret;
		if (len - off < 10)
			return -AGW_EPARSE;
		type = get16(buf + off);
		rdlen = get16(buf + off + 8);
		if (type == DNS_T_OPT) {
			/* RFC 6891: only in the additional section, once,
			 * owned by the root. */
			if (i < an + ns || q->has_opt || !root)
				return -AGW_EPARSE;
			q->has_opt = true;
			q->udp_size = AGW_MAX(get16(buf + off + 2), DNS_UDP_MIN);
		}
		off += 10;
		if (len - off < rdlen)
			return -AGW_EPARSE;
		off += rdlen;
	}
	/* Bytes after the last record are a second message or hidden data. */
	if (off != len)
		return -AGW_EPARSE;
	return 0;
}

/* Encodes a presentation name ("" = root) into wire form at out. */
static int dns_encode_name(const char *name, uint8_t *out, size_t cap, size_t *n)
{
	size_t nlen = strnlen(name, DNS_NAME_MAX + 1), p = 0, start = 0;

	if (nlen > DNS_NAME_MAX)
		return -AGW_EINVAL;
	if (nlen == 0) {
		if (cap < 1)
			return -AGW_ETOOBIG;
		out[0] = 0;
		*n = 1;
		return 0;
	}
	if (nlen + 2 > DNS_WIRE_NAME_MAX)
		return -AGW_EINVAL;
	if (cap < nlen + 2)
		return -AGW_ETOOBIG;
	while (start <= nlen) {
		const char *dot = memchr(name + start, '.', nlen - start);
		size_t l = (dot ? (size_t)(dot - name) : nlen) - start;

		if (l == 0 || l > 63)
			return -AGW_EINVAL;
		out[p++] = (uint8_t)l;
		memcpy(out + p, name + start, l);
		p += l;
		start += l + 1;
	}
	out[p++] = 0;
	*n = p;
	return 0;
}

int dns_ede_encode(const struct dns_ede *ede, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t tl = 0;

	*out_len = 0;
	if (!ede)
		return -AGW_EINVAL;
	if (ede->text)
		tl = strnlen(ede->text, DNS_EDE_TEXT_MAX);
	if (!out || cap < 6 + tl)
		return -AGW_ETOOBIG;
	put16(out, DNS_OPT_EDE);
	put16(out + 2, (uint16_t)(2 + tl));
	put16(out + 4, ede->code);
	for (size_t i = 0; i < tl; i++) {
		uint8_t c = (uint8_t)ede->text[i];

		out[6 + i] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	*out_len = 6 + tl;
	return 0;
}

int dns_build_response_ede(const struct dns_query *q, int rcode, const struct dns_rr *answers,
			   size_t n_answers, const struct dns_ede *ede, uint8_t *out, size_t cap,
			   size_t *out_len)
{
	static const size_t opt_len = 11;
	uint8_t edebuf[6 + DNS_EDE_TEXT_MAX];
	struct dns_ede bare;
	size_t off, qname_len, ans_len = 0, need, ede_len = 0;
	uint16_t flags;
	int ret;

	*out_len = 0;
	if (!q || !out || (n_answers && !answers) || rcode < 0 || rcode > 15)
		return -AGW_EINVAL;
	for (size_t i = 0; i < n_answers; i++) {
		if (answers[i].type == DNS_T_A)
			ans_len += 2 + 10 + 4;
		else if (answers[i].type == DNS_T_AAAA)
			ans_len += 2 + 10 + 16;
		else
			return -AGW_EINVAL;
	}
	if (cap < DNS_HDR_LEN)
		return -AGW_ETOOBIG;
	ret = dns_encode_name(q->name, out + DNS_HDR_LEN, cap - DNS_HDR_LEN, &qname_len);
	if (ret < 0)
		return ret;
	need = DNS_HDR_LEN + qname_len + 4 + (q->has_opt ? opt_len : 0);
	if (need > cap)
		return -AGW_ETOOBIG;
	if (q->has_opt && ede) {
		/* the text goes first when room is short, then the option */
		if (dns_ede_encode(ede, edebuf, sizeof(edebuf), &ede_len) == 0 &&
		    ede_len > cap - need) {
			bare.code = ede->code;
			bare.text = NULL;
			dns_ede_encode(&bare, edebuf, sizeof(edebuf), &ede_len);
		}
		if (ede_len > cap - need)
			ede_len = 0;
		need += ede_len;
	}
	flags = (uint16_t)(DNS_F_QR | ((q->opcode & 0xf) << 11) | DNS_F_RA | (rcode & 0xf));
	if (q->rd)
		flags |= DNS_F_RD;
	if (n_answers > 0xffff || ans_len > cap - need) {
		flags |= DNS_F_TC;
		n_answers = 0;
	}
	put16(out, q->id);
	put16(out + 2, flags);
	put16(out + 4, 1);
	put16(out + 6, (uint16_t)n_answers);
	put16(out + 8, 0);
	put16(out + 10, q->has_opt ? 1 : 0);
	off = DNS_HDR_LEN + qname_len;
	put16(out + off, q->qtype);
	put16(out + off + 2, q->qclass);
	off += 4;
	for (size_t i = 0; i < n_answers; i++) {
		uint16_t rdlen = answers[i].type == DNS_T_A ? 4 : 16;

		put16(out + off, 0xc000 | DNS_HDR_LEN);
		put16(out + off + 2, answers[i].type);
		put16(out + off + 4, DNS_CLASS_IN);
		put32(out + off + 6, answers[i].ttl);
		put16(out + off + 10, rdlen);
		memcpy(out + off + 12, answers[i].addr, rdlen);
		off += 12 + rdlen;
	}
	if (q->has_opt) {
		out[off] = 0;
		put16(out + off + 1, DNS_T_OPT);
		put16(out + off + 3, DNS_EDNS_SIZE);
		put32(out + off + 5, 0);
		put16(out + off + 9, (uint16_t)ede_len);
		memcpy(out + off + opt_len, edebuf, ede_len);
		off += opt_len + ede_len;
	}
	*out_len = off;
	return 0;
}

int dns_build_response(const struct dns_query *q, int rcode, const struct dns_rr *answers,
		       size_t n_answers, uint8_t *out, size_t cap, size_t *out_len)
{
	return dns_build_response_ede(q, rcode, answers, n_answers, NULL, out, cap, out_len);
}

int dns_build_error(const uint8_t *req, size_t req_len, int rcode, uint8_t *out, size_t cap,
		    size_t *out_len)
{
	uint16_t rflags, flags;

	*out_len = 0;
	if (!req || req_len < DNS_HDR_LEN)
		return -AGW_EPARSE;
	rflags = get16(req + 2);
	if (rflags & DNS_F_QR)
		return -AGW_EPARSE;
	if (rcode < 0 || rcode > 15)
		return -AGW_EINVAL;
	if (!out || cap < DNS_HDR_LEN)
		return -AGW_ETOOBIG;
	flags = (uint16_t)(DNS_F_QR | (rflags & (0xf << 11)) | (rflags & DNS_F_RD) | DNS_F_RA |
			   (rcode & 0xf));
	memcpy(out, req, 2);
	put16(out + 2, flags);
	memset(out + 4, 0, 8);
	*out_len = DNS_HDR_LEN;
	return 0;
}

size_t dns_udp_limit(const struct dns_query *q, size_t cap)
{
	size_t lim = DNS_UDP_MIN;

	/* Never above our own EDNS size: large UDP answers fragment, and
	 * fragments are what spoofing and middlebox drops feed on. */
	if (q && q->has_opt && q->udp_size > DNS_UDP_MIN)
		lim = AGW_MIN(q->udp_size, DNS_EDNS_SIZE);
	return AGW_MIN(lim, cap);
}

int dns_tcp_frame_len(const uint8_t *buf, size_t len, size_t *msg_len)
{
	if (!buf || len < 2)
		return -AGW_ETRUNC;
	*msg_len = get16(buf);
	return 0;
}
