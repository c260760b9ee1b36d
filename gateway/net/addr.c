// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Address classification for SSRF and DNS-rebinding protection, and
 * address:port formatting for audit targets (see addr.h). Every IPv6 form
 * that embeds or translates to an IPv4 address is either classified by the
 * embedded address or treated as reserved, so a private IPv4 target cannot
 * be reached by spelling it as IPv6.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "gateway/net/addr.h"

static enum addr_class addr_classify_v4(const uint8_t a[4])
{
	uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];

	if (v == 0xffffffffu)
		return ADDR_BROADCAST;
	if (a[0] == 0)
		return ADDR_UNSPECIFIED;
	if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168))
		return ADDR_PRIVATE;
	if (a[0] == 127)
		return ADDR_LOOPBACK;
	if (a[0] == 169 && a[1] == 254)
		return ADDR_LINKLOCAL;
	if (a[0] == 100 && (a[1] & 0xc0) == 64)
		return ADDR_CGNAT;
	if ((a[0] & 0xf0) == 224)
		return ADDR_MULTICAST;
	if ((a[0] & 0xf0) == 240)
		return ADDR_RESERVED;
	if (a[0] == 192 && a[1] == 0 && a[2] == 0)
		return ADDR_RESERVED; /* IETF protocol assignments */
	if (a[0] == 198 && (a[1] & 0xfe) == 18)
		return ADDR_RESERVED; /* benchmarking */
	/* 192.0.2/24, 198.51.100/24, 203.0.113/24 stay PUBLIC: see addr.h. */
	return ADDR_PUBLIC;
}

static bool addr_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static enum addr_class addr_classify_v6(const uint8_t a[16])
{
	static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (addr_zero(a, 16))
		return ADDR_UNSPECIFIED;
	if (addr_zero(a, 15) && a[15] == 1)
		return ADDR_LOOPBACK;
	if (memcmp(a, mapped, 12) == 0)
		return ADDR_V4MAPPED;
	if (addr_zero(a, 12))
		return ADDR_RESERVED; /* deprecated IPv4-compatible ::/96 */
	if (memcmp(a, nat64, 12) == 0)
		return addr_classify_v4(a + 12);
	if (a[0] == 0x20 && a[1] == 0x02)
		return addr_classify_v4(a + 2); /* 6to4 2002:V4ADDR::/48 */
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0)
		return ADDR_RESERVED; /* Teredo tunnels to an arbitrary IPv4 */
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return ADDR_LINKLOCAL;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
		return ADDR_RESERVED; /* deprecated site-local fec0::/10 */
	if ((a[0] & 0xfe) == 0xfc)
		return ADDR_ULA;
	if (a[0] == 0xff)
		return ADDR_MULTICAST;
	if ((a[0] & 0xe0) != 0x20)
		return ADDR_RESERVED; /* only 2000::/3 is global unicast today */
	/* 2001:db8::/32 stays PUBLIC: see addr.h. */
	return ADDR_PUBLIC;
}

enum addr_class addr_classify(const struct sockaddr *sa)
{
	if (!sa)
		return ADDR_RESERVED;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

		return addr_classify_v4((const uint8_t *)&in->sin_addr);
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

		return addr_classify_v6(in6->sin6_addr.s6_addr);
	}
	return ADDR_RESERVED;
}

const char *addr_class_str(enum addr_class c)
{
	switch (c) {
	case ADDR_PUBLIC:
		return "public";
	case ADDR_PRIVATE:
		return "private";
	case ADDR_LOOPBACK:
		return "loopback";
	case ADDR_LINKLOCAL:
		return "link-local";
	case ADDR_CGNAT:
		return "cgnat";
	case ADDR_MULTICAST:
		return "multicast";
	case ADDR_UNSPECIFIED:
		return "unspecified";
	case ADDR_V4MAPPED:
		return "v4-mapped";
	case ADDR_BROADCAST:
		return "broadcast";
	case ADDR_RESERVED:
		return "reserved";
	case ADDR_ULA:
		return "ula";
	case ADDR_GATEWAY:
		return "gateway host";
	}
	return "unknown";
}

int addr_format(const struct sockaddr *sa, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];
	uint16_t port;
	int n;

	if (!out || cap == 0)
		return -AGW_ETOOBIG;
	out[0] = '\0';
	if (!sa)
		return -AGW_EINVAL;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

		if (!inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip)))
			return -AGW_EINVAL;
		port = ntohs(in->sin_port);
		n = port ? snprintf(out, cap, "%s:%u", ip, port) : snprintf(out, cap, "%s", ip);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

		if (!inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip)))
			return -AGW_EINVAL;
		port = ntohs(in6->sin6_port);
		n = port ? snprintf(out, cap, "[%s]:%u", ip, port) : snprintf(out, cap, "[%s]", ip);
	} else {
		return -AGW_EINVAL;
	}
	if (n < 0 || (size_t)n >= cap) {
		out[0] = '\0';
		return -AGW_ETOOBIG;
	}
	return 0;
}
