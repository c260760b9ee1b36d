// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Accelerator choice and the KVM probe boot. A cheap check (open /dev/kvm,
 * even a KVM_RUN of a hlt in real mode) passes on hosts whose nested KVM
 * cannot run a Linux guest, so the only proof is booting the real image to
 * HELLO. The verdict is cached in <state>/accel-probe as three lines, key, verdict and reason,
 * written to a temporary file and renamed so a reader never sees half of one.
 */
#include "accel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agw.h"
#include "supervisor/sbx.h"
#include "vmctl/vm.h"

#define ACCEL_CACHE_NAME "accel-probe"

int accel_parse(const char *s, enum qemu_accel *out)
{
	if (!s)
		return -AGW_EINVAL;
	if (strcmp(s, "auto") == 0)
		*out = QEMU_ACCEL_AUTO;
	else if (strcmp(s, "kvm") == 0)
		*out = QEMU_ACCEL_KVM;
	else if (strcmp(s, "tcg") == 0)
		*out = QEMU_ACCEL_TCG;
	else
		return -AGW_EINVAL;
	return 0;
}

int accel_requested(const char *flag, const char *policy, enum qemu_accel *out, const char **bad)
{
	const char *env = getenv("AGENTGW_ACCEL");

	*out = QEMU_ACCEL_AUTO;
	*bad = NULL;
	if (flag) {
		*bad = "--accel";
		return accel_parse(flag, out);
	}
	if (policy) {
		*bad = "sandbox.accel";
		return accel_parse(policy, out);
	}
	if (env && *env) {
		*bad = "AGENTGW_ACCEL";
		return accel_parse(env, out);
	}
	return 0;
}

int accel_key(const char *image_dir, char *buf, size_t cap)
{
	struct utsname u;
	struct stat st = {0};
	char qemu[512] = "?";
	int n;

	if (uname(&u) < 0)
		memset(&u, 0, sizeof(u));
	if (agw_which(qemu_binary(), qemu, sizeof(qemu)) == 0)
		stat(qemu, &st);
	n = snprintf(
	    buf, cap, "kernel=%s %s; qemu=%s size=%lld mtime=%lld.%09ld ino=%llu; image=%s",
	    u.release, u.version, qemu, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
	    st.st_mtim.tv_nsec, (unsigned long long)st.st_ino, image_dir ? image_dir : "?");
	for (char *c = buf; *c; c++)
		if (*c == '\n')
			*c = ' ';
	return n < 0 || (size_t)n >= cap ? -AGW_ETOOBIG : 0;
}

const char *accel_state_dir(void)
{
	const char *d = getenv("AGENTGW_STATE_DIR");

	return d && d[0] == '/' ? d : ACCEL_STATE_DIR_DEFAULT;
}

static int accel_cache_path(char *buf, size_t cap)
{
	return (size_t)snprintf(buf, cap, "%s/%s", accel_state_dir(), ACCEL_CACHE_NAME) < cap
		   ? 0
		   : -AGW_ETOOBIG;
}

/* mkdir -p, 0755; errors show up when the file is written. */
static void accel_mkdir_p(const char *dir)
{
	char p[512];

	if ((size_t)snprintf(p, sizeof(p), "%s", dir) >= sizeof(p))
		return;
	for (char *c = p + 1; *c; c++)
		if (*c == '/') {
			*c = 0;
			mkdir(p, 0755);
			*c = '/';
		}
	mkdir(p, 0755);
}

static void accel_chomp(char *s)
{
	s[strcspn(s, "\n")] = 0;
}

int accel_cache_read(const char *key, struct accel_verdict *v)
{
	char line[ACCEL_KEY_MAX + 16], verdict[64];
	long long us = 0;
	FILE *f;
	int r = -AGW_ENOTFOUND;

	memset(v, 0, sizeof(*v));
	if (accel_cache_path(v->cache, sizeof(v->cache)) < 0 || !(f = fopen(v->cache, "re")))
		return -AGW_ENOTFOUND;
	if (!fgets(line, sizeof(line), f) || (accel_chomp(line), strncmp(line, "key=", 4)) ||
	    strcmp(line + 4, key))
		goto out;
	if (!fgets(verdict, sizeof(verdict), f) ||
	    sscanf(verdict, "verdict=%*s probe_us=%lld", &us) != 1)
		goto out;
	if (strncmp(verdict, "verdict=kvm ", 12) == 0)
		v->accel = QEMU_ACCEL_KVM;
	else if (strncmp(verdict, "verdict=tcg ", 12) == 0)
		v->accel = QEMU_ACCEL_TCG;
	else
		goto out;
	if (!fgets(line, sizeof(line), f) || strncmp(line, "why=", 4))
		goto out;
	accel_chomp(line);
	snprintf(v->why, sizeof(v->why), "%.*s", (int)sizeof(v->why) - 1, line + 4);
	v->probe_us = us;
	v->cached = 1;
	r = 0;
out:
	fclose(f);
	return r;
}

static void accel_cache_write(const char *key, struct accel_verdict *v)
{
	char tmp[600];
	FILE *f;

	if (accel_cache_path(v->cache, sizeof(v->cache)) < 0)
		return;
	accel_mkdir_p(accel_state_dir());
	snprintf(tmp, sizeof(tmp), "%s.%d", v->cache, (int)getpid());
	if (!(f = fopen(tmp, "we"))) {
		v->cache[0] = 0;
		return;
	}
	fprintf(f, "key=%s\nverdict=%s probe_us=%lld\nwhy=%s\n", key, qemu_accel_name(v->accel),
		(long long)v->probe_us, v->why);
	if (fclose(f) != 0 || rename(tmp, v->cache) < 0) {
		unlink(tmp);
		v->cache[0] = 0;
	}
}

/* Remove the probe's state folder (its logs were quoted into the verdict). */
static void accel_rm_state(const char *dir)
{
	static const char *const files[] = {"console.log", "qemu.log", "ctl.sock", "qmp.sock",
					    "root"};
	char p[600];

	for (size_t i = 0; i < AGW_ARRAY_LEN(files); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		if (unlink(p) < 0 && errno == EISDIR)
			rmdir(p);
	}
	rmdir(dir);
}

int accel_probe(const char *key, const char *kernel, const char *initrd, int timeout_ms,
		struct accel_verdict *v)
{
	struct vm_cfg cfg = {.kernel = kernel,
			     .initrd = initrd,
			     .accel = QEMU_ACCEL_KVM,
			     .tap_fd = -1,
			     .mem_mb = 256};
	char state[512], err[4096];
	const char *env = getenv("AGENTGW_KVM_PROBE_TIMEOUT_MS");
	struct vm *vm = NULL;
	int64_t t0;
	int r;

	memset(v, 0, sizeof(*v));
	if (timeout_ms <= 0)
		timeout_ms = env && atoi(env) > 0 ? atoi(env) : ACCEL_PROBE_TIMEOUT_MS;
	mkdir(sbx_run_dir(), 0755);
	if ((size_t)snprintf(state, sizeof(state), "%s/.accel-probe.%d", sbx_run_dir(),
			     (int)getpid()) >= sizeof(state)) {
		snprintf(v->why, sizeof(v->why), "run dir path too long");
		return -AGW_ETOOBIG;
	}
	cfg.state_dir = state;
	cfg.boot_timeout_ms = timeout_ms;
	t0 = agw_mono_us();
	r = vm_start(&cfg, &vm, err, sizeof(err));
	v->probe_us = agw_mono_us() - t0;
	v->probed = 1;
	if (r == 0) {
		v->accel = QEMU_ACCEL_KVM;
		snprintf(v->why, sizeof(v->why), "the guest booted under KVM in %lld ms",
			 (long long)(v->probe_us / 1000));
		vm_stop(vm, 3000);
		vm_free(vm);
	} else {
		v->accel = QEMU_ACCEL_TCG;
		accel_chomp(err); /* the first line says what failed and quotes the logs */
		snprintf(v->why, sizeof(v->why), "%.*s", (int)sizeof(v->why) - 1,
			 err[0] ? err : agw_strerror(r));
	}
	accel_rm_state(state);
	accel_cache_write(key, v);
	return 0;
}

int accel_resolve(enum qemu_accel want, const char *image_dir, const char *kernel,
		  const char *initrd, struct accel_verdict *v)
{
	char key[ACCEL_KEY_MAX];
	int r;

	memset(v, 0, sizeof(*v));
	if (want != QEMU_ACCEL_AUTO) {
		v->accel = want;
		snprintf(v->why, sizeof(v->why), "asked for %s", qemu_accel_name(want));
		return 0;
	}
	if (!qemu_kvm_usable()) {
		v->accel = QEMU_ACCEL_TCG;
		snprintf(v->why, sizeof(v->why), "no usable /dev/kvm");
		return 0;
	}
	if ((r = accel_key(image_dir, key, sizeof(key))) < 0) {
		snprintf(v->why, sizeof(v->why), "cache key: %s", agw_strerror(r));
		return r;
	}
	if (accel_cache_read(key, v) == 0)
		return 0;
	return accel_probe(key, kernel, initrd, 0, v);
}

void accel_note(enum qemu_accel want, const struct accel_verdict *v, char *buf, size_t cap)
{
	buf[0] = 0;
	if (want != QEMU_ACCEL_AUTO || v->accel != QEMU_ACCEL_TCG || (!v->probed && !v->cached))
		return;
	snprintf(buf, cap,
		 "KVM cannot boot the guest on this host (%s%s); using TCG (software, slower). "
		 "Force one with --accel kvm|tcg or AGENTGW_ACCEL=kvm|tcg%s%s",
		 v->cached ? "cached verdict: " : "", v->why,
		 v->cache[0] ? "; to probe again: rm " : "", v->cache);
}
