// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the policy loader: any bytes are loaded as a policy;
 * when they load, a fixed set of decisions and explains run against it, so
 * the matchers built from fuzzed rules are exercised too, and an approval's
 * rule is appended to its text (pol_text_add_rule), which must then load.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agw.h"
#include "policies/pol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const hosts[] = {"a.test", "x.y.example.com",       "EXAMPLE.org.", "", ".",
				    "a..b",   "xn--bcher-kva.example", "*.github.com"};
static const char *const paths[] = {
    "", "/", "src/a.c", "../x", "a//b/./c/..", ".env", "src/secret/.env", "/docs/%2e%2e/x?y"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pol_errors errs = {0};
	struct pol *p = NULL;
	struct pol_decision d;
	struct pol_match m[4];

	if (pol_load_buf("fuzz.yaml", (const char *)data, size, "/ws", &p, &errs) == 0) {
		struct sockaddr_in s4 = {.sin_family = AF_INET};
		struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};

		for (size_t i = 0; i < AGW_ARRAY_LEN(hosts); i++) {
			pol_check_host(p, hosts[i], 443, &d);
			pol_check_dns_name(p, hosts[i], &d);
			pol_check_http(p, hosts[i], 80, "GET", paths[i], &d);
			pol_explain_host(p, hosts[i], 80, "POST", paths[i], &d, m, 4);
		}
		for (size_t i = 0; i < AGW_ARRAY_LEN(paths); i++) {
			pol_check_fs(p, paths[i], POL_ACC_READ | POL_ACC_WRITE, &d);
			pol_explain_fs(p, paths[i], POL_ACC_ALL, &d, m, 4);
		}
		inet_pton(AF_INET, "10.1.2.3", &s4.sin_addr);
		inet_pton(AF_INET6, "::ffff:10.1.2.3", &s6.sin6_addr);
		pol_check_addr(p, (struct sockaddr *)&s4, 5432, &d);
		pol_explain_addr(p, (struct sockaddr *)&s6, 443, &d, m, 4);
		(void)pol_name(p);
		(void)pol_sha256(p);
		for (int fs = 0; fs < 2; fs++) {
			char *t = NULL, msg[256];
			struct pol *q = NULL;
			struct pol_errors e2 = {0};

			if (pol_text_add_rule(pol_text(p), fs,
					      fs ? "{ path: \"a\", access: [read] }"
						 : "{ host: \"n.test\", ports: [443] }",
					      "who\nwhen", &t, msg, sizeof(msg)) == 0) {
				if (pol_load_buf("fuzz.yaml", t, strlen(t), "/ws", &q, &e2) != 0)
					abort();
				pol_free(q);
			}
			pol_errors_free(&e2);
			free(t);
		}
	}
	pol_free(p);
	pol_errors_free(&errs);
	return 0;
}
