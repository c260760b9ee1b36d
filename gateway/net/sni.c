// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * TLS ClientHello parser (see sni.h). The handshake message is reassembled
 * from as many handshake records as the client split it into, then walked
 * with bounds checks at every length field. Anything ambiguous (duplicate
 * extensions, two host names, trailing bytes inside a length-delimited
 * block) is rejected, because the proxy's decision must be about the same
 * name the upstream server will act on.
 */
#include <string.h>

#include "gateway/net/sni.h"

#define TLS_REC_HANDSHAKE 0x16
#define TLS_REC_MAX 16384
#define TLS_HS_CLIENT_HELLO 1
#define TLS_EXT_SNI 0
#define TLS_EXT_ALPN 16

struct sni_rd {
	const uint8_t *p;
	size_t left;
};

static bool rd_u8(struct sni_rd *r, uint8_t *v)
{
	if (r->left < 1)
		return false;
	*v = r->p[0];
	r->p++;
	r->left--;
	return true;
}

static bool rd_u16(struct sni_rd *r, uint16_t *v)
{
	if (r->left < 2)
		return false;
	*v = (uint16_t)((r->p[0] << 8) | r->p[1]);
	r->p += 2;
	r->left -= 2;
	return true;
}

/* Splits off a sub-reader of n bytes. */
static bool rd_sub(struct sni_rd *r, size_t n, struct sni_rd *sub)
{
	if (r->left < n)
		return false;
	sub->p = r->p;
	sub->left = n;
	r->p += n;
	r->left -= n;
	return true;
}

bool sni_looks_like_tls(const uint8_t *buf, size_t len)
{
	if (!buf || len < 1 || buf[0] != TLS_REC_HANDSHAKE)
		return false;
	return len < 2 || buf[1] == 0x03;
}

int sni_sniff(const uint8_t *buf, size_t len)
{
	if (!buf || len == 0)
		return -AGW_ETRUNC;
	if (buf[0] >= 20 && buf[0] <= 24) {
		/* change_cipher_spec, alert, handshake, application_data,
		 * heartbeat: any of them first is TLS, if version 3.x */
		if (len < 2)
			return -AGW_ETRUNC;
		return buf[1] == 0x03;
	}
	if (buf[0] & 0x80) {
		/* SSLv2-format ClientHello: 2-byte length, msg type 1. */
		if (len < 3)
			return -AGW_ETRUNC;
		return buf[2] == 0x01;
	}
	return 0;
}

static bool sni_all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

static bool sni_hex_number(const char *s, size_t n)
{
	if (n < 2 || s[0] != '0' || s[1] != 'x')
		return false;
	for (size_t i = 2; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Validates and lowercases a host_name into out[cap]. */
static int sni_copy_host(const uint8_t *name, size_t n, char *out, size_t cap)
{
	size_t label = 0, last_start = 0;

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > SNI_HOST_MAX)
		return -AGW_EPARSE;
	if (n + 1 > cap)
		return -AGW_ETOOBIG;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = name[i];

		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0)
				return -AGW_EPARSE;
			label = 0;
			last_start = i + 1;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
			if (++label > 63)
				return -AGW_EPARSE;
		} else {
			return -AGW_EPARSE;
		}
		out[i] = (char)c;
	}
	if (label == 0)
		return -AGW_EPARSE;
	out[n] = '\0';
	/* RFC 6066: literal IP addresses are not permitted. A numeric last
	 * label also catches inet_aton forms like 2130706433 or 0x7f.1. */
	if (sni_all_digits(out + last_start, n - last_start) ||
	    sni_hex_number(out + last_start, n - last_start))
		return -AGW_EPARSE;
	return 0;
}

static int sni_ext_server_name(struct sni_rd ext, struct sni_info *info, bool *have)
{
	struct sni_rd list;
	uint16_t list_len;

	if (!rd_u16(&ext, &list_len) || list_len != ext.left || list_len == 0)
		return -AGW_EPARSE;
	if (!rd_sub(&ext, list_len, &list))
		return -AGW_EPARSE;
	while (list.left) {
		uint8_t type;
		uint16_t nlen;
		struct sni_rd name;
		int ret;

		if (!rd_u8(&list, &type) || !rd_u16(&list, &nlen) || !rd_sub(&list, nlen, &name))
			return -AGW_EPARSE;
		if (type != 0) /* unknown name types are skipped (RFC 6066) */
			continue;
		if (*have)
			return -AGW_EPARSE;
		ret = sni_copy_host(name.p, name.left, info->host, sizeof(info->host));
		if (ret < 0)
			return -AGW_EPARSE;
		*have = true;
	}
	return 0;
}

static int sni_ext_alpn(struct sni_rd ext, struct sni_info *info)
{
	struct sni_rd list;
	uint16_t list_len;
	size_t out = 0;
	bool full = false;

	if (!rd_u16(&ext, &list_len) || list_len != ext.left || list_len < 2)
		return -AGW_EPARSE;
	if (!rd_sub(&ext, list_len, &list))
		return -AGW_EPARSE;
	while (list.left) {
		uint8_t plen;
		struct sni_rd proto;
		size_t need;

		if (!rd_u8(&list, &plen) || plen == 0 || !rd_sub(&list, plen, &proto))
			return -AGW_EPARSE;
		need = (out ? 1 : 0) + plen;
		if (full || out + need + 1 > sizeof(info->alpn)) {
			full = true; /* keep validating the rest */
			continue;
		}
		if (out)
			info->alpn[out++] = ',';
		for (size_t i = 0; i < plen; i++) {
			uint8_t c = proto.p[i];

			info->alpn[out++] = (c > 0x20 && c < 0x7f && c != ',') ? (char)c : '?';
		}
		info->alpn[out] = '\0';
	}
	return 0;
}

/* Walks a complete ClientHello body (without the 4-byte handshake header). */
static int sni_client_hello(const uint8_t *body, size_t len, struct sni_info *info)
{
	struct sni_rd r = {body, len}, sub, exts;
	uint64_t seen[65536 / 64];
	uint16_t ver, n16, ext_total;
	uint8_t n8;
	bool have_sni = false;

	if (!rd_u16(&r, &ver) || (ver >> 8) != 0x03)
		return -AGW_EPARSE;
	info->legacy_version = ver;
	if (!rd_sub(&r, 32, &sub)) /* random */
		return -AGW_EPARSE;
	if (!rd_u8(&r, &n8) || n8 > 32 || !rd_sub(&r, n8, &sub)) /* session id */
		return -AGW_EPARSE;
	if (!rd_u16(&r, &n16) || n16 < 2 || (n16 & 1) || !rd_sub(&r, n16, &sub))
		return -AGW_EPARSE;
	if (!rd_u8(&r, &n8) || n8 < 1 || !rd_sub(&r, n8, &sub)) /* compression */
		return -AGW_EPARSE;
	if (r.left == 0)
		return -AGW_ENOTFOUND; /* no extensions at all: valid, no SNI */
	if (!rd_u16(&r, &ext_total) || ext_total != r.left || !rd_sub(&r, ext_total, &exts))
		return -AGW_EPARSE;

	memset(seen, 0, sizeof(seen));
	while (exts.left) {
		uint16_t type, elen;
		struct sni_rd ext;
		int ret = 0;

		if (!rd_u16(&exts, &type) || !rd_u16(&exts, &elen) || !rd_sub(&exts, elen, &ext))
			return -AGW_EPARSE;
		if (seen[type / 64] & (1ULL << (type % 64)))
			return -AGW_EPARSE; /* RFC 8446 4.2: duplicates are fatal */
		seen[type / 64] |= 1ULL << (type % 64);
		if (type == TLS_EXT_SNI)
			ret = sni_ext_server_name(ext, info, &have_sni);
		else if (type == TLS_EXT_ALPN)
			ret = sni_ext_alpn(ext, info);
		else if (type == SNI_EXT_ECH)
			info->has_ech = true;
		if (ret < 0)
			return ret;
	}
	return have_sni ? 0 : -AGW_ENOTFOUND;
}

int sni_parse_info(const uint8_t *buf, size_t len, struct sni_info *info)
{
	uint8_t hs[4 + SNI_HELLO_MAX];
	size_t hs_len = 0, off = 0, msg_len = 0;
	bool have_len = false;

	memset(info, 0, sizeof(*info));
	if (!buf)
		return -AGW_EPARSE;
	if (len == 0)
		return -AGW_ETRUNC;
	if (!sni_looks_like_tls(buf, len))
		return -AGW_EPARSE;

	/* Concatenate handshake record payloads until the ClientHello is
	 * complete; every record must be a handshake record. */
	for (;;) {
		size_t rec_len, take;

		if (len - off < 5) {
			/* Check what is there so garbage fails early. */
			if (len > off && buf[off] != TLS_REC_HANDSHAKE)
				return -AGW_EPARSE;
			if (len - off > 1 && buf[off + 1] != 0x03)
				return -AGW_EPARSE;
			return -AGW_ETRUNC;
		}
		if (buf[off] != TLS_REC_HANDSHAKE || buf[off + 1] != 0x03)
			return -AGW_EPARSE;
		rec_len = (size_t)buf[off + 3] << 8 | buf[off + 4];
		if (rec_len == 0 || rec_len > TLS_REC_MAX)
			return -AGW_EPARSE;
		off += 5;
		take = AGW_MIN(rec_len, len - off);
		if (have_len)
			take = AGW_MIN(take, 4 + msg_len - hs_len);
		else
			take = AGW_MIN(take, sizeof(hs) - hs_len);
		memcpy(hs + hs_len, buf + off, take);
		hs_len += take;
		if (!have_len && hs_len >= 4) {
			if (hs[0] != TLS_HS_CLIENT_HELLO)
				return -AGW_EPARSE;
			msg_len = (size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3];
			if (msg_len > SNI_HELLO_MAX)
				return -AGW_EPARSE;
			have_len = true;
			if (hs_len > 4 + msg_len)
				hs_len = 4 + msg_len; /* later messages: not ours */
		} else if (hs_len >= 1 && hs[0] != TLS_HS_CLIENT_HELLO) {
			return -AGW_EPARSE;
		}
		if (have_len && hs_len == 4 + msg_len)
			break;
		if (rec_len > len - off)
			return -AGW_ETRUNC;
		off += rec_len;
	}
	return sni_client_hello(hs + 4, msg_len, info);
}

int sni_parse(const uint8_t *buf, size_t len, char *host, size_t cap)
{
	struct sni_info info;
	size_t n;
	int ret;

	if (host && cap)
		host[0] = '\0';
	ret = sni_parse_info(buf, len, &info);
	if (ret < 0)
		return ret;
	n = strlen(info.host);
	if (!host || n + 1 > cap)
		return -AGW_ETOOBIG;
	memcpy(host, info.host, n + 1);
	return 0;
}
