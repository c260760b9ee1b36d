// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Credentials (see cred.h): loading the secrets in the supervisor, and the
 * pure scanning and injection the net child does on request bytes.
 *
 * from: command: runs the command without a shell when it is a plain list
 * of words (no quotes, $, `, |, &, ;, <, >, (, ), *, ?, [, ~, #, \), so
 * nothing in it is interpreted twice; with shell syntax it goes to
 * /bin/sh -c. Either way its standard output (first CRED_VALUE_MAX bytes,
 * trailing newlines removed) is the value, it has CRED_CMD_TIMEOUT_MS to
 * finish, and its standard error passes through to the supervisor's.
 */
#include "cred.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- loading (supervisor) ---- */

static int cred_read_fd(int fd, char *buf, size_t cap, size_t *len, int64_t deadline_ms)
{
	*len = 0;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int64_t left = deadline_ms < 0 ? -1 : deadline_ms - agw_mono_us() / 1000;
		ssize_t r;

		if (deadline_ms >= 0) {
			if (left <= 0)
				return -ETIMEDOUT;
			/* A start-up helper with one fd and a deadline, before
			 * any loop exists. */
			if (poll(&pfd, 1, (int)left) == 0)
				return -ETIMEDOUT;
		}
		r = read(fd, buf + *len, cap - *len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return 0;
		*len += (size_t)r;
		if (*len == cap)
			return -AGW_ETOOBIG;
	}
}

static bool cred_needs_shell(const char *cmd)
{
	return strpbrk(cmd, "\"'$`|&;<>()*?[~#\\\n{}") != NULL;
}

static int cred_run(const char *cmd, char *buf, size_t cap, size_t *len, char *why, size_t wcap)
{
	static char sh[] = "/bin/sh", dash_c[] = "-c";
	char *copy = NULL, *argv[64];
	int pfd[2] = {-1, -1}, status = 0, rc;
	size_t argc = 0;
	pid_t pid;

	if (!cred_needs_shell(cmd)) {
		char *save = NULL;

		copy = strdup(cmd);
		if (!copy)
			return -AGW_ENOMEM;
		for (char *w = strtok_r(copy, " \t", &save); w && argc < 63;
		     w = strtok_r(NULL, " \t", &save))
			argv[argc++] = w;
	}
	if (!argc) {
		free(copy);
		copy = strdup(cmd);
		if (!copy)
			return -AGW_ENOMEM;
		argv[0] = sh;
		argv[1] = dash_c;
		argv[2] = copy;
		argc = 3;
	}
	argv[argc] = NULL;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		rc = -errno;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		goto out;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(pfd[1], 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	pfd[1] = -1;
	rc = cred_read_fd(pfd[0], buf, cap, len, agw_mono_us() / 1000 + CRED_CMD_TIMEOUT_MS);
	if (rc == -ETIMEDOUT || rc == -AGW_ETOOBIG)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rc == -ETIMEDOUT)
		snprintf(why, wcap, "command did not finish within %d s", CRED_CMD_TIMEOUT_MS / 1000);
	else if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
			snprintf(why, wcap, "command not found or not executable");
		else if (WIFEXITED(status))
			snprintf(why, wcap, "command exited with status %d", WEXITSTATUS(status));
		else
			snprintf(why, wcap, "command killed by signal %d", WTERMSIG(status));
		rc = -AGW_EINVAL;
	}
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	free(copy);
	return rc;
}

static int cred_value(const struct pol_cred *pc, char *buf, size_t cap, size_t *len, char *why,
		      size_t wcap)
{
	const char *from = pc->from;
	int rc = 0;

	*len = 0;
	why[0] = '\0';
	if (strncmp(from, "env:", 4) == 0) {
		const char *v = getenv(from + 4);

		if (!v) {
			snprintf(why, wcap, "environment variable %s is not set", from + 4);
			return -AGW_ENOTFOUND;
		}
		*len = strlen(v);
		if (*len >= cap)
			return -AGW_ETOOBIG;
		memcpy(buf, v, *len);
	} else if (strncmp(from, "file:", 5) == 0) {
		int fd = open(from + 5, O_RDONLY | O_CLOEXEC | O_NOCTTY);

		if (fd < 0) {
			rc = -errno;
			snprintf(why, wcap, "cannot read %s: %s", from + 5, strerror(errno));
			return rc;
		}
		rc = cred_read_fd(fd, buf, cap, len, -1);
		close(fd);
	} else if (strncmp(from, "command:", 8) == 0) {
		rc = cred_run(from + 8, buf, cap, len, why, wcap);
	} else {
		snprintf(why, wcap, "unknown source");
		return -AGW_EINVAL;
	}
	if (rc == -AGW_ETOOBIG)
		snprintf(why, wcap, "value longer than %d bytes", CRED_VALUE_MAX);
	if (rc)
		return rc;
	while (*len && (buf[*len - 1] == '\n' || buf[*len - 1] == '\r'))
		(*len)--;
	if (!*len) {
		snprintf(why, wcap, "the value is empty");
		return -AGW_EINVAL;
	}
	for (size_t i = 0; i < *len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			snprintf(why, wcap, "the value has control characters (a header "
					    "value cannot hold them)");
			return -AGW_EINVAL;
		}
	}
	return 0;
}

int cred_set_load(const struct pol *p, struct cred_set **out, char *err, size_t errcap)
{
	const struct pol_cred *pcs;
	struct cred_set *cs;
	size_t n = pol_creds(p, &pcs);
	char *buf = NULL;
	int rc = 0;

	*out = NULL;
	err[0] = '\0';
	cs = calloc(1, sizeof(*cs));
	if (!cs)
		return -AGW_ENOMEM;
	if (!n)
		goto done;
	cs->v = calloc(n, sizeof(*cs->v));
	buf = malloc(CRED_VALUE_MAX + 1);
	if (!cs->v || !buf) {
		rc = -AGW_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct cred *c = &cs->v[i];
		uint8_t rnd[16];
		char why[160];
		size_t len;

		snprintf(c->name, sizeof(c->name), "%s", pcs[i].name);
		snprintf(c->env, sizeof(c->env), "%s", pcs[i].env);
		snprintf(c->header, sizeof(c->header), "%s", pcs[i].header);
		cs->n++;
		rc = cred_value(&pcs[i], buf, CRED_VALUE_MAX + 1, &len, why, sizeof(why));
		if (rc) {
			snprintf(err, errcap, "credential '%s' (policy line %d, from %.*s): %s",
				 c->name, pcs[i].line, (int)strcspn(pcs[i].from, ":"),
				 pcs[i].from, why[0] ? why : agw_strerror(rc));
			goto out;
		}
		c->value = malloc(len + 1);
		if (!c->value) {
			rc = -AGW_ENOMEM;
			goto out;
		}
		memcpy(c->value, buf, len);
		c->value[len] = '\0';
		c->value_len = len;
		explicit_bzero(buf, CRED_VALUE_MAX + 1);
		madvise(c->value, len + 1, MADV_DONTDUMP); /* best effort: whole pages only */
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			rc = -errno;
			snprintf(err, errcap, "credential '%s': no random bytes", c->name);
			goto out;
		}
		for (size_t k = 0; k < sizeof(rnd); k++)
			snprintf(c->token + 2 * k, 3, "%02x", rnd[k]);
		c->ph_len = (size_t)snprintf(c->ph, sizeof(c->ph), "agw-placeholder-%s-%s", c->name,
					     c->token);
	}
	/* The process that read them keeps no copy in its environment:
	 * children forked later (QEMU's runner) must not inherit it. */
	for (size_t i = 0; i < n; i++)
		if (strncmp(pcs[i].from, "env:", 4) == 0)
			unsetenv(pcs[i].from + 4);
done:
	*out = cs;
	cs = NULL;
out:
	if (buf) {
		explicit_bzero(buf, CRED_VALUE_MAX + 1);
		free(buf);
	}
	cred_set_free(cs);
	return rc;
}

void cred_set_free(struct cred_set *cs)
{
	if (!cs)
		return;
	for (size_t i = 0; i < cs->n; i++) {
		if (cs->v[i].value) {
			explicit_bzero(cs->v[i].value, cs->v[i].value_len);
			free(cs->v[i].value);
		}
	}
	free(cs->v);
	free(cs);
}

const struct cred *cred_find(const struct cred_set *cs, const char *name)
{
	for (size_t i = 0; cs && name && i < cs->n; i++)
		if (strcmp(cs->v[i].name, name) == 0)
			return &cs->v[i];
	return NULL;
}

/* ---- scanning (pure) ---- */

int cred_find_any(const struct cred_set *cs, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; cs && i < cs->n; i++)
		if (memmem(buf, len, cs->v[i].ph, cs->v[i].ph_len))
			return (int)i;
	return -1;
}

int cred_find_dns(const struct cred_set *cs, const char *name)
{
	char flat[256];
	size_t k = 0;

	if (!cs || !cs->n || !name)
		return -1;
	for (const char *p = name; *p && k < sizeof(flat) - 1; p++)
		if (*p != '.')
			flat[k++] = (char)tolower((unsigned char)*p);
	flat[k] = '\0';
	for (size_t i = 0; i < cs->n; i++)
		if (strstr(flat, cs->v[i].token))
			return (int)i;
	return -1;
}

void cred_scan_init(struct cred_scan *sc)
{
	memset(sc, 0, sizeof(*sc));
}

int cred_scan_feed(const struct cred_set *cs, struct cred_scan *sc, const uint8_t *buf,
		   size_t len)
{
	uint8_t junction[2 * CRED_PH_MAX];
	size_t k, keep;
	int hit;

	if (!cs || !cs->n || sc->seen >= CRED_BODY_SCAN || !len)
		return -1;
	if (len > CRED_BODY_SCAN - sc->seen)
		len = (size_t)(CRED_BODY_SCAN - sc->seen);
	sc->seen += len;
	/* A placeholder split between the last piece and this one. */
	k = AGW_MIN(len, (size_t)CRED_PH_MAX);
	memcpy(junction, sc->tail, sc->tail_len);
	memcpy(junction + sc->tail_len, buf, k);
	hit = cred_find_any(cs, junction, sc->tail_len + k);
	if (hit < 0)
		hit = cred_find_any(cs, buf, len);
	if (hit >= 0)
		return hit;
	/* Keep the last CRED_PH_MAX - 1 bytes seen. */
	if (len >= CRED_PH_MAX - 1) {
		memcpy(sc->tail, buf + len - (CRED_PH_MAX - 1), CRED_PH_MAX - 1);
		sc->tail_len = CRED_PH_MAX - 1;
	} else {
		keep = AGW_MIN(sc->tail_len, (size_t)CRED_PH_MAX - 1 - len);
		memmove(sc->tail, sc->tail + sc->tail_len - keep, keep);
		memcpy(sc->tail + keep, buf, len);
		sc->tail_len = keep + len;
	}
	return -1;
}

static int cred_value_find(const struct cred_set *cs, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < cs->n; i++)
		if (cs->v[i].value && memmem(buf, len, cs->v[i].value, cs->v[i].value_len))
			return (int)i;
	return -1;
}

int cred_value_scan(const struct cred_set *cs, uint8_t *tail, size_t *tail_len,
		    const uint8_t *buf, size_t len)
{
	uint8_t junction[2 * CRED_VALUE_MAX];
	size_t k, keep, need = 1;
	int hit;

	if (!cs || !cs->n || !len)
		return -1;
	for (size_t i = 0; i < cs->n; i++)
		need = AGW_MAX(need, cs->v[i].value_len);
	k = AGW_MIN(len, need - 1);
	memcpy(junction, tail, *tail_len);
	memcpy(junction + *tail_len, buf, k);
	hit = cred_value_find(cs, junction, *tail_len + k);
	if (hit < 0)
		hit = cred_value_find(cs, buf, len);
	if (hit >= 0)
		return hit;
	/* Keep the last need - 1 bytes seen. */
	if (len >= need - 1) {
		memcpy(tail, buf + len - (need - 1), need - 1);
		*tail_len = need - 1;
	} else {
		keep = AGW_MIN(*tail_len, need - 1 - len);
		memmove(tail, tail + *tail_len - keep, keep);
		memcpy(tail + keep, buf, len);
		*tail_len = keep + len;
	}
	return -1;
}

size_t cred_value_partial(const struct cred_set *cs, const uint8_t *buf, size_t len)
{
	size_t best = 0;

	for (size_t i = 0; cs && i < cs->n; i++) {
		const struct cred *c = &cs->v[i];
		size_t k = AGW_MIN(len, c->value_len ? c->value_len - 1 : 0);

		/* Longest first; a candidate starts with the value's first byte. */
		for (; k > best; k--)
			if (buf[len - k] == (uint8_t)c->value[0] &&
			    memcmp(buf + len - k, c->value, k) == 0)
				break;
		if (k > best)
			best = k;
	}
	return best;
}

#define CRED_INJECT_MAX 8 /* replacements in one head */

int cred_head(const struct cred_set *cs, int inject, uint8_t *head, size_t len, size_t after,
	      size_t cap, size_t *newlen, unsigned *injected, int *leak, const char **where)
{
	size_t at[CRED_INJECT_MAX], nat = 0, pos = 0, total, cur;
	const struct cred *ic = inject >= 0 && cs && (size_t)inject < cs->n ? &cs->v[inject] : NULL;
	bool first = true;

	*newlen = len;
	*injected = 0;
	*leak = -1;
	*where = NULL;
	if (!cs || !cs->n)
		return 0;
	while (pos < len) {
		const uint8_t *eol = memchr(head + pos, '\n', len - pos);
		size_t end = eol ? (size_t)(eol - head) + 1 : len;
		const uint8_t *line = head + pos, *colon;
		size_t ll = end - pos, name_len = 0;

		colon = first ? NULL : memchr(line, ':', ll);
		if (colon)
			name_len = (size_t)(colon - line);
		for (size_t i = 0; i < cs->n; i++) {
			const struct cred *c = &cs->v[i];
			const uint8_t *from = line, *hit;

			while ((hit = memmem(from, ll - (size_t)(from - line), c->ph, c->ph_len))) {
				bool ok = c == ic && colon && hit > colon &&
					  name_len == strlen(c->header) &&
					  strncasecmp((const char *)line, c->header, name_len) == 0;

				if (!ok) {
					*leak = (int)i;
					*where = first ? "request line" : "header";
					return 1;
				}
				if (nat == CRED_INJECT_MAX)
					return -AGW_ETOOBIG;
				at[nat++] = (size_t)(hit - head);
				from = hit + c->ph_len;
			}
		}
		first = false;
		pos = end;
	}
	if (!nat)
		return 0;
	total = len + after - nat * ic->ph_len + nat * ic->value_len;
	if (total > cap)
		return -AGW_ETOOBIG;
	/* Right to left, so earlier offsets stay valid; what follows the
	 * head moves with it. */
	cur = len + after;
	for (size_t j = nat; j-- > 0;) {
		size_t tail = at[j] + ic->ph_len;

		memmove(head + at[j] + ic->value_len, head + tail, cur - tail);
		memcpy(head + at[j], ic->value, ic->value_len);
		cur = cur - ic->ph_len + ic->value_len;
	}
	len = cur - after;
	*newlen = len;
	*injected = (unsigned)nat;
	return 0;
}
