// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for 9P2000.L: decodes the input as one message (and
 * re-encodes what decodes, which must reproduce the bytes), then feeds the
 * input as a byte stream to a p9_conn serving a small policed workspace in
 * a temporary folder (read everywhere, everything under sub/, which the
 * diod seeds walk into), so framing, the fid table and every operation's
 * argument handling see hostile bytes. The folder is removed at exit.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agw.h"
#include "audit/aud.h"
#include "gateway/fs/p9_msg.h"
#include "gateway/fs/p9_srv.h"
#include "log.h"
#include "policies/pol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pol *fz_pol;
static int fz_root = -1;
static char fz_ws[] = "/tmp/agw-fuzz-p9-XXXXXX";

static int fz_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

static void fz_cleanup(void)
{
	nftw(fz_ws, fz_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static int fz_emit(void *ctx, const struct aud_event *ev)
{
	(void)ctx;
	return ev->op && ev->decision ? 0 : -1;
}

static void fz_init(void)
{
	char *ws = fz_ws, pol[512];
	struct pol_errors errs = {0};
	FILE *f;
	int n;

	if (fz_root >= 0 || !mkdtemp(ws))
		return;
	atexit(fz_cleanup);
	log_set_level(LOG_LVL_ERROR); /* protocol errors are the normal case here */
	/* Changes only below sub/, inside the temporary folder. */
	n = snprintf(pol, sizeof(pol),
		     "version: 1\nname: fuzz\nfilesystem:\n  workspace: %s\n  allow:\n"
		     "    - { path: \"**\", access: [read] }\n"
		     "    - { path: \"sub/**\", access: [read, write, create, delete] }\n",
		     ws);
	if (pol_load_buf("fuzz.yaml", pol, (size_t)n, "/", &fz_pol, &errs) < 0)
		fz_pol = NULL;
	pol_errors_free(&errs);
	fz_root = open(ws, O_PATH | O_DIRECTORY | O_CLOEXEC);
	snprintf(pol, sizeof(pol), "%s/sub", ws);
	mkdir(pol, 0755);
	snprintf(pol, sizeof(pol), "%s/file", ws);
	f = fopen(pol, "w");
	if (f) {
		fputs("content\n", f);
		fclose(f);
	}
}

static void fz_decode(const uint8_t *data, size_t size)
{
	struct p9_msg m;
	uint8_t *out;
	size_t len = 0;

	if (p9_decode(data, size, &m) != 0)
		return;
	out = malloc(size + 16);
	if (!out)
		return;
	if (p9_encode(&m, out, size + 16, &len) != 0 || len != size || memcmp(out, data, size))
		abort(); /* decode and encode disagree */
	free(out);
}

static void fz_conn(const uint8_t *data, size_t size)
{
	struct p9_srv_config cfg = {0};
	struct p9_srv *srv = NULL;
	struct p9_conn *c = NULL;
	/* Start every stream with a Tversion so the rest reaches the operations. */
	static const uint8_t tversion[] = {21, 0, 0,   0,   100, 0xff, 0xff, 0,	  0x20, 0,  0,
					   8,  0, '9', 'P', '2', '0',  '0',  '0', '.',	'L'};

	if (!fz_pol || fz_root < 0)
		return;
	cfg.root_fd = fz_root;
	cfg.pol = fz_pol;
	cfg.emit = fz_emit;
	cfg.owner_uid = (uid_t)-1;
	cfg.owner_gid = (gid_t)-1;
	cfg.max_fids = 64;
	if (p9_srv_new(&cfg, &srv) < 0)
		return;
	if (p9_conn_new(srv, "fuzz", &c) == 0 &&
	    p9_conn_input(c, tversion, sizeof(tversion)) == 0) {
		size_t off = 0, n;

		while (off < size) {
			size_t room = p9_conn_room(c);
			int rc;

			if (room == 0) {
				p9_conn_output(c, &n);
				p9_conn_consume(c, n);
				if (p9_conn_process(c) < 0)
					break;
				room = p9_conn_room(c);
				if (room == 0)
					break;
			}
			n = AGW_MIN(room, size - off);
			rc = p9_conn_input(c, data + off, n);
			off += n;
			if (rc < 0)
				break;
			p9_conn_output(c, &n);
			p9_conn_consume(c, n);
		}
	}
	p9_conn_free(c);
	p9_srv_free(srv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_init();
	fz_decode(data, size);
	fz_conn(data, size);
	return 0;
}
