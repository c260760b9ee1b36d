// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * TLS inspection (see tlsi.h): the sandbox CA, leaves minted per name, and
 * the two SSL_CTX. The guest side reads the ClientHello the proxy already
 * consumed through a small BIO that serves those bytes first and then the
 * socket; the upstream side is a plain socket BIO. One EC P-256 key serves
 * every leaf of a net child (made at start): minting a leaf is then one
 * signature. Reads never leave plaintext buffered inside OpenSSL when
 * given a full record's room (read_ahead stays off), so the ev loop's
 * level-triggered readiness is enough to drive them.
 */
#include "tlsi.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"

struct tlsi_ca {
	X509 *cert;
	EVP_PKEY *key;
};

struct tlsi_leaf {
	char name[256];
	X509 *cert;
	uint64_t used; /* LRU clock */
};

struct tlsi {
	struct tlsi_ca *ca;
	EVP_PKEY *leaf_key;
	SSL_CTX *sctx, *cctx;
	struct tlsi_leaf cache[TLSI_LEAF_CACHE];
	uint64_t clock, minted;
	time_t ca_not_after;
};

/* ---- the CA and leaves ---- */

static EVP_PKEY *tlsi_ec_key(void)
{
	return EVP_EC_gen("P-256");
}

static int tlsi_serial(X509 *x)
{
	uint8_t r[16];
	BIGNUM *bn = NULL;
	int ok = 0;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return 0;
	r[0] &= 0x7f; /* positive */
	bn = BN_bin2bn(r, sizeof(r), NULL);
	if (bn)
		ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok;
}

static int tlsi_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!e)
		return 0;
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok;
}

int tlsi_ca_new(const char *name, unsigned days, struct tlsi_ca **out)
{
	struct tlsi_ca *ca = NULL;
	X509_NAME *subj;
	char cn[128];
	int rc = -AGW_ENOMEM;

	*out = NULL;
	if (!name || !days || snprintf(cn, sizeof(cn), "agentgw sandbox %s CA", name) >=
				  (int)sizeof(cn))
		return -AGW_EINVAL;
	ca = calloc(1, sizeof(*ca));
	if (!ca)
		goto out;
	ca->key = tlsi_ec_key();
	ca->cert = X509_new();
	if (!ca->key || !ca->cert || !X509_set_version(ca->cert, 2) || !tlsi_serial(ca->cert))
		goto out;
	if (!X509_gmtime_adj(X509_getm_notBefore(ca->cert), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(ca->cert), (long)days * 86400))
		goto out;
	subj = X509_get_subject_name(ca->cert);
	if (!X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_ASC, (const unsigned char *)"agentgw",
					-1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
					-1, 0) ||
	    !X509_set_issuer_name(ca->cert, subj) || !X509_set_pubkey(ca->cert, ca->key))
		goto out;
	if (!tlsi_ext(ca->cert, ca->cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
	    !tlsi_ext(ca->cert, ca->cert, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !tlsi_ext(ca->cert, ca->cert, NID_subject_key_identifier, "hash") ||
	    !X509_sign(ca->cert, ca->key, EVP_sha256()))
		goto out;
	*out = ca;
	ca = NULL;
	rc = 0;
out:
	tlsi_ca_free(ca);
	return rc;
}

void tlsi_ca_free(struct tlsi_ca *ca)
{
	if (!ca)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	free(ca);
}

char *tlsi_ca_pem(const struct tlsi_ca *ca)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (!b)
		return NULL;
	if (PEM_write_bio_X509(b, ca->cert) == 1) {
		n = BIO_get_mem_data(b, &data);
		out = n > 0 ? malloc((size_t)n + 1) : NULL;
		if (out) {
			memcpy(out, data, (size_t)n);
			out[n] = '\0';
		}
	}
	BIO_free(b);
	return out;
}

static X509 *tlsi_mint(struct tlsi *t, const char *name)
{
	X509 *x = X509_new();
	char san[300];
	long secs = TLSI_LEAF_DAYS * 86400L;
	time_t now = time(NULL);

	if (!x)
		return NULL;
	if (t->ca_not_after > now && t->ca_not_after - now < secs)
		secs = (long)(t->ca_not_after - now);
	snprintf(san, sizeof(san), "DNS:%s", name);
	if (!X509_set_version(x, 2) || !tlsi_serial(x) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), secs) ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
					(const unsigned char *)name, -1, -1, 0) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(t->ca->cert)) ||
	    !X509_set_pubkey(x, t->leaf_key) ||
	    !tlsi_ext(x, t->ca->cert, NID_basic_constraints, "critical,CA:FALSE") ||
	    !tlsi_ext(x, t->ca->cert, NID_key_usage, "critical,digitalSignature") ||
	    !tlsi_ext(x, t->ca->cert, NID_ext_key_usage, "serverAuth") ||
	    !tlsi_ext(x, t->ca->cert, NID_authority_key_identifier, "keyid:always") ||
	    !tlsi_ext(x, t->ca->cert, NID_subject_alt_name, san) ||
	    !X509_sign(x, t->ca->key, EVP_sha256())) {
		X509_free(x);
		return NULL;
	}
	t->minted++;
	return x;
}

/* The leaf for name, from the cache or minted (the least recently used
 * entry makes room). Borrowed: valid until the next call. */
static X509 *tlsi_leaf(struct tlsi *t, const char *name)
{
	struct tlsi_leaf *victim = &t->cache[0];

	if (strlen(name) >= sizeof(victim->name))
		return NULL;
	for (size_t i = 0; i < TLSI_LEAF_CACHE; i++) {
		struct tlsi_leaf *l = &t->cache[i];

		if (l->cert && strcmp(l->name, name) == 0) {
			l->used = ++t->clock;
			return l->cert;
		}
		if (!l->cert || (victim->cert && l->used < victim->used))
			victim = l;
	}
	X509_free(victim->cert);
	victim->cert = tlsi_mint(t, name);
	if (!victim->cert)
		return NULL;
	snprintf(victim->name, sizeof(victim->name), "%s", name);
	victim->used = ++t->clock;
	return victim->cert;
}

/* ---- the guest-side BIO: the bytes already read, then the socket ---- */

struct tlsi_bio {
	int fd;
	uint8_t *pre;
	size_t pre_len, pre_off;
};

static BIO_METHOD *tlsi_bio_meth;

static int tlsi_bio_write(BIO *b, const char *data, int len)
{
	struct tlsi_bio *tb = BIO_get_data(b);
	ssize_t w;

	BIO_clear_retry_flags(b);
	do
		w = send(tb->fd, data, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	if (w < 0 && errno == EAGAIN) {
		BIO_set_retry_write(b);
		return -1;
	}
	return (int)w;
}

static int tlsi_bio_read(BIO *b, char *data, int len)
{
	struct tlsi_bio *tb = BIO_get_data(b);
	ssize_t r;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	if (tb->pre_off < tb->pre_len) {
		size_t n = AGW_MIN((size_t)len, tb->pre_len - tb->pre_off);

		memcpy(data, tb->pre + tb->pre_off, n);
		tb->pre_off += n;
		if (tb->pre_off == tb->pre_len) {
			free(tb->pre);
			tb->pre = NULL;
			tb->pre_len = tb->pre_off = 0;
		}
		return (int)n;
	}
	do
		r = recv(tb->fd, data, (size_t)len, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0 && errno == EAGAIN) {
		BIO_set_retry_read(b);
		return -1;
	}
	return (int)r;
}

static long tlsi_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tlsi_bio *tb = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_PENDING:
		return tb ? (long)(tb->pre_len - tb->pre_off) : 0;
	default:
		return 0;
	}
}

static int tlsi_bio_destroy(BIO *b)
{
	struct tlsi_bio *tb = BIO_get_data(b);

	if (tb) {
		free(tb->pre);
		free(tb);
	}
	BIO_set_data(b, NULL);
	return 1;
}

static BIO *tlsi_bio_new(int fd, const uint8_t *pre, size_t pre_len)
{
	struct tlsi_bio *tb;
	BIO *b;

	tb = calloc(1, sizeof(*tb));
	if (!tb)
		return NULL;
	tb->fd = fd;
	if (pre_len) {
		tb->pre = malloc(pre_len);
		if (!tb->pre) {
			free(tb);
			return NULL;
		}
		memcpy(tb->pre, pre, pre_len);
		tb->pre_len = pre_len;
	}
	b = BIO_new(tlsi_bio_meth);
	if (!b) {
		free(tb->pre);
		free(tb);
		return NULL;
	}
	BIO_set_data(b, tb);
	BIO_set_init(b, 1);
	return b;
}

/* ---- contexts ---- */

static const unsigned char tlsi_alpn[] = "\x08http/1.1";

/* Accept http/1.1 only; a guest that offers only h2 gets no ALPN and
 * speaks HTTP/1.1 (or fails its own check). */
static int tlsi_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
			    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char *sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, tlsi_alpn, sizeof(tlsi_alpn) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static void tlsi_errstr(char *err, size_t cap, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[200] = "";

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, cap, "%s%s%s", what, buf[0] ? ": " : "", buf);
	ERR_clear_error();
}

static int tlsi_ctx_common(SSL_CTX *c)
{
	SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
				   SSL_OP_NO_COMPRESSION);
	return SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
}

int tlsi_new(struct tlsi_ca *ca, const char *upstream_ca, struct tlsi **out, char *err,
	     size_t errcap)
{
	struct tlsi *t = NULL;
	const char *roots;
	const ASN1_TIME *na;
	struct tm tm;
	int rc = -AGW_ENOMEM;

	*out = NULL;
	err[0] = '\0';
	if (!ca)
		return -AGW_EINVAL;
	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL);
	if (!tlsi_bio_meth) {
		tlsi_bio_meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "agw-pre");
		if (!tlsi_bio_meth || !BIO_meth_set_write(tlsi_bio_meth, tlsi_bio_write) ||
		    !BIO_meth_set_read(tlsi_bio_meth, tlsi_bio_read) ||
		    !BIO_meth_set_ctrl(tlsi_bio_meth, tlsi_bio_ctrl) ||
		    !BIO_meth_set_destroy(tlsi_bio_meth, tlsi_bio_destroy)) {
			tlsi_ca_free(ca);
			return -AGW_ENOMEM;
		}
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		tlsi_ca_free(ca);
		return -AGW_ENOMEM;
	}
	t->ca = ca;
	na = X509_get0_notAfter(ca->cert);
	if (ASN1_TIME_to_tm(na, &tm) == 1)
		t->ca_not_after = timegm(&tm);
	t->leaf_key = tlsi_ec_key();
	t->sctx = SSL_CTX_new(TLS_server_method());
	t->cctx = SSL_CTX_new(TLS_client_method());
	if (!t->leaf_key || !t->sctx || !t->cctx || !tlsi_ctx_common(t->sctx) ||
	    !tlsi_ctx_common(t->cctx)) {
		tlsi_errstr(err, errcap, "TLS contexts");
		goto out;
	}
	SSL_CTX_set_alpn_select_cb(t->sctx, tlsi_alpn_select, NULL);
	SSL_CTX_set_session_cache_mode(t->sctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(t->sctx, 0);
	SSL_CTX_set_verify(t->cctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_set_alpn_protos(t->cctx, tlsi_alpn, sizeof(tlsi_alpn) - 1) != 0) {
		tlsi_errstr(err, errcap, "ALPN");
		goto out;
	}
	/* Files now, eagerly: after the privilege drop nothing can be opened
	 * (a CA directory would be read lazily, per verification). */
	roots = getenv("SSL_CERT_FILE");
	if (!roots || !*roots)
		roots = X509_get_default_cert_file();
	if (access(roots, R_OK) == 0 && SSL_CTX_load_verify_file(t->cctx, roots) != 1) {
		tlsi_errstr(err, errcap, "cannot load the host's roots");
		rc = -AGW_EINVAL;
		goto out;
	}
	ERR_clear_error();
	if (upstream_ca && SSL_CTX_load_verify_file(t->cctx, upstream_ca) != 1) {
		char what[4200];

		snprintf(what, sizeof(what), "network.tls.upstream_ca %s: cannot load", upstream_ca);
		tlsi_errstr(err, errcap, what);
		rc = -AGW_EINVAL;
		goto out;
	}
	*out = t;
	t = NULL;
	rc = 0;
out:
	tlsi_free(t);
	return rc;
}

void tlsi_free(struct tlsi *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < TLSI_LEAF_CACHE; i++)
		X509_free(t->cache[i].cert);
	SSL_CTX_free(t->sctx);
	SSL_CTX_free(t->cctx);
	EVP_PKEY_free(t->leaf_key);
	tlsi_ca_free(t->ca);
	free(t);
}

uint64_t tlsi_minted(const struct tlsi *t)
{
	return t->minted;
}

/* ---- connections ---- */

SSL *tlsi_server(struct tlsi *t, const char *name, int fd, const uint8_t *pre, size_t pre_len)
{
	X509 *leaf = tlsi_leaf(t, name);
	SSL *ssl;
	BIO *b;

	if (!leaf)
		return NULL;
	ssl = SSL_new(t->sctx);
	if (!ssl)
		return NULL;
	if (SSL_use_certificate(ssl, leaf) != 1 || SSL_use_PrivateKey(ssl, t->leaf_key) != 1 ||
	    !(b = tlsi_bio_new(fd, pre, pre_len))) {
		SSL_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_bio(ssl, b, b);
	SSL_set_accept_state(ssl);
	return ssl;
}

SSL *tlsi_client(struct tlsi *t, const char *name, int fd)
{
	SSL *ssl = SSL_new(t->cctx);
	char sni[256]; /* SSL_set_tlsext_host_name's macro casts const away */

	if (!ssl)
		return NULL;
	snprintf(sni, sizeof(sni), "%s", name);
	if (SSL_set_fd(ssl, fd) != 1 || SSL_set_tlsext_host_name(ssl, sni) != 1 ||
	    SSL_set1_host(ssl, name) != 1) {
		SSL_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_connect_state(ssl);
	return ssl;
}

void tlsi_ssl_free(SSL *ssl)
{
	SSL_free(ssl);
}

/* Maps an SSL_get_error result: -EAGAIN with *want, 0 for a clean end,
 * -AGW_EPROTO otherwise. */
static int tlsi_err(SSL *ssl, int ret, unsigned *want)
{
	int e = SSL_get_error(ssl, ret);

	*want = 0;
	switch (e) {
	case SSL_ERROR_WANT_READ:
		*want = EV_READ;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		*want = EV_WRITE;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0 && (ret == 0 || errno == 0))
			return 0;
		ERR_clear_error();
		return -AGW_EPROTO;
	default:
		ERR_clear_error();
		return -AGW_EPROTO;
	}
}

int tlsi_handshake(SSL *ssl, unsigned *want, char *why, size_t cap)
{
	int r = SSL_do_handshake(ssl), rc;
	long vr;

	*want = 0;
	if (r == 1)
		return 1;
	rc = tlsi_err(ssl, r, want);
	if (rc == -EAGAIN)
		return 0;
	vr = SSL_get_verify_result(ssl);
	if (!SSL_is_server(ssl) && vr != X509_V_OK)
		snprintf(why, cap, "upstream certificate does not verify: %s",
			 X509_verify_cert_error_string(vr));
	else
		snprintf(why, cap, "TLS handshake failed%s",
			 rc == 0 ? " (peer closed)" : "");
	return -AGW_EPROTO;
}

ssize_t tlsi_read(SSL *ssl, void *buf, size_t cap, unsigned *want)
{
	size_t got = 0;
	int r;

	*want = 0;
	if (cap > INT32_MAX)
		cap = INT32_MAX;
	r = SSL_read_ex(ssl, buf, cap, &got);
	if (r == 1)
		return (ssize_t)got;
	return tlsi_err(ssl, 0, want);
}

ssize_t tlsi_write(SSL *ssl, const void *buf, size_t len, unsigned *want)
{
	size_t done = 0;
	int r, rc;

	*want = 0;
	if (!len)
		return 0;
	r = SSL_write_ex(ssl, buf, len, &done);
	if (r == 1)
		return (ssize_t)done;
	rc = tlsi_err(ssl, 0, want);
	return rc == 0 ? -AGW_EPROTO : rc;
}

void tlsi_shutdown(SSL *ssl)
{
	if (!ssl) /* plain TCP: every proxied connection's half-close comes here */
		return;
	if (SSL_is_init_finished(ssl))
		SSL_shutdown(ssl);
	ERR_clear_error();
}
