// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Approvals without sockets: the pending table (ids, duplicates, the
 * limit, deadlines and expiry in order), the rules session and always add
 * (appr_rule_yaml, refused for paths a rule cannot state literally), the
 * IPC ask and answer codecs (round trip, hostile input refused), and
 * pol_text_add_rule on the shapes a policy file takes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agw.h"
#include "ipc.h"
#include "policies/pol.h"
#include "supervisor/appr.h"

static struct ipc_ask mkask(uint32_t id, unsigned kind, const char *subject, uint16_t port,
			    uint8_t access)
{
	struct ipc_ask q = {.id = id, .kind = (uint8_t)kind, .port = port, .access = access};

	strcpy(q.subject, subject);
	return q;
}

static void test_table(void **state)
{
	static struct appr_tab t;
	struct appr_item *it;
	struct ipc_ask q = mkask(7, IPC_ASK_CONNECT, "a.test", 443, 0);
	uint32_t ids[8];

	(void)state;
	memset(&t, 0, sizeof(t));
	assert_int_equal(appr_tab_next_deadline(&t), -1);
	assert_int_equal(appr_tab_add(&t, 0, &q, 1000, 30000, &it), 0);
	assert_int_equal(it->id, 1);
	assert_int_equal(it->deadline_ms, 31000);
	/* the same child id twice is a protocol error; another child may */
	assert_int_equal(appr_tab_add(&t, 0, &q, 1000, 30000, &it), -AGW_EINVAL);
	assert_int_equal(appr_tab_add(&t, 1, &q, 2000, 5000, &it), 0);
	assert_int_equal(it->id, 2);
	assert_int_equal(appr_tab_next_deadline(&t), 7000);
	assert_int_equal(appr_tab_expired(&t, 6999, ids, 8), 0);
	assert_int_equal(appr_tab_expired(&t, 7000, ids, 8), 1);
	assert_int_equal(ids[0], 2);
	assert_int_equal(appr_tab_expired(&t, 40000, ids, 8), 2);
	assert_int_equal(ids[0], 1);
	assert_non_null(appr_tab_find(&t, 1));
	appr_tab_del(&t, 1);
	assert_null(appr_tab_find(&t, 1));
	assert_int_equal(t.n, 1);
	appr_tab_del(&t, 99);
	assert_int_equal(t.n, 1);
	/* full: the next is refused, ids keep counting up */
	for (uint32_t i = 0; t.n < APPR_MAX; i++) {
		q.id = 100 + i;
		assert_int_equal(appr_tab_add(&t, 0, &q, 0, 1000, &it), 0);
	}
	q.id = 99999;
	assert_int_equal(appr_tab_add(&t, 0, &q, 0, 1000, &it), -AGW_EFULL);
	appr_tab_del(&t, 2);
	assert_int_equal(appr_tab_add(&t, 0, &q, 0, 1000, &it), 0);
	assert_int_equal(it->id, APPR_MAX + 2);
}

static void test_rule_yaml(void **state)
{
	struct appr_item it = {0};
	char buf[256];

	(void)state;
	it.q = mkask(1, IPC_ASK_DNS, "new.test", 0, 0);
	assert_int_equal(appr_rule_yaml(&it, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "{ host: \"new.test\" }");
	it.q = mkask(1, IPC_ASK_CONNECT, "new.test", 8443, 0);
	assert_int_equal(appr_rule_yaml(&it, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "{ host: \"new.test\", ports: [8443] }");
	it.q = mkask(1, IPC_ASK_FS, "src/a b.c", 0, POL_ACC_READ | POL_ACC_WRITE);
	assert_int_equal(appr_rule_yaml(&it, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "{ path: \"src/a b.c\", access: [read,write] }");
	/* a path with glob characters or quotes would say more than it asked */
	it.q = mkask(1, IPC_ASK_FS, "src/*", 0, POL_ACC_READ);
	assert_int_equal(appr_rule_yaml(&it, buf, sizeof(buf)), -AGW_EINVAL);
	it.q = mkask(1, IPC_ASK_FS, "a\"b", 0, POL_ACC_READ);
	assert_int_equal(appr_rule_yaml(&it, buf, sizeof(buf)), -AGW_EINVAL);
	it.q = mkask(1, IPC_ASK_CONNECT, "new.test", 443, 0);
	assert_int_equal(appr_rule_yaml(&it, buf, 8), -AGW_ETOOBIG);
}

static void test_ipc_ask(void **state)
{
	struct ipc_ask q = mkask(42, IPC_ASK_CONNECT, "a.test", 443, 0), r;
	struct ipc_answer a = {.id = 42, .approval = 9, .allow = true, .scope = IPC_SCOPE_SESSION},
			  b;
	uint8_t buf[2048];
	size_t len;

	(void)state;
	strcpy(q.rule, "network.allow[3]");
	assert_int_equal(ipc_ask_encode(&q, buf, sizeof(buf), &len), 0);
	assert_int_equal(ipc_ask_decode(buf, len, &r), 0);
	assert_int_equal(r.id, 42);
	assert_int_equal(r.port, 443);
	assert_string_equal(r.subject, "a.test");
	assert_string_equal(r.rule, "network.allow[3]");
	/* every truncation and one byte too many are refused */
	for (size_t k = 0; k < len; k++)
		assert_int_equal(ipc_ask_decode(buf, k, &r), -AGW_EPROTO);
	buf[len] = 0;
	assert_int_equal(ipc_ask_decode(buf, len + 1, &r), -AGW_EPROTO);
	/* a connect without a port, a name with a space, an unknown kind,
	 * fs with a port or no access */
	q.port = 0;
	assert_int_equal(ipc_ask_encode(&q, buf, sizeof(buf), &len), 0);
	assert_int_equal(ipc_ask_decode(buf, len, &r), -AGW_EPROTO);
	q = mkask(1, IPC_ASK_DNS, "a b.test", 0, 0);
	assert_int_equal(ipc_ask_encode(&q, buf, sizeof(buf), &len), 0);
	assert_int_equal(ipc_ask_decode(buf, len, &r), -AGW_EPROTO);
	q = mkask(1, 9, "a.test", 0, 0);
	assert_int_equal(ipc_ask_encode(&q, buf, sizeof(buf), &len), 0);
	assert_int_equal(ipc_ask_decode(buf, len, &r), -AGW_EPROTO);
	q = mkask(1, IPC_ASK_FS, "a/b", 0, 0);
	assert_int_equal(ipc_ask_encode(&q, buf, sizeof(buf), &len), 0);
	assert_int_equal(ipc_ask_decode(buf, len, &r), -AGW_EPROTO);
	q = mkask(1, IPC_ASK_FS, "a/\x01", 0, POL_ACC_READ);
	assert_int_equal(ipc_ask_encode(&q, buf, sizeof(buf), &len), 0);
	assert_int_equal(ipc_ask_decode(buf, len, &r), -AGW_EPROTO);
	q = mkask(1, IPC_ASK_FS, "dir/file name", 0, POL_ACC_WRITE);
	assert_int_equal(ipc_ask_encode(&q, buf, sizeof(buf), &len), 0);
	assert_int_equal(ipc_ask_decode(buf, len, &r), 0);

	/* senders check subjects first: what decode refuses is never sent */
	assert_true(ipc_ask_subject_ok(IPC_ASK_CONNECT, "a-b_c.test"));
	assert_false(ipc_ask_subject_ok(IPC_ASK_CONNECT, "a!b.test"));
	assert_false(ipc_ask_subject_ok(IPC_ASK_DNS, ""));
	assert_true(ipc_ask_subject_ok(IPC_ASK_FS, "src/a b.c"));
	assert_false(ipc_ask_subject_ok(IPC_ASK_FS, "a\nb"));
	assert_false(ipc_ask_subject_ok(7, "a"));

	strcpy(a.who, "root (uid 0)");
	strcpy(a.reason, "fine");
	assert_int_equal(ipc_answer_encode(&a, buf, sizeof(buf), &len), 0);
	assert_int_equal(ipc_answer_decode(buf, len, &b), 0);
	assert_true(b.allow);
	assert_int_equal(b.approval, 9);
	assert_int_equal(b.scope, IPC_SCOPE_SESSION);
	assert_string_equal(b.who, "root (uid 0)");
	assert_string_equal(b.reason, "fine");
	for (size_t k = 0; k < len; k++)
		assert_int_equal(ipc_answer_decode(buf, k, &b), -AGW_EPROTO);
	buf[9] = 0; /* no such scope */
	assert_int_equal(ipc_answer_decode(buf, len, &b), -AGW_EPROTO);
	assert_string_equal(ipc_scope_str(IPC_SCOPE_ALWAYS), "always");
	assert_string_equal(ipc_ask_kind_str(IPC_ASK_FS), "fs");
}

static void test_text_add_rule(void **state)
{
	static const struct {
		const char *in;
		bool fs;
		const char *want; /* NULL: refused */
	} cases[] = {
	    {"version: 1\n", false,
	     "version: 1\nnetwork:\n  allow:\n    # c\n    - { host: \"n.test\" }\n"},
	    {"version: 1\nnetwork:\n  deny: [x.test]\n", false,
	     "version: 1\nnetwork:\n  allow:\n    # c\n    - { host: \"n.test\" }\n  deny: "
	     "[x.test]\n"},
	    {"version: 1\nnetwork:\n  allow:\n  - a.test # a\n  deny: [x.test]\n", false,
	     "version: 1\nnetwork:\n  allow:\n  - a.test # a\n  # c\n  - { host: \"n.test\" }\n  "
	     "deny: [x.test]\n"},
	    {"version: 1\nnetwork:\n  allow:\n    - host: a.test\n      ports: [1]\n", false,
	     "version: 1\nnetwork:\n  allow:\n    - host: a.test\n      ports: [1]\n    # c\n    "
	     "- { host: \"n.test\" }\n"},
	    {"version: 1\nnetwork:\n  allow:\n", false,
	     "version: 1\nnetwork:\n  allow:\n    # c\n    - { host: \"n.test\" }\n"},
	    {"version: 1\nnetwork:\n  allow: [a.test]\n", false, NULL},
	    {"version: 1\nnetwork: {allow: [a.test]}\n", false, NULL},
	    {"version: 1\nfilesystem:\n  workspace: /tmp\n  allow:\n    - {path: a, access: "
	     "read}\n",
	     true,
	     "version: 1\nfilesystem:\n  workspace: /tmp\n  allow:\n    - {path: a, access: "
	     "read}\n    # c\n    - { host: \"n.test\" }\n"},
	    {"version: [\n", false, NULL},
	};
	char *out, msg[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *rule =
		    cases[i].fs ? "{ path: \"b\", access: [write] }" : "{ host: \"n.test\" }";
		int rc =
		    pol_text_add_rule(cases[i].in, cases[i].fs, rule, "c", &out, msg, sizeof(msg));

		if (!cases[i].want) {
			if (rc != -AGW_EPOLICY)
				fail_msg("case %zu: want refused, got %d", i, rc);
			assert_true(msg[0] != '\0');
			continue;
		}
		if (rc)
			fail_msg("case %zu: %d %s", i, rc, msg);
		if (cases[i].fs) {
			assert_non_null(
			    strstr(out, "    # c\n    - { path: \"b\", access: [write] }\n"));
		} else if (strcmp(out, cases[i].want)) {
			fail_msg("case %zu:\n%s\nwant:\n%s", i, out, cases[i].want);
		}
		free(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_rule_yaml),
	    cmocka_unit_test(test_ipc_ask),
	    cmocka_unit_test(test_text_add_rule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
