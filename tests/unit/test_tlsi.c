// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * TLS inspection core (gateway/net/tlsi.c): the sandbox CA's fields, a
 * minted leaf accepted by a client that trusts the CA (the ClientHello
 * replayed from the bytes the proxy already read, both sides non-blocking
 * on a socketpair), data both ways, ALPN http/1.1, the leaf cache, and a
 * client that refuses a leaf for another name with the verification
 * error. Garbage instead of a ClientHello fails cleanly.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "agw.h"
#include "ev.h"
#include "gateway/net/tlsi.h"

static char ca_path[64];

static struct tlsi *make(void)
{
	struct tlsi_ca *ca = NULL;
	struct tlsi *t = NULL;
	char *pem, err[256];
	int fd;

	assert_int_equal(tlsi_ca_new("unit", 2, &ca), 0);
	pem = tlsi_ca_pem(ca);
	assert_non_null(pem);
	snprintf(ca_path, sizeof(ca_path), "/tmp/agw-tlsi-ca-XXXXXX");
	fd = mkstemp(ca_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, pem, strlen(pem)), (ssize_t)strlen(pem));
	close(fd);
	free(pem);
	assert_int_equal(tlsi_new(ca, ca_path, &t, err, sizeof(err)), 0);
	return t;
}

static void test_ca(void **state)
{
	struct tlsi_ca *ca = NULL;
	char *pem;
	BIO *b;
	X509 *x;
	BASIC_CONSTRAINTS *bc;
	char cn[128];

	(void)state;
	assert_int_equal(tlsi_ca_new("box1", 30, &ca), 0);
	pem = tlsi_ca_pem(ca);
	assert_non_null(pem);
	assert_null(strstr(pem, "PRIVATE"));
	b = BIO_new_mem_buf(pem, -1);
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	assert_non_null(x);
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
	assert_string_equal(cn, "agentgw sandbox box1 CA");
	bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	assert_non_null(bc);
	assert_true(bc->ca);
	assert_true(X509_get_extension_flags(x) & EXFLAG_CA);
	assert_true(X509_get_key_usage(x) & KU_KEY_CERT_SIGN);
	assert_true(X509_check_ca(x) > 0);
	BASIC_CONSTRAINTS_free(bc);
	X509_free(x);
	BIO_free(b);
	free(pem);
	tlsi_ca_free(ca);
	assert_int_equal(tlsi_ca_new(NULL, 1, &ca), -AGW_EINVAL);
}

/* Runs both handshakes to the end; returns the client's result. */
static int pair(struct tlsi *t, const char *leaf_name, const char *client_name, char *why,
		size_t cap, SSL **srv_out, SSL **cli_out, int sv[2])
{
	SSL *cli, *srv = NULL;
	uint8_t hello[8192];
	ssize_t n = -1;
	unsigned want;
	int cr = 0, sr = 0;
	char swhy[200];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	cli = tlsi_client(t, client_name, sv[0]);
	assert_non_null(cli);
	cr = tlsi_handshake(cli, &want, why, cap); /* sends the ClientHello */
	assert_int_equal(cr, 0);
	for (int i = 0; i < 100 && n < 0; i++)
		n = recv(sv[1], hello, sizeof(hello), 0);
	assert_true(n > 0);
	srv = tlsi_server(t, leaf_name, sv[1], hello, (size_t)n);
	assert_non_null(srv);
	for (int i = 0; i < 1000 && (cr == 0 || sr == 0); i++) {
		if (sr == 0)
			sr = tlsi_handshake(srv, &want, swhy, sizeof(swhy));
		if (cr == 0)
			cr = tlsi_handshake(cli, &want, why, cap);
		if (cr < 0)
			break;
	}
	*srv_out = srv;
	*cli_out = cli;
	return cr;
}

static void test_handshake(void **state)
{
	struct tlsi *t = make();
	SSL *srv, *cli;
	int sv[2];
	char why[200] = "", buf[TLSI_REC_PLAIN];
	const unsigned char *alpn;
	unsigned alen, want;
	ssize_t r = -EAGAIN;

	(void)state;
	assert_int_equal(pair(t, "api.test", "api.test", why, sizeof(why), &srv, &cli, sv), 1);
	SSL_get0_alpn_selected(cli, &alpn, &alen);
	assert_int_equal(alen, 8);
	assert_memory_equal(alpn, "http/1.1", 8);
	assert_int_equal(tlsi_write(cli, "GET / HTTP/1.1\r\n\r\n", 18, &want), 18);
	for (int i = 0; i < 100 && r == -EAGAIN; i++)
		r = tlsi_read(srv, buf, sizeof(buf), &want);
	assert_int_equal(r, 18);
	assert_memory_equal(buf, "GET / HTTP/1.1\r\n\r\n", 18);
	assert_int_equal(tlsi_write(srv, "HTTP/1.1 200 OK\r\n", 17, &want), 17);
	r = -EAGAIN;
	for (int i = 0; i < 100 && r == -EAGAIN; i++)
		r = tlsi_read(cli, buf, sizeof(buf), &want);
	assert_int_equal(r, 17);
	/* close_notify reads as the end of the stream */
	tlsi_shutdown(cli);
	r = -EAGAIN;
	for (int i = 0; i < 100 && r == -EAGAIN; i++)
		r = tlsi_read(srv, buf, sizeof(buf), &want);
	assert_int_equal(r, 0);
	assert_int_equal(tlsi_minted(t), 1);
	tlsi_ssl_free(srv);
	tlsi_ssl_free(cli);
	close(sv[0]);
	close(sv[1]);
	/* the same name again: from the cache */
	assert_int_equal(pair(t, "api.test", "api.test", why, sizeof(why), &srv, &cli, sv), 1);
	assert_int_equal(tlsi_minted(t), 1);
	tlsi_ssl_free(srv);
	tlsi_ssl_free(cli);
	close(sv[0]);
	close(sv[1]);
	tlsi_free(t);
	unlink(ca_path);
}

static void test_wrong_name(void **state)
{
	struct tlsi *t = make();
	SSL *srv, *cli;
	int sv[2];
	char why[200] = "";

	(void)state;
	assert_true(pair(t, "api.test", "evil.test", why, sizeof(why), &srv, &cli, sv) < 0);
	assert_non_null(strstr(why, "upstream certificate does not verify"));
	assert_non_null(strstr(why, "mismatch"));
	tlsi_ssl_free(srv);
	tlsi_ssl_free(cli);
	close(sv[0]);
	close(sv[1]);
	tlsi_free(t);
	unlink(ca_path);
}

static void test_garbage(void **state)
{
	struct tlsi *t = make();
	int sv[2];
	SSL *srv;
	unsigned want;
	char why[200];
	uint8_t junk[600];
	int rc = 0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	junk[0] = 0x16; /* looks like a handshake record */
	junk[1] = 3;
	junk[2] = 1;
	close(sv[0]);
	srv = tlsi_server(t, "x.test", sv[1], junk, sizeof(junk));
	assert_non_null(srv);
	for (int i = 0; i < 10 && rc == 0; i++)
		rc = tlsi_handshake(srv, &want, why, sizeof(why));
	assert_true(rc < 0);
	tlsi_ssl_free(srv);
	close(sv[1]);
	tlsi_free(t);
	unlink(ca_path);
}

static void test_bad_upstream_ca(void **state)
{
	struct tlsi_ca *ca = NULL;
	struct tlsi *t = NULL;
	char err[300];

	(void)state;
	assert_int_equal(tlsi_ca_new("u", 1, &ca), 0);
	assert_int_equal(tlsi_new(ca, "/nonexistent/ca.pem", &t, err, sizeof(err)), -AGW_EINVAL);
	assert_null(t);
	assert_non_null(strstr(err, "network.tls.upstream_ca /nonexistent/ca.pem"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ca),
	    cmocka_unit_test(test_handshake),
	    cmocka_unit_test(test_wrong_name),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_bad_upstream_ca),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
