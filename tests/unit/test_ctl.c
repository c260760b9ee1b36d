// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the control protocol codec (vmctl/ctl.h): round trips of
 * every message, truncated and oversized frames, malformed payloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agw.h"
#include "vmctl/ctl.h"

static uint8_t buf[CTL_MAX_FRAME + 64];

static void parse_ok(int len, struct ctl_hdr *h)
{
	size_t flen = 0;

	assert_true(len >= CTL_HDR_LEN);
	assert_int_equal(ctl_frame_parse(buf, (size_t)len, h, &flen), 0);
	assert_int_equal(flen, (size_t)len);
	/* Every proper prefix needs more bytes. */
	for (int k = 0; k < len; k += (len > 64 ? 7 : 1))
		assert_int_equal(ctl_frame_parse(buf, (size_t)k, h, &flen), -AGW_ETRUNC);
	assert_int_equal(ctl_frame_parse(buf, (size_t)len, h, &flen), 0);
}

static void test_hello(void **state)
{
	struct ctl_hdr h;
	uint32_t v, m;
	int len = ctl_encode_hello(buf, sizeof(buf), "agentgw-init 0.1.0");

	(void)state;
	parse_ok(len, &h);
	assert_int_equal(h.type, CTL_HELLO);
	assert_int_equal(h.id, 0);
	assert_int_equal(ctl_hello_decode(buf + CTL_HDR_LEN, h.len, &v, &m), 0);
	assert_int_equal(v, CTL_VERSION);
	assert_int_equal(m, CTL_MAX_PAYLOAD);
	assert_memory_equal(buf + CTL_HDR_LEN + 8, "agentgw-init 0.1.0", 18);
	assert_int_equal(ctl_hello_decode(buf + CTL_HDR_LEN, 7, &v, &m), -AGW_EPROTO);
}

static void test_exec_roundtrip(void **state)
{
	const char *argv[] = {"sh", "-c", "echo hello; exit 3", NULL};
	const char *env[] = {"PATH=/bin", "A=", NULL};
	struct ctl_exec e;
	struct ctl_hdr h;
	int len = ctl_encode_exec(buf, sizeof(buf), 42, argv, env, "/workspace", 1, 50, 132);

	(void)state;
	parse_ok(len, &h);
	assert_int_equal(h.type, CTL_EXEC);
	assert_int_equal(h.id, 42);
	assert_int_equal(h.flags, CTL_EXEC_PTY);
	assert_int_equal(ctl_exec_decode(buf + CTL_HDR_LEN, h.len, h.flags, &e), 0);
	assert_true(e.pty);
	assert_int_equal(e.rows, 50);
	assert_int_equal(e.cols, 132);
	assert_string_equal(e.cwd, "/workspace");
	assert_int_equal(e.argc, 3);
	assert_string_equal(e.argv[0], "sh");
	assert_string_equal(e.argv[2], "echo hello; exit 3");
	assert_null(e.argv[3]);
	assert_int_equal(e.envc, 2);
	assert_string_equal(e.env[1], "A=");
	assert_null(e.env[2]);
}

static void test_exec_no_env_no_cwd(void **state)
{
	const char *argv[] = {"true", NULL};
	struct ctl_exec e;
	struct ctl_hdr h;
	int len = ctl_encode_exec(buf, sizeof(buf), 1, argv, NULL, NULL, 0, 0, 0);

	(void)state;
	parse_ok(len, &h);
	assert_int_equal(ctl_exec_decode(buf + CTL_HDR_LEN, h.len, h.flags, &e), 0);
	assert_false(e.pty);
	assert_string_equal(e.cwd, "");
	assert_int_equal(e.envc, 0);
	assert_null(e.env[0]);
}

static void test_exec_user(void **state)
{
	const char *argv[] = {"id", "-u", NULL};
	const char *env[] = {"K=V", NULL};
	struct ctl_exec e;
	struct ctl_hdr h;
	int len = ctl_encode_exec_as(buf, sizeof(buf), 7, argv, env, "/tmp", "root", 0, 0, 0);

	(void)state;
	parse_ok(len, &h);
	assert_int_equal(h.flags, CTL_EXEC_USER);
	assert_int_equal(ctl_exec_decode(buf + CTL_HDR_LEN, h.len, h.flags, &e), 0);
	assert_string_equal(e.user, "root");
	assert_string_equal(e.cwd, "/tmp");
	assert_string_equal(e.argv[1], "-u");
	assert_string_equal(e.env[0], "K=V");
	/* Without the flag the same payload has one string too many. */
	assert_int_equal(ctl_exec_decode(buf + CTL_HDR_LEN, h.len, 0, &e), -AGW_EPROTO);
	/* "" is the default user: no flag, no string. */
	len = ctl_encode_exec_as(buf, sizeof(buf), 7, argv, NULL, NULL, "", 0, 0, 0);
	parse_ok(len, &h);
	assert_int_equal(h.flags, 0);
	assert_int_equal(ctl_exec_decode(buf + CTL_HDR_LEN, h.len, h.flags, &e), 0);
	assert_string_equal(e.user, "");
	/* The flag with an empty user name is malformed. */
	len = ctl_encode_exec(buf, sizeof(buf), 7, argv, NULL, NULL, 0, 0, 0);
	parse_ok(len, &h);
	assert_int_equal(ctl_exec_decode(buf + CTL_HDR_LEN, h.len, CTL_EXEC_USER, &e),
			 -AGW_EPROTO);
}

static void test_exec_bad(void **state)
{
	const char *argv[] = {"ls", "/", NULL};
	const char *empty[] = {NULL};
	const char *emptyname[] = {"", NULL};
	struct ctl_exec e;
	struct ctl_hdr h;
	int len;

	(void)state;
	assert_int_equal(ctl_encode_exec(buf, sizeof(buf), 1, empty, NULL, NULL, 0, 0, 0),
			 -AGW_EINVAL);
	len = ctl_encode_exec(buf, sizeof(buf), 1, emptyname, NULL, NULL, 0, 0, 0);
	parse_ok(len, &h);
	assert_int_equal(ctl_exec_decode(buf + CTL_HDR_LEN, h.len, 0, &e), -AGW_EPROTO);

	len = ctl_encode_exec(buf, sizeof(buf), 1, argv, NULL, "/", 0, 0, 0);
	parse_ok(len, &h);
	/* Missing NUL at the end. */
	assert_int_equal(ctl_exec_decode(buf + CTL_HDR_LEN, h.len - 1, 0, &e), -AGW_EPROTO);
	/* Trailing garbage after the strings. */
	buf[len] = 'x';
	buf[len + 1] = 0;
	assert_int_equal(ctl_exec_decode(buf + CTL_HDR_LEN, h.len + 2, 0, &e), -AGW_EPROTO);
	/* argc larger than the strings present. */
	buf[CTL_HDR_LEN + 7] = 9;
	assert_int_equal(ctl_exec_decode(buf + CTL_HDR_LEN, h.len, 0, &e), -AGW_EPROTO);
	/* argc over the maximum. */
	buf[CTL_HDR_LEN + 6] = 0xff;
	assert_int_equal(ctl_exec_decode(buf + CTL_HDR_LEN, h.len, 0, &e), -AGW_EPROTO);
	assert_int_equal(ctl_exec_decode(buf + CTL_HDR_LEN, 11, 0, &e), -AGW_EPROTO);
}

static void test_exec_too_big(void **state)
{
	static char big[CTL_MAX_PAYLOAD];
	const char *argv[] = {"echo", big, NULL};
	const char *many[CTL_MAX_ARGS + 2];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	assert_int_equal(ctl_encode_exec(buf, sizeof(buf), 1, argv, NULL, NULL, 0, 0, 0),
			 -AGW_ETOOBIG);
	for (int i = 0; i < CTL_MAX_ARGS + 1; i++)
		many[i] = "x";
	many[CTL_MAX_ARGS + 1] = NULL;
	assert_int_equal(ctl_encode_exec(buf, sizeof(buf), 1, many, NULL, NULL, 0, 0, 0),
			 -AGW_ETOOBIG);
	many[CTL_MAX_ARGS] = NULL;
	assert_true(ctl_encode_exec(buf, sizeof(buf), 1, many, NULL, NULL, 0, 0, 0) > 0);
	/* A small output buffer is refused, not overrun. */
	assert_int_equal(ctl_encode_exec(buf, 20, 1, many, NULL, NULL, 0, 0, 0), -AGW_ETOOBIG);
}

static void test_streams_and_small_messages(void **state)
{
	struct ctl_hdr h;
	uint16_t rows, cols;
	uint32_t v;
	int32_t code;
	const char *text;
	size_t tl;
	int len;

	(void)state;
	len = ctl_encode(buf, sizeof(buf), CTL_STDOUT, 0, 7, "hello\n", 6);
	parse_ok(len, &h);
	assert_int_equal(h.type, CTL_STDOUT);
	assert_int_equal(h.len, 6);
	assert_memory_equal(buf + CTL_HDR_LEN, "hello\n", 6);

	len = ctl_encode(buf, sizeof(buf), CTL_STDIN_EOF, 0, 7, NULL, 0);
	parse_ok(len, &h);
	assert_int_equal(h.len, 0);

	len = ctl_encode_resize(buf, sizeof(buf), 7, 40, 100);
	parse_ok(len, &h);
	assert_int_equal(ctl_resize_decode(buf + CTL_HDR_LEN, h.len, &rows, &cols), 0);
	assert_int_equal(rows, 40);
	assert_int_equal(cols, 100);

	len = ctl_encode_u32(buf, sizeof(buf), CTL_SIGNAL, 7, 15);
	parse_ok(len, &h);
	assert_int_equal(ctl_u32_decode(buf + CTL_HDR_LEN, h.len, &v), 0);
	assert_int_equal(v, 15);
	assert_int_equal(ctl_u32_decode(buf + CTL_HDR_LEN, 3, &v), -AGW_EPROTO);

	len = ctl_encode_exit(buf, sizeof(buf), 7, -1, 9);
	parse_ok(len, &h);
	assert_int_equal(ctl_exit_decode(buf + CTL_HDR_LEN, h.len, &code, &v), 0);
	assert_int_equal(code, -1);
	assert_int_equal(v, 9);

	len = ctl_encode_error(buf, sizeof(buf), 7, 2, "exec nope: No such file");
	parse_ok(len, &h);
	assert_int_equal(ctl_error_decode(buf + CTL_HDR_LEN, h.len, &code, &text, &tl), 0);
	assert_int_equal(code, 2);
	assert_int_equal(tl, strlen("exec nope: No such file"));
	assert_memory_equal(text, "exec nope: No such file", tl);
	assert_int_equal(ctl_error_decode(buf + CTL_HDR_LEN, 3, &code, &text, &tl), -AGW_EPROTO);
}

static void test_frame_limits(void **state)
{
	static uint8_t data[CTL_MAX_PAYLOAD + 1];
	struct ctl_hdr h;
	size_t flen;
	int len;

	(void)state;
	len = ctl_encode(buf, sizeof(buf), CTL_STDOUT, 0, 1, data, CTL_MAX_PAYLOAD);
	assert_int_equal(len, CTL_MAX_FRAME);
	parse_ok(len, &h);
	assert_int_equal(ctl_encode(buf, sizeof(buf), CTL_STDOUT, 0, 1, data, CTL_MAX_PAYLOAD + 1),
			 -AGW_ETOOBIG);
	assert_int_equal(ctl_encode(buf, 11, CTL_STDIN_EOF, 0, 1, NULL, 0), -AGW_ETOOBIG);
	assert_int_equal(ctl_encode(buf, sizeof(buf), 0, 0, 1, NULL, 0), -AGW_EINVAL);
	assert_int_equal(ctl_encode(buf, sizeof(buf), CTL_TYPE_MAX + 1, 0, 1, NULL, 0),
			 -AGW_EINVAL);
	/* A header announcing too much is rejected before the payload arrives. */
	memcpy(buf, "\x00\x01\x00\x01\x00\x08\x00\x00\x00\x00\x00\x01", 12);
	assert_int_equal(ctl_frame_parse(buf, 12, &h, &flen), -AGW_ETOOBIG);
	memcpy(buf, "\x00\x00\x00\x00\x00\x63\x00\x00\x00\x00\x00\x01", 12);
	assert_int_equal(ctl_frame_parse(buf, 12, &h, &flen), -AGW_EPROTO);
	/* Two frames back to back parse one at a time. */
	len = ctl_encode(buf, sizeof(buf), CTL_STDOUT, 0, 1, "ab", 2);
	assert_int_equal(ctl_encode(buf + len, sizeof(buf) - (size_t)len, CTL_STDERR, 0, 2, "c", 1),
			 13);
	assert_int_equal(ctl_frame_parse(buf, (size_t)len + 13, &h, &flen), 0);
	assert_int_equal(flen, 14);
	assert_int_equal(ctl_frame_parse(buf + flen, 13, &h, &flen), 0);
	assert_int_equal(h.type, CTL_STDERR);
	assert_int_equal(h.id, 2);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(ctl_type_name(CTL_EXEC), "EXEC");
	assert_string_equal(ctl_type_name(CTL_POWEROFF), "POWEROFF");
	assert_string_equal(ctl_type_name(0), "?");
	assert_string_equal(ctl_type_name(999), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hello),
	    cmocka_unit_test(test_exec_roundtrip),
	    cmocka_unit_test(test_exec_no_env_no_cwd),
	    cmocka_unit_test(test_exec_user),
	    cmocka_unit_test(test_exec_bad),
	    cmocka_unit_test(test_exec_too_big),
	    cmocka_unit_test(test_streams_and_small_messages),
	    cmocka_unit_test(test_frame_limits),
	    cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
