// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for the per-sandbox nftables table, with real nftables and real
 * packets. main moves the test into a network namespace of its own
 * (unshare(CLONE_NEWNET)): that namespace plays the gateway, and a child
 * process in a second new namespace plays the guest, joined by a veth
 * pair. Listeners stand in for the gateway's DNS, proxy and 9P ports, the
 * NFLOG reader (gateway/net/nlog.c) collects what the table drops, and the
 * guest side uses nc and ping through nsenter. The host's ruleset and
 * interfaces are never touched. Need root: skipped without it, failed
 * under CI=true.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/netfilter_ipv4.h>

#include <cmocka.h>

#include "test_netns_util.h"

#include "agw.h"
#include "gateway/net/nlog.h"
#include "vmctl/fw.h"

#define GROUP 7
#define DNS_PORT 5353
#define PROXY_PORT 15001
#define P9_PORT 5640
#define OTHER_PORT 2222

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void config(struct fw_config *c, const char *name, const char *iface)
{
	memset(c, 0, sizeof(*c));
	c->name = name;
	c->iface = iface;
	inet_pton(AF_INET, "10.77.0.1", &c->gw_addr);
	inet_pton(AF_INET, "10.77.0.2", &c->guest_addr);
	c->dns_port = DNS_PORT;
	c->proxy_port = PROXY_PORT;
	c->p9_port = P9_PORT;
	c->nflog_group = GROUP;
}

static void test_fw_invalid(void **state)
{
	struct fw_config c;

	config(&c, "test", "gw0");
	c.name = "";
	assert_int_equal(fw_apply(&c), -AGW_EINVAL);
	c.name = "Upper";
	assert_int_equal(fw_apply(&c), -AGW_EINVAL);
	c.name = "a/b";
	assert_int_equal(fw_apply(&c), -AGW_EINVAL);
	c.name = "abcdefghijklmnopqrstuvwxyz0123456"; /* 33 */
	assert_int_equal(fw_apply(&c), -AGW_EINVAL);
	assert_true(fw_name_valid("abcdefghijklmnopqrstuvwxyz012345")); /* 32 */
	assert_true(fw_name_valid("a_b-1"));
	c.name = "test";
	c.iface = "this-iface-is-too-long";
	assert_int_equal(fw_apply(&c), -AGW_EINVAL);
	c.iface = "gw0";
	c.gw_addr.s_addr = 0;
	assert_int_equal(fw_apply(&c), -AGW_EINVAL);
	config(&c, "test", "gw0");
	c.proxy_port = 0;
	assert_int_equal(fw_apply(&c), -AGW_EINVAL);
	assert_int_equal(fw_apply(NULL), -AGW_EINVAL);
	assert_int_equal(fw_remove("no way"), -AGW_EINVAL);
	assert_false(fw_exists("no way"));
}

static void test_fw_prefix(void **state)
{
	char p[FW_PREFIX_MAX], name[FW_NAME_MAX + 1];
	const char *why = NULL;

	assert_int_equal(fw_log_prefix("sb-1", "in", p, sizeof(p)), 0);
	assert_string_equal(p, "agw:sb-1:in");
	assert_int_equal(nlog_prefix_parse(p, name, sizeof(name), &why), 0);
	assert_string_equal(name, "sb-1");
	assert_string_equal(why, "in");
	assert_int_equal(fw_log_prefix("sb-1", "in", p, 5), -AGW_ETOOBIG);
	assert_string_equal(p, "");
	assert_int_equal(fw_log_prefix("BAD", "in", p, sizeof(p)), -AGW_EINVAL);
}

static void test_fw_table(void **state)
{
	static char out[16384];
	struct fw_config c;

	need_netns();
	assert_int_equal(system("nft add table inet bystander"), 0);
	config(&c, "test", "gw0");
	assert_false(fw_exists("test"));
	assert_int_equal(fw_remove("test"), 0); /* nothing to remove */
	assert_int_equal(fw_apply(&c), 0);
	assert_true(fw_exists("test"));
	assert_int_equal(run("nft list table inet agentgw_test", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "type nat hook prerouting priority dstnat"));
	assert_non_null(strstr(out, "type filter hook prerouting priority dstnat + 10"));
	assert_non_null(strstr(out, "type filter hook input priority filter"));
	assert_non_null(strstr(out, "type filter hook forward priority filter"));
	assert_non_null(strstr(out, "udp dport 53 redirect to :5353"));
	assert_non_null(strstr(out, "tcp dport 53 redirect to :5353"));
	assert_non_null(strstr(out, "ip daddr != 10.77.0.1 redirect to :15001"));
	assert_non_null(strstr(out, "tcp dport 15001 ct status dnat accept"));
	assert_non_null(strstr(out, "ct state established,related accept"));
	assert_non_null(strstr(out, "log prefix \"agw:test:in\" group 7"));
	assert_non_null(strstr(out, "oifname \"gw0\" drop"));
	assert_int_equal(count(out, "iifname \"gw0\""), 15);

	/* Applying again replaces the table: same rules, not twice as many. */
	c.proxy_port = 15002;
	assert_int_equal(fw_apply(&c), 0);
	assert_int_equal(run("nft list table inet agentgw_test", out, sizeof(out)), 0);
	assert_int_equal(count(out, "redirect to :15002"), 1);
	assert_int_equal(count(out, "redirect to :15001"), 0);
	assert_int_equal(count(out, "iifname \"gw0\""), 15);

	/* A second sandbox gets its own table. */
	config(&c, "second", "tap9");
	c.p9_port = 0;
	c.guest_addr.s_addr = 0;
	assert_int_equal(fw_apply(&c), 0);
	assert_int_equal(run("nft list table inet agentgw_second", out, sizeof(out)), 0);
	assert_int_equal(count(out, "iifname \"tap9\""), 13);

	assert_int_equal(fw_remove("test"), 0);
	assert_false(fw_exists("test"));
	assert_true(fw_exists("second"));
	assert_int_equal(fw_remove("test"), 0);
	assert_int_not_equal(run("nft list table inet agentgw_test 2>&1", out, sizeof(out)), 0);
	assert_int_equal(fw_remove("second"), 0);
	assert_int_equal(run("nft list tables", out, sizeof(out)), 0);
	assert_string_equal(out, "table inet bystander\n");
	assert_int_equal(system("nft delete table inet bystander"), 0);
}

/* ---- real packets ---- */

struct drop {
	char prefix[FW_PREFIX_MAX];
	char dst[PKT_ADDR_STRLEN];
	uint8_t proto;
	uint8_t icmp_type;
};

struct drops {
	struct drop d[256];
	int n;
};

static void on_drop(void *ctx, const struct pkt_info *pi, const char *prefix)
{
	struct drops *ds = ctx;
	struct drop *d;

	if (ds->n >= (int)AGW_ARRAY_LEN(ds->d))
		return;
	d = &ds->d[ds->n++];
	snprintf(d->prefix, sizeof(d->prefix), "%s", prefix);
	pkt_format_dst(pi, d->dst, sizeof(d->dst));
	d->proto = pi->proto;
	d->icmp_type = pi->icmp_type;
}

/* Waits up to 3 s for a drop with that prefix and destination. */
static bool wait_drop(struct nlog *nl, struct drops *ds, const char *prefix, const char *dst)
{
	for (int t = 0; t < 60; t++) {
		struct pollfd p = {.fd = nlog_fd(nl), .events = POLLIN};

		for (int i = 0; i < ds->n; i++)
			if (strcmp(ds->d[i].prefix, prefix) == 0 && strcmp(ds->d[i].dst, dst) == 0)
				return true;
		if (poll(&p, 1, 50) > 0)
			assert_true(nlog_read(nl, on_drop, ds) >= 0);
	}
	for (int i = 0; i < ds->n; i++)
		fprintf(stderr, "  seen drop %s %s\n", ds->d[i].prefix, ds->d[i].dst);
	return false;
}

static int listener(int type, const char *addr, uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;

	assert_true(fd >= 0);
	inet_pton(AF_INET, addr, &sin.sin_addr);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 16), 0);
	return fd;
}

/* Accepts one connection within 3 s; its original destination in orig. */
static int accept_one(int lfd, char *orig, size_t cap)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	struct sockaddr_in od;
	socklen_t len = sizeof(od);
	char ip[INET_ADDRSTRLEN];
	int fd;

	if (poll(&p, 1, 3000) != 1)
		return -1;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -1;
	orig[0] = '\0';
	if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &od, &len) == 0) {
		inet_ntop(AF_INET, &od.sin_addr, ip, sizeof(ip));
		snprintf(orig, cap, "%s:%u", ip, ntohs(od.sin_port));
	}
	return fd;
}

struct guest {
	pid_t pid;
	int hold; /* write end: closing it ends the guest's namespace holder */
};

/* A child in a fresh network namespace that waits until hold is closed. */
static void guest_start(struct guest *g)
{
	int ready[2], hold[2];
	char c;

	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
	g->pid = fork();
	assert_true(g->pid >= 0);
	if (g->pid == 0) {
		close(ready[0]);
		close(hold[1]);
		if (unshare(CLONE_NEWNET) < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		while (read(hold[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	g->hold = hold[1];
}

static void guest_stop(struct guest *g)
{
	close(g->hold);
	waitpid(g->pid, NULL, 0);
}

/* Runs a shell command inside the guest namespace; returns its exit status. */
static int in_guest(const struct guest *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int in_guest(const struct guest *g, const char *fmt, ...)
{
	char cmd[1024], full[1200], out[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "nsenter -t %d -n sh -c '%s' 2>&1", (int)g->pid, cmd);
	return run(full, out, sizeof(out));
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

static void test_fw_packets(void **state)
{
	struct guest g;
	struct fw_config c;
	struct nlog *nl = NULL;
	static struct drops ds;
	char orig[64], buf[64], out[256], mac[64];
	struct sockaddr_in from;
	socklen_t flen = sizeof(from);
	int proxy, dns_u, dns_t, p9, other, fd;
	ssize_t n;

	need_netns();
	memset(&ds, 0, sizeof(ds));
	guest_start(&g);
	sh("ip link set lo up");
	sh("ip link add gw0 type veth peer name gveth netns %d", (int)g.pid);
	sh("ip addr add 10.77.0.1/29 dev gw0 && ip addr add fd77::1/64 dev gw0 nodad");
	sh("ip link set gw0 up");
	sh("nsenter -t %d -n sh -c 'ip link set lo up && ip link set gveth up && "
	   "ip addr add 10.77.0.2/29 dev gveth && ip addr add 10.77.0.5/29 dev gveth && "
	   "ip addr add fd77::2/64 dev gveth nodad && "
	   "ip route add default via 10.77.0.1 && ip -6 route add default via fd77::1'",
	   (int)g.pid);

	proxy = listener(SOCK_STREAM, "0.0.0.0", PROXY_PORT);
	dns_u = listener(SOCK_DGRAM, "0.0.0.0", DNS_PORT);
	dns_t = listener(SOCK_STREAM, "0.0.0.0", DNS_PORT);
	p9 = listener(SOCK_STREAM, "10.77.0.1", P9_PORT);
	other = listener(SOCK_STREAM, "10.77.0.1", OTHER_PORT);

	/* Before the table: the guest reaches the unlisted port directly. */
	assert_int_equal(in_guest(&g, "nc -z -w2 10.77.0.1 %d", OTHER_PORT), 0);
	fd = accept_one(other, orig, sizeof(orig));
	assert_true(fd >= 0);
	close(fd);

	assert_int_equal(nlog_open(GROUP, &nl), 0);
	config(&c, "test", "gw0");
	assert_int_equal(fw_apply(&c), 0);

	/* TCP to the outside lands on the proxy with its original destination. */
	assert_int_equal(in_guest(&g, "nc -z -w2 203.0.113.10 80"), 0);
	fd = accept_one(proxy, orig, sizeof(orig));
	assert_true(fd >= 0);
	assert_string_equal(orig, "203.0.113.10:80");
	close(fd);
	assert_int_equal(in_guest(&g, "nc -z -w2 198.51.100.7 443"), 0);
	fd = accept_one(proxy, orig, sizeof(orig));
	assert_true(fd >= 0);
	assert_string_equal(orig, "198.51.100.7:443");
	close(fd);

	/* DNS over UDP to any server lands on the DNS port; the reply goes back
	 * as if from that server. */
	sh("nsenter -t %d -n sh -c '(printf q | timeout 5 nc -u -w2 8.8.8.8 53 "
	   "> /tmp/agw-test-fw-dns.%d) &'",
	   (int)g.pid, (int)getpid());
	{
		struct pollfd p = {.fd = dns_u, .events = POLLIN};

		assert_int_equal(poll(&p, 1, 3000), 1);
	}
	n = recvfrom(dns_u, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
	assert_int_equal(n, 1);
	assert_int_equal(buf[0], 'q');
	assert_int_equal(from.sin_addr.s_addr, c.guest_addr.s_addr);
	assert_int_equal(sendto(dns_u, "answer", 6, 0, (struct sockaddr *)&from, flen), 6);
	for (int i = 0; i < 60; i++) {
		snprintf(buf, sizeof(buf), "cat /tmp/agw-test-fw-dns.%d", (int)getpid());
		if (run(buf, out, sizeof(out)) == 0 && strcmp(out, "answer") == 0)
			break;
		usleep(50000);
	}
	assert_string_equal(out, "answer");
	snprintf(buf, sizeof(buf), "/tmp/agw-test-fw-dns.%d", (int)getpid());
	unlink(buf);

	/* DNS over TCP to any server, and to the gateway itself. */
	assert_int_equal(in_guest(&g, "nc -z -w2 9.9.9.9 53"), 0);
	fd = accept_one(dns_t, orig, sizeof(orig));
	assert_true(fd >= 0);
	assert_string_equal(orig, "9.9.9.9:53");
	close(fd);
	assert_int_equal(in_guest(&g, "nc -z -w2 10.77.0.1 53"), 0);
	fd = accept_one(dns_t, orig, sizeof(orig));
	assert_true(fd >= 0);
	close(fd);

	/* 9P on the gateway address is open; ICMP echo to the gateway works. */
	assert_int_equal(in_guest(&g, "nc -z -w2 10.77.0.1 %d", P9_PORT), 0);
	fd = accept_one(p9, orig, sizeof(orig));
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(in_guest(&g, "ping -c1 -W2 10.77.0.1"), 0);

	/* Everything else is dropped and logged with the reason. */
	assert_int_not_equal(in_guest(&g, "nc -z -w1 10.77.0.1 %d", OTHER_PORT), 0);
	assert_true(wait_drop(nl, &ds, "agw:test:in", "10.77.0.1:2222"));
	assert_int_not_equal(in_guest(&g, "nc -z -w1 10.77.0.1 %d", PROXY_PORT), 0);
	assert_true(wait_drop(nl, &ds, "agw:test:in", "10.77.0.1:15001"));
	assert_int_equal(in_guest(&g, "printf x | nc -u -w1 10.77.0.1 4444"), 0);
	assert_true(wait_drop(nl, &ds, "agw:test:in", "10.77.0.1:4444"));
	assert_int_equal(in_guest(&g, "printf x | nc -u -w1 8.8.8.8 1234"), 0);
	assert_true(wait_drop(nl, &ds, "agw:test:fwd", "8.8.8.8:1234"));
	assert_int_not_equal(in_guest(&g, "ping -c1 -W1 203.0.113.10"), 0);
	assert_true(wait_drop(nl, &ds, "agw:test:fwd", "203.0.113.10"));
	/* Neighbour discovery is dropped too; a static entry makes the guest
	 * send the echo itself. */
	assert_int_equal(run("ip -br link show dev gw0 | awk '{print $3}'", mac, sizeof(mac)), 0);
	mac[strcspn(mac, "\n")] = '\0';
	assert_int_equal(in_guest(&g, "ip -6 neigh replace fd77::1 lladdr %s dev gveth", mac), 0);
	assert_int_not_equal(in_guest(&g, "ping -6 -c1 -W1 fd77::1"), 0);
	assert_true(wait_drop(nl, &ds, "agw:test:v6", "fd77::1"));
	assert_int_not_equal(in_guest(&g, "ping -c1 -W1 -I 10.77.0.5 10.77.0.1"), 0);
	assert_true(wait_drop(nl, &ds, "agw:test:spoof", "10.77.0.1"));
	for (int i = 0; i < ds.n; i++)
		if (strcmp(ds.d[i].dst, "203.0.113.10") == 0) {
			assert_int_equal(ds.d[i].proto, IPPROTO_ICMP);
			assert_int_equal(ds.d[i].icmp_type, 8);
		}
	/* The allowed traffic above left no drop behind. */
	for (int i = 0; i < ds.n; i++) {
		assert_null(strstr(ds.d[i].dst, ":53"));
		assert_null(strstr(ds.d[i].dst, ":5640"));
	}

	/* Without the table the same connection goes through again. */
	assert_int_equal(fw_remove("test"), 0);
	assert_int_equal(in_guest(&g, "nc -z -w2 10.77.0.1 %d", OTHER_PORT), 0);
	fd = accept_one(other, orig, sizeof(orig));
	assert_true(fd >= 0);
	close(fd);

	nlog_free(nl);
	close(proxy);
	close(dns_u);
	close(dns_t);
	close(p9);
	close(other);
	guest_stop(&g);
	/* The guest's namespace took its veth end, and the pair, with it. */
	assert_int_not_equal(system("ip link show dev gw0 >/dev/null 2>&1"), 0);
}

/*
 * Not a test: lets tests/integration/fw.sh drive fw_apply/fw_remove in a
 * namespace it made, until `agentgw gateway` exists.
 *   test_fw --apply NAME IFACE GW GUEST DNS_PORT PROXY_PORT P9_PORT GROUP
 *   test_fw --remove NAME
 *   test_fw --exists NAME
 */
static int tool(int argc, char **argv)
{
	struct fw_config c = {0};
	int err;

	if (strcmp(argv[1], "--apply") == 0 && argc == 10) {
		c.name = argv[2];
		c.iface = argv[3];
		if (inet_pton(AF_INET, argv[4], &c.gw_addr) != 1 ||
		    inet_pton(AF_INET, argv[5], &c.guest_addr) != 1) {
			fprintf(stderr, "test_fw: bad address\n");
			return 2;
		}
		c.dns_port = (uint16_t)atoi(argv[6]);
		c.proxy_port = (uint16_t)atoi(argv[7]);
		c.p9_port = (uint16_t)atoi(argv[8]);
		c.nflog_group = (uint16_t)atoi(argv[9]);
		err = fw_apply(&c);
	} else if (strcmp(argv[1], "--remove") == 0 && argc == 3) {
		err = fw_remove(argv[2]);
	} else if (strcmp(argv[1], "--exists") == 0 && argc == 3) {
		return fw_exists(argv[2]) ? 0 : 1;
	} else {
		fprintf(stderr, "usage: test_fw [--apply NAME IFACE GW GUEST DNS PROXY P9 GROUP | "
				"--remove NAME | --exists NAME]\n");
		return 2;
	}
	if (err < 0) {
		fprintf(stderr, "test_fw %s: %s\n", argv[1], agw_strerror(err));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fw_invalid),
	    cmocka_unit_test(test_fw_prefix),
	    cmocka_unit_test(test_fw_table),
	    cmocka_unit_test(test_fw_packets),
	};

	if (argc > 1)
		return tool(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	tnn_enter("test_fw");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
