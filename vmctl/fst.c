// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The /workspace transport choice: parsing, precedence, and whether this
 * host's QEMU and the image can do virtio-fs.
 */
#include "vmctl/fst.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agw.h"
#include "vmctl/qemu.h"

int fst_parse(const char *s, enum fst *out)
{
	if (!s)
		return -AGW_EINVAL;
	if (!strcmp(s, "auto"))
		*out = FST_AUTO;
	else if (!strcmp(s, "virtiofs"))
		*out = FST_VIRTIOFS;
	else if (!strcmp(s, "9p"))
		*out = FST_9P;
	else
		return -AGW_EINVAL;
	return 0;
}

const char *fst_name(enum fst t)
{
	return t == FST_VIRTIOFS ? "virtiofs" : t == FST_9P ? "9p" : "auto";
}

int fst_requested(const char *flag, const char *policy, enum fst *out, const char **bad)
{
	const char *env = getenv("AGENTGW_FS_TRANSPORT");

	*out = FST_AUTO;
	*bad = NULL;
	if (flag) {
		*bad = "--fs-transport";
		return fst_parse(flag, out);
	}
	if (policy) {
		*bad = "sandbox.fs_transport";
		return fst_parse(policy, out);
	}
	if (env && *env) {
		*bad = "AGENTGW_FS_TRANSPORT";
		return fst_parse(env, out);
	}
	return 0;
}

/*
 * Does the image's manifest list the virtiofs module? An image with a root
 * filesystem names its kernel-and-initramfs image as "base HEX" (a sibling
 * folder): that one's manifest says (one level only).
 */
static int fst_image_ok(const char *image_dir, int depth)
{
	char path[1024], line[2048], base[64] = "";
	FILE *f;
	int ok = 0;

	if (!image_dir ||
	    snprintf(path, sizeof(path), "%s/manifest.txt", image_dir) >= (int)sizeof(path))
		return 0;
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "modules ", 8) == 0 && strstr(line, " virtiofs"))
			ok = 1;
		else if (strncmp(line, "base ", 5) == 0)
			sscanf(line + 5, "%63[0-9a-f]", base);
	}
	fclose(f);
	if (!ok && base[0] && depth == 0) {
		const char *slash;
		int n;

		/* image_dir may end in '/': drop it, then the last component */
		n = (int)strlen(image_dir);
		while (n > 1 && image_dir[n - 1] == '/')
			n--;
		slash = memrchr(image_dir, '/', (size_t)n);
		n = slash ? (int)(slash - image_dir) : 0;
		if (snprintf(path, sizeof(path), "%.*s%s%s", n, image_dir, slash ? "/" : "", base) <
		    (int)sizeof(path))
			ok = fst_image_ok(path, 1);
	}
	return ok;
}

/* Does `qemu -device help` list vhost-user-fs-device? */
static int fst_qemu_ok(void)
{
	static char out[64 * 1024];
	int p[2], st = 0, found = 0;
	size_t len = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return 0;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return 0;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(p[1], 1);
		dup2(null, 2);
		execlp(qemu_binary(), qemu_binary(), "-device", "help", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		ssize_t n = read(p[0], out + len, sizeof(out) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof(out) - 1)
			break;
	}
	out[len] = 0;
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	found = strstr(out, "\"vhost-user-fs-device\"") != NULL;
	return found;
}

int fst_virtiofs_ok(const char *image_dir, char *why, size_t cap)
{
	if (!fst_image_ok(image_dir, 0)) {
		snprintf(why, cap,
			 "the image %s has no virtiofs module (rebuild it with 'agentgw "
			 "image build')",
			 image_dir ? image_dir : "?");
		return 0;
	}
	if (!fst_qemu_ok()) {
		snprintf(why, cap, "%s has no vhost-user-fs-device", qemu_binary());
		return 0;
	}
	snprintf(why, cap, "QEMU and the image support virtio-fs");
	return 1;
}

int fst_resolve(enum fst want, const char *image_dir, enum fst *out, char *why, size_t cap)
{
	*out = FST_9P;
	if (want == FST_9P) {
		snprintf(why, cap, "9p requested");
		return 0;
	}
	if (fst_virtiofs_ok(image_dir, why, cap)) {
		*out = FST_VIRTIOFS;
		return 0;
	}
	return want == FST_VIRTIOFS ? -AGW_EINVAL : 0;
}
