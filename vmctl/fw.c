// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The per-sandbox nftables table (see fw.h for the rules): expressions are
 * assembled with libnftnl, the whole table goes to the kernel in one
 * nfnetlink batch, and every message asks for an ack so that the first
 * kernel error is returned to the caller as -errno. The batch starts with
 * "add table; delete table", which removes a stale table of the same name
 * whether or not it exists, inside the same transaction as the new one.
 */
#include <netinet/in.h> /* before the linux/ headers, which it guards */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>

#include "log.h"
#include "vmctl/fw.h"

#define FW_RECV_TIMEOUT_S 5
/* Hook priorities as nft names them: dstnat and filter. */
#define FW_PRIO_DSTNAT (-100)
#define FW_PRIO_FILTER 0
#define FW_TABLE_MAX (sizeof(FW_TABLE_PREFIX) + FW_NAME_MAX)

/* A rule under construction; the first allocation failure sticks. */
struct fw_rule {
	struct nftnl_rule *r;
	bool oom;
};

/* The batch under construction and what the kernel must acknowledge. */
struct fw_batch {
	struct nftnl_batch *b;
	uint32_t seq;
	uint32_t acks; /* messages sent with NLM_F_ACK */
	const char *table;
};

bool fw_name_valid(const char *name)
{
	size_t i;

	if (!name)
		return false;
	for (i = 0; name[i]; i++) {
		char ch = name[i];

		if (i >= FW_NAME_MAX)
			return false;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
		      ch == '-'))
			return false;
	}
	return i > 0;
}

static bool fw_iface_valid(const char *iface)
{
	size_t n;

	if (!iface)
		return false;
	n = strnlen(iface, IFNAMSIZ);
	if (n == 0 || n >= IFNAMSIZ)
		return false;
	for (size_t i = 0; i < n; i++)
		if (iface[i] == '/' || iface[i] <= ' ' || iface[i] == 0x7f)
			return false;
	return true;
}

static int fw_table_name(const char *name, char *out, size_t cap)
{
	int n;

	if (!fw_name_valid(name))
		return -AGW_EINVAL;
	n = snprintf(out, cap, "%s%s", FW_TABLE_PREFIX, name);
	if (n < 0 || (size_t)n >= cap)
		return -AGW_ETOOBIG;
	return 0;
}

int fw_log_prefix(const char *name, const char *why, char *out, size_t cap)
{
	int n;

	if (!out || cap == 0)
		return -AGW_ETOOBIG;
	out[0] = '\0';
	if (!fw_name_valid(name) || !why)
		return -AGW_EINVAL;
	n = snprintf(out, cap, "%s%s:%s", FW_LOG_PREFIX, name, why);
	if (n < 0 || (size_t)n >= cap || (size_t)n >= FW_PREFIX_MAX) {
		out[0] = '\0';
		return -AGW_ETOOBIG;
	}
	return 0;
}

/* ---- expressions ---- */

static void fw_add(struct fw_rule *fr, struct nftnl_expr *e)
{
	if (!e) {
		fr->oom = true;
		return;
	}
	nftnl_rule_add_expr(fr->r, e);
}

static struct nftnl_expr *fw_expr(const char *kind)
{
	return nftnl_expr_alloc(kind);
}

static void fw_meta(struct fw_rule *fr, uint32_t key)
{
	struct nftnl_expr *e = fw_expr("meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
	fw_add(fr, e);
}

static void fw_cmp(struct fw_rule *fr, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = fw_expr("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	fw_add(fr, e);
}

static void fw_payload(struct fw_rule *fr, uint32_t base, uint32_t offset, uint32_t len)
{
	struct nftnl_expr *e = fw_expr("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	}
	fw_add(fr, e);
}

/* reg1 = reg1 & mask (32 bits, host order), then reg1 != 0. */
static void fw_bits_set(struct fw_rule *fr, uint32_t mask)
{
	struct nftnl_expr *e = fw_expr("bitwise");
	uint32_t zero = 0;

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(uint32_t));
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(zero));
	}
	fw_add(fr, e);
	fw_cmp(fr, NFT_CMP_NEQ, &zero, sizeof(zero));
}

static void fw_ifname(struct fw_rule *fr, uint32_t key, const char *iface)
{
	fw_meta(fr, key);
	/* The NUL is compared too, so "tap1" does not match "tap10". */
	fw_cmp(fr, NFT_CMP_EQ, iface, (uint32_t)strlen(iface) + 1);
}

static void fw_nfproto(struct fw_rule *fr, uint8_t proto)
{
	fw_meta(fr, NFT_META_NFPROTO);
	fw_cmp(fr, NFT_CMP_EQ, &proto, 1);
}

static void fw_l4proto(struct fw_rule *fr, uint8_t proto)
{
	fw_meta(fr, NFT_META_L4PROTO);
	fw_cmp(fr, NFT_CMP_EQ, &proto, 1);
}

static void fw_dport(struct fw_rule *fr, uint16_t port)
{
	uint16_t p = htons(port);

	fw_payload(fr, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
	fw_cmp(fr, NFT_CMP_EQ, &p, sizeof(p));
}

/* ip saddr (offset 12) or daddr (offset 16) compared with a. */
static void fw_ipaddr(struct fw_rule *fr, uint32_t offset, uint32_t op, struct in_addr a)
{
	fw_payload(fr, NFT_PAYLOAD_NETWORK_HEADER, offset, 4);
	fw_cmp(fr, op, &a.s_addr, 4);
}

static void fw_ct(struct fw_rule *fr, uint32_t key, uint32_t mask)
{
	struct nftnl_expr *e = fw_expr("ct");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
	fw_add(fr, e);
	fw_bits_set(fr, mask);
}

/* IPv4 to the gateway's own address, that protocol, that destination port. */
static void fw_to_gw(struct fw_rule *fr, struct in_addr gw, uint8_t proto, uint16_t port)
{
	fw_nfproto(fr, NFPROTO_IPV4);
	fw_ipaddr(fr, 16, NFT_CMP_EQ, gw);
	fw_l4proto(fr, proto);
	fw_dport(fr, port);
}

static void fw_daddr_not_local(struct fw_rule *fr)
{
	struct nftnl_expr *e = fw_expr("fib");
	uint32_t local = RTN_LOCAL;

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
	}
	fw_add(fr, e);
	fw_cmp(fr, NFT_CMP_NEQ, &local, sizeof(local));
}

static void fw_counter(struct fw_rule *fr)
{
	fw_add(fr, fw_expr("counter"));
}

static void fw_verdict(struct fw_rule *fr, uint32_t verdict)
{
	struct nftnl_expr *e = fw_expr("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, verdict);
	}
	fw_add(fr, e);
}

static void fw_log(struct fw_rule *fr, uint16_t group, const char *prefix)
{
	struct nftnl_expr *e = fw_expr("log");

	if (e) {
		nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, group);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOG_SNAPLEN, FW_LOG_SNAPLEN);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, prefix);
	}
	fw_add(fr, e);
}

static void fw_redirect(struct fw_rule *fr, uint16_t port)
{
	struct nftnl_expr *e = fw_expr("immediate");
	uint16_t p = htons(port);

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
		nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &p, sizeof(p));
	}
	fw_add(fr, e);
	e = fw_expr("redir");
	if (e)
		nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_REG_PROTO_MIN, NFT_REG_1);
	fw_add(fr, e);
}

/* ---- batch ---- */

/* Moves past the message just written; a new page when this one is full. */
static int fw_batch_msg_done(struct fw_batch *fb)
{
	fb->acks++;
	return nftnl_batch_update(fb->b) < 0 ? -AGW_ENOMEM : 0;
}

static int fw_batch_table(struct fw_batch *fb, uint16_t type, uint16_t flags)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (!t)
		return -AGW_ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, fb->table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nlh = nftnl_table_nlmsg_build_hdr(nftnl_batch_buffer(fb->b), type, NFPROTO_INET,
					  flags | NLM_F_ACK, fb->seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	return fw_batch_msg_done(fb);
}

static int fw_batch_chain(struct fw_batch *fb, const char *name, const char *type, uint32_t hook,
			  int32_t prio)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (!c)
		return -AGW_ENOMEM;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, fb->table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	nlh = nftnl_chain_nlmsg_build_hdr(nftnl_batch_buffer(fb->b), NFT_MSG_NEWCHAIN, NFPROTO_INET,
					  NLM_F_CREATE | NLM_F_ACK, fb->seq++);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	return fw_batch_msg_done(fb);
}

static int fw_rule_begin(struct fw_rule *fr, const struct fw_batch *fb, const char *chain)
{
	fr->oom = false;
	fr->r = nftnl_rule_alloc();
	if (!fr->r)
		return -AGW_ENOMEM;
	nftnl_rule_set_str(fr->r, NFTNL_RULE_TABLE, fb->table);
	nftnl_rule_set_str(fr->r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(fr->r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	return 0;
}

/* Appends the finished rule to the batch and frees it. */
static int fw_rule_end(struct fw_rule *fr, struct fw_batch *fb)
{
	struct nlmsghdr *nlh;
	int err = 0;

	if (fr->oom) {
		err = -AGW_ENOMEM;
		goto out;
	}
	nlh = nftnl_rule_nlmsg_build_hdr(nftnl_batch_buffer(fb->b), NFT_MSG_NEWRULE, NFPROTO_INET,
					 NLM_F_APPEND | NLM_F_CREATE | NLM_F_ACK, fb->seq++);
	nftnl_rule_nlmsg_build_payload(nlh, fr->r);
	err = fw_batch_msg_done(fb);
out:
	nftnl_rule_free(fr->r);
	fr->r = NULL;
	return err;
}

/* Reads acks until `want` have arrived; returns the first kernel error. */
static int fw_recv_acks(struct mnl_socket *nl, uint32_t want, bool *got_object)
{
	char buf[16384];
	uint32_t got = 0;
	int first_err = 0;

	while (got < want) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		struct nlmsghdr *nlh;
		int len;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return first_err ? first_err : -ETIMEDOUT;
			return first_err ? first_err : -errno;
		}
		len = (int)n;
		for (nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
					return first_err ? first_err : -AGW_EPROTO;
				got++;
				if (e->error < 0 && first_err == 0)
					first_err = e->error;
			} else if (nlh->nlmsg_type != NLMSG_NOOP && nlh->nlmsg_type != NLMSG_DONE) {
				if (got_object)
					*got_object = true;
			}
		}
	}
	return first_err;
}

static int fw_open(struct mnl_socket **out)
{
	struct mnl_socket *nl;
	struct timeval tv = {.tv_sec = FW_RECV_TIMEOUT_S};
	int one = 1, err;

	*out = NULL;
	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		mnl_socket_close(nl);
		return err;
	}
	/* Acks without the echoed request keep replies small; a timeout
	 * guards against a kernel that answers fewer messages than sent. */
	(void)mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	(void)setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	*out = nl;
	return 0;
}

static int fw_batch_send(struct fw_batch *fb)
{
	struct mnl_socket *nl = NULL;
	struct iovec iov[64];
	struct sockaddr_nl snl = {.nl_family = AF_NETLINK};
	struct msghdr msg = {0};
	int iovlen, err;

	iovlen = nftnl_batch_iovec_len(fb->b);
	if (iovlen <= 0 || (size_t)iovlen > AGW_ARRAY_LEN(iov))
		return -AGW_ETOOBIG;
	nftnl_batch_iovec(fb->b, iov, (uint32_t)iovlen);
	err = fw_open(&nl);
	if (err < 0)
		goto out;
	msg.msg_name = &snl;
	msg.msg_namelen = sizeof(snl);
	msg.msg_iov = iov;
	msg.msg_iovlen = (size_t)iovlen;
	if (sendmsg(mnl_socket_get_fd(nl), &msg, 0) < 0) {
		err = -errno;
		goto out;
	}
	err = fw_recv_acks(nl, fb->acks, NULL);
out:
	if (nl)
		mnl_socket_close(nl);
	return err;
}

static int fw_batch_init(struct fw_batch *fb, const char *table)
{
	memset(fb, 0, sizeof(*fb));
	fb->b = nftnl_batch_alloc(MNL_SOCKET_BUFFER_SIZE, MNL_SOCKET_BUFFER_SIZE);
	if (!fb->b)
		return -AGW_ENOMEM;
	fb->seq = (uint32_t)time(NULL);
	fb->table = table;
	nftnl_batch_begin(nftnl_batch_buffer(fb->b), fb->seq++);
	return nftnl_batch_update(fb->b) < 0 ? -AGW_ENOMEM : 0;
}

static int fw_batch_finish(struct fw_batch *fb)
{
	nftnl_batch_end(nftnl_batch_buffer(fb->b), fb->seq++);
	return nftnl_batch_update(fb->b) < 0 ? -AGW_ENOMEM : 0;
}

static bool fw_config_valid(const struct fw_config *c)
{
	return c && fw_name_valid(c->name) && fw_iface_valid(c->iface) &&
	       c->gw_addr.s_addr != htonl(INADDR_ANY) && c->dns_port != 0 && c->proxy_port != 0;
}

/* The rules of fw.h, in order. */
static int fw_build_rules(struct fw_batch *fb, const struct fw_config *c)
{
	char p_in[FW_PREFIX_MAX], p_fwd[FW_PREFIX_MAX], p_v6[FW_PREFIX_MAX], p_spoof[FW_PREFIX_MAX];
	uint8_t icmp_echo = 8;
	struct fw_rule fr = {0};
	int err;

	if ((err = fw_log_prefix(c->name, "in", p_in, sizeof(p_in))) < 0 ||
	    (err = fw_log_prefix(c->name, "fwd", p_fwd, sizeof(p_fwd))) < 0 ||
	    (err = fw_log_prefix(c->name, "v6", p_v6, sizeof(p_v6))) < 0 ||
	    (err = fw_log_prefix(c->name, "spoof", p_spoof, sizeof(p_spoof))) < 0)
		return err;

#define FW_RULE(chain, body)                                                                       \
	do {                                                                                       \
		if ((err = fw_rule_begin(&fr, fb, chain)) < 0)                                     \
			return err;                                                                \
		fw_ifname(&fr, NFT_META_IIFNAME, c->iface);                                        \
		body;                                                                              \
		if ((err = fw_rule_end(&fr, fb)) < 0)                                              \
			return err;                                                                \
	} while (0)

	/* prerouting (nat): DNS anywhere first, then all other TCP. */
	FW_RULE("prerouting", {
		fw_nfproto(&fr, NFPROTO_IPV4);
		fw_l4proto(&fr, IPPROTO_UDP);
		fw_dport(&fr, 53);
		fw_redirect(&fr, c->dns_port);
	});
	FW_RULE("prerouting", {
		fw_nfproto(&fr, NFPROTO_IPV4);
		fw_l4proto(&fr, IPPROTO_TCP);
		fw_dport(&fr, 53);
		fw_redirect(&fr, c->dns_port);
	});
	FW_RULE("prerouting", {
		fw_nfproto(&fr, NFPROTO_IPV4);
		fw_l4proto(&fr, IPPROTO_TCP);
		fw_ipaddr(&fr, 16, NFT_CMP_NEQ, c->gw_addr);
		fw_redirect(&fr, c->proxy_port);
	});

	/* guard: runs after the redirect, so redirected traffic is local. */
	FW_RULE("guard", {
		fw_nfproto(&fr, NFPROTO_IPV6);
		fw_counter(&fr);
		fw_log(&fr, c->nflog_group, p_v6);
		fw_verdict(&fr, NF_DROP);
	});
	if (c->guest_addr.s_addr != htonl(INADDR_ANY))
		FW_RULE("guard", {
			fw_nfproto(&fr, NFPROTO_IPV4);
			fw_ipaddr(&fr, 12, NFT_CMP_NEQ, c->guest_addr);
			fw_counter(&fr);
			fw_log(&fr, c->nflog_group, p_spoof);
			fw_verdict(&fr, NF_DROP);
		});
	FW_RULE("guard", {
		fw_daddr_not_local(&fr);
		fw_counter(&fr);
		fw_log(&fr, c->nflog_group, p_fwd);
		fw_verdict(&fr, NF_DROP);
	});

	/* input: only the gateway's own services. */
	FW_RULE("input", {
		fw_ct(&fr, NFT_CT_STATE,
		      NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED));
		fw_verdict(&fr, NF_ACCEPT);
	});
	FW_RULE("input", {
		fw_nfproto(&fr, NFPROTO_IPV6);
		fw_log(&fr, c->nflog_group, p_v6);
		fw_verdict(&fr, NF_DROP);
	});
	FW_RULE("input", {
		fw_to_gw(&fr, c->gw_addr, IPPROTO_UDP, c->dns_port);
		fw_verdict(&fr, NF_ACCEPT);
	});
	FW_RULE("input", {
		fw_to_gw(&fr, c->gw_addr, IPPROTO_TCP, c->dns_port);
		fw_verdict(&fr, NF_ACCEPT);
	});
	FW_RULE("input", {
		fw_to_gw(&fr, c->gw_addr, IPPROTO_TCP, c->proxy_port);
		fw_ct(&fr, NFT_CT_STATUS, IPS_DST_NAT);
		fw_verdict(&fr, NF_ACCEPT);
	});
	if (c->p9_port)
		FW_RULE("input", {
			fw_to_gw(&fr, c->gw_addr, IPPROTO_TCP, c->p9_port);
			fw_verdict(&fr, NF_ACCEPT);
		});
	FW_RULE("input", {
		fw_nfproto(&fr, NFPROTO_IPV4);
		fw_ipaddr(&fr, 16, NFT_CMP_EQ, c->gw_addr);
		fw_l4proto(&fr, IPPROTO_ICMP);
		fw_payload(&fr, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1);
		fw_cmp(&fr, NFT_CMP_EQ, &icmp_echo, 1);
		fw_verdict(&fr, NF_ACCEPT);
	});
	FW_RULE("input", {
		fw_counter(&fr);
		fw_log(&fr, c->nflog_group, p_in);
		fw_verdict(&fr, NF_DROP);
	});

	/* forward: the guest is never routed. */
	FW_RULE("forward", {
		fw_counter(&fr);
		fw_log(&fr, c->nflog_group, p_fwd);
		fw_verdict(&fr, NF_DROP);
	});
	if ((err = fw_rule_begin(&fr, fb, "forward")) < 0)
		return err;
	fw_ifname(&fr, NFT_META_OIFNAME, c->iface);
	fw_verdict(&fr, NF_DROP);
	if ((err = fw_rule_end(&fr, fb)) < 0)
		return err;
#undef FW_RULE
	return 0;
}

int fw_apply(const struct fw_config *c)
{
	char table[FW_TABLE_MAX];
	struct fw_batch fb = {0};
	int err;

	if (!fw_config_valid(c))
		return -AGW_EINVAL;
	err = fw_table_name(c->name, table, sizeof(table));
	if (err < 0)
		return err;
	err = fw_batch_init(&fb, table);
	if (err < 0)
		goto out;
	/* add + delete: removes a stale table whether or not it exists. */
	if ((err = fw_batch_table(&fb, NFT_MSG_NEWTABLE, NLM_F_CREATE)) < 0 ||
	    (err = fw_batch_table(&fb, NFT_MSG_DELTABLE, 0)) < 0 ||
	    (err = fw_batch_table(&fb, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL)) < 0)
		goto out;
	if ((err = fw_batch_chain(&fb, "prerouting", "nat", NF_INET_PRE_ROUTING, FW_PRIO_DSTNAT)) <
		0 ||
	    (err = fw_batch_chain(&fb, "guard", "filter", NF_INET_PRE_ROUTING,
				  FW_PRIO_DSTNAT + 10)) < 0 ||
	    (err = fw_batch_chain(&fb, "input", "filter", NF_INET_LOCAL_IN, FW_PRIO_FILTER)) < 0 ||
	    (err = fw_batch_chain(&fb, "forward", "filter", NF_INET_FORWARD, FW_PRIO_FILTER)) < 0)
		goto out;
	err = fw_build_rules(&fb, c);
	if (err < 0)
		goto out;
	err = fw_batch_finish(&fb);
	if (err == 0)
		err = fw_batch_send(&fb);
	if (err < 0)
		log_error("fw: cannot install table inet %s for %s: %s", table, c->iface,
			  agw_strerror(err));
out:
	if (fb.b)
		nftnl_batch_free(fb.b);
	return err;
}

int fw_remove(const char *name)
{
	char table[FW_TABLE_MAX];
	struct fw_batch fb = {0};
	int err;

	err = fw_table_name(name, table, sizeof(table));
	if (err < 0)
		return err;
	err = fw_batch_init(&fb, table);
	if (err < 0)
		goto out;
	err = fw_batch_table(&fb, NFT_MSG_DELTABLE, 0);
	if (err < 0)
		goto out;
	err = fw_batch_finish(&fb);
	if (err == 0)
		err = fw_batch_send(&fb);
	if (err == -ENOENT)
		err = 0;
out:
	if (fb.b)
		nftnl_batch_free(fb.b);
	return err;
}

bool fw_exists(const char *name)
{
	char table[FW_TABLE_MAX], buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = NULL;
	struct nftnl_table *t = NULL;
	struct nlmsghdr *nlh;
	bool found = false;
	int err;

	if (fw_table_name(name, table, sizeof(table)) < 0)
		return false;
	t = nftnl_table_alloc();
	if (!t)
		goto out;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
	nlh = nftnl_table_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK,
					  (uint32_t)time(NULL));
	nftnl_table_nlmsg_build_payload(nlh, t);
	if (fw_open(&nl) < 0)
		goto out;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		goto out;
	err = fw_recv_acks(nl, 1, &found);
	if (err < 0)
		found = false;
out:
	if (nl)
		mnl_socket_close(nl);
	if (t)
		nftnl_table_free(t);
	return found;
}
