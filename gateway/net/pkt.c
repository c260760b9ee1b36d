// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Raw IPv4/IPv6 packet summariser for NFLOG drop events: walks the IP
 * header (IPv4 options, a bounded chain of IPv6 extension headers) to the
 * upper-layer header and records protocol, addresses, ports and ICMP type.
 * Every read is checked against the captured length; NFLOG may hand over
 * only the first bytes of a packet, so a short upper-layer header is a
 * partial result rather than an error.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "gateway/net/pkt.h"

#define PKT_IPV4_MIN 20
#define PKT_IPV6_HDR 40

static uint16_t pkt_get16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static bool pkt_has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE ||
	       proto == IPPROTO_SCTP || proto == IPPROTO_DCCP;
}

/* Upper layer at l4[0..len): ports or ICMP type. */
static int pkt_l4(const uint8_t *l4, size_t len, struct pkt_info *pi)
{
	if (pi->fragment)
		return 0;
	if (pkt_has_ports(pi->proto)) {
		if (len < 4)
			return -AGW_ETRUNC;
		pi->sport = pkt_get16(l4);
		pi->dport = pkt_get16(l4 + 2);
		pi->has_ports = true;
		if (pi->family == AF_INET) {
			pi->src.sin.sin_port = htons(pi->sport);
			pi->dst.sin.sin_port = htons(pi->dport);
		} else {
			pi->src.sin6.sin6_port = htons(pi->sport);
			pi->dst.sin6.sin6_port = htons(pi->dport);
		}
		if (pi->proto == IPPROTO_TCP && len >= 14)
			pi->tcp_flags = l4[13];
		return 0;
	}
	if ((pi->family == AF_INET && pi->proto == IPPROTO_ICMP) ||
	    (pi->family == AF_INET6 && pi->proto == IPPROTO_ICMPV6)) {
		if (len < 2)
			return -AGW_ETRUNC;
		pi->icmp_type = l4[0];
		pi->icmp_code = l4[1];
		pi->has_icmp = true;
	}
	return 0;
}

static int pkt_ipv4(const uint8_t *pkt, size_t len, struct pkt_info *pi)
{
	size_t ihl, end;
	uint16_t frag;

	if (len < PKT_IPV4_MIN)
		return -AGW_EPARSE;
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	if (ihl < PKT_IPV4_MIN || ihl > len)
		return -AGW_EPARSE;
	pi->ip_len = pkt_get16(pkt + 2);
	if (pi->ip_len < ihl)
		return -AGW_EPARSE;
	pi->family = AF_INET;
	pi->proto = pkt[9];
	pi->src.sin.sin_family = AF_INET;
	pi->dst.sin.sin_family = AF_INET;
	memcpy(&pi->src.sin.sin_addr, pkt + 12, 4);
	memcpy(&pi->dst.sin.sin_addr, pkt + 16, 4);
	frag = pkt_get16(pkt + 6);
	if (frag & 0x1fff)
		pi->fragment = true;
	/* A capture may be shorter than the packet; never read past either. */
	end = AGW_MIN(len, (size_t)pi->ip_len);
	return pkt_l4(pkt + ihl, end - ihl, pi);
}

static int pkt_ipv6(const uint8_t *pkt, size_t len, struct pkt_info *pi)
{
	size_t off = PKT_IPV6_HDR, end, hlen;
	uint8_t nh;
	int n;

	if (len < PKT_IPV6_HDR)
		return -AGW_EPARSE;
	pi->ip_len = (uint32_t)pkt_get16(pkt + 4) + PKT_IPV6_HDR;
	pi->family = AF_INET6;
	pi->src.sin6.sin6_family = AF_INET6;
	pi->dst.sin6.sin6_family = AF_INET6;
	memcpy(&pi->src.sin6.sin6_addr, pkt + 8, 16);
	memcpy(&pi->dst.sin6.sin6_addr, pkt + 24, 16);
	end = AGW_MIN(len, (size_t)pi->ip_len);
	nh = pkt[6];
	for (n = 0;; n++) {
		const uint8_t *h = pkt + off;

		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS &&
		    nh != IPPROTO_FRAGMENT && nh != IPPROTO_AH)
			break;
		if (n >= PKT_MAX_EXT_HDRS) {
			memset(pi, 0, sizeof(*pi));
			return -AGW_EPARSE;
		}
		/* The extension header's own length field is needed to go on. */
		if (end < off + 8) {
			pi->proto = nh;
			return -AGW_ETRUNC;
		}
		if (nh == IPPROTO_FRAGMENT) {
			hlen = 8;
			if (pkt_get16(h + 2) & 0xfff8)
				pi->fragment = true;
		} else if (nh == IPPROTO_AH) {
			hlen = ((size_t)h[1] + 2) * 4;
		} else {
			hlen = ((size_t)h[1] + 1) * 8;
		}
		nh = h[0];
		if (end < off + hlen) {
			pi->proto = nh;
			return -AGW_ETRUNC;
		}
		off += hlen;
		if (pi->fragment)
			break;
	}
	pi->proto = nh;
	return pkt_l4(pkt + off, end - off, pi);
}

int pkt_summarize(const uint8_t *pkt, size_t len, struct pkt_info *pi)
{
	int err;

	if (!pi)
		return -AGW_EINVAL;
	memset(pi, 0, sizeof(*pi));
	if (!pkt || len < 1)
		return -AGW_EPARSE;
	switch (pkt[0] >> 4) {
	case 4:
		err = pkt_ipv4(pkt, len, pi);
		break;
	case 6:
		err = pkt_ipv6(pkt, len, pi);
		break;
	default:
		err = -AGW_EPARSE;
		break;
	}
	if (err == -AGW_EPARSE)
		memset(pi, 0, sizeof(*pi));
	return err;
}

const char *pkt_proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	case IPPROTO_UDPLITE:
		return "udplite";
	case IPPROTO_SCTP:
		return "sctp";
	case IPPROTO_DCCP:
		return "dccp";
	case IPPROTO_ESP:
		return "esp";
	case IPPROTO_AH:
		return "ah";
	case IPPROTO_GRE:
		return "gre";
	default:
		return "other";
	}
}

static int pkt_format_addr(const struct pkt_info *pi, const union pkt_addr *a, uint16_t port,
			   char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];
	int n;

	if (!out || cap == 0)
		return -AGW_ETOOBIG;
	out[0] = '\0';
	if (pi->family == AF_INET) {
		if (!inet_ntop(AF_INET, &a->sin.sin_addr, ip, sizeof(ip)))
			return -AGW_EINVAL;
		n = pi->has_ports ? snprintf(out, cap, "%s:%u", ip, port)
				  : snprintf(out, cap, "%s", ip);
	} else if (pi->family == AF_INET6) {
		if (!inet_ntop(AF_INET6, &a->sin6.sin6_addr, ip, sizeof(ip)))
			return -AGW_EINVAL;
		n = pi->has_ports ? snprintf(out, cap, "[%s]:%u", ip, port)
				  : snprintf(out, cap, "%s", ip);
	} else {
		return -AGW_EINVAL;
	}
	if (n < 0 || (size_t)n >= cap) {
		out[0] = '\0';
		return -AGW_ETOOBIG;
	}
	return 0;
}

int pkt_format_dst(const struct pkt_info *pi, char *out, size_t cap)
{
	return pkt_format_addr(pi, &pi->dst, pi->dport, out, cap);
}

int pkt_format_src(const struct pkt_info *pi, char *out, size_t cap)
{
	return pkt_format_addr(pi, &pi->src, pi->sport, out, cap);
}

int pkt_format_json(const struct pkt_info *pi, char *out, size_t cap)
{
	char src[PKT_ADDR_STRLEN], dst[PKT_ADDR_STRLEN], icmp[48] = "", flags[16] = "";
	int n, err;

	if (!out || cap == 0)
		return -AGW_ETOOBIG;
	out[0] = '\0';
	err = pkt_format_src(pi, src, sizeof(src));
	if (err < 0)
		goto out;
	err = pkt_format_dst(pi, dst, sizeof(dst));
	if (err < 0)
		goto out;
	/* Both fit: at most 2 * 3 digits plus the keys. */
	if (pi->has_icmp)
		snprintf(icmp, sizeof(icmp), ",\"icmp_type\":%u,\"icmp_code\":%u", pi->icmp_type,
			 pi->icmp_code);
	if (pi->has_ports && pi->proto == IPPROTO_TCP)
		snprintf(flags, sizeof(flags), ",\"flags\":%u", pi->tcp_flags);
	n = snprintf(
	    out, cap,
	    "{\"proto\":\"%s\",\"proto_num\":%u,\"src\":\"%s\",\"dst\":\"%s\",\"len\":%u%s%s%s}",
	    pkt_proto_name(pi->proto), pi->proto, src, dst, pi->ip_len, icmp, flags,
	    pi->fragment ? ",\"fragment\":true" : "");
	if (n < 0 || (size_t)n >= cap)
		err = -AGW_ETOOBIG;
out:
	if (err < 0)
		out[0] = '\0';
	return err;
}
