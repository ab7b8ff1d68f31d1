/*
 * fuzz_sts_policy.c: libFuzzer harness for sts_policy_parse() and
 * sts_mx_matches(). The input is a policy file; what parses must be
 * within the bounds, must write back to a file that parses the same, and
 * its patterns must match the hosts they name and not their parents.
 */
#include "fuzz_common.h"

#include "policy/sts.h"

/* P written back as a policy file into BUF. */
static size_t write_back(const struct sts_policy *p, char *buf, size_t size)
{
	size_t n =
	    (size_t)snprintf(buf, size, "version: STSv1\r\nmode: %s\r\n", sts_mode_name(p->mode));

	for (uint32_t i = 0; i < p->n_mx; i++)
		n += (size_t)snprintf(buf + n, size - n, "mx: %s\n", p->mx[i]);
	n += (size_t)snprintf(buf + n, size - n, "max_age: %u", p->max_age);
	return n;
}

static void check_pattern(const struct sts_policy *p, const char *mx)
{
	char host[STS_HOST_MAX + 8];

	CHECK(sts_mx_pattern_valid(mx));
	for (const char *c = mx; *c != '\0'; c++)
		CHECK(!(*c >= 'A' && *c <= 'Z'));
	if (strncmp(mx, "*.", 2) == 0) {
		CHECK(!sts_mx_matches(p, mx));
		if (strlen(mx) + 1 <= STS_HOST_MAX) {
			snprintf(host, sizeof(host), "X%s.", mx + 1);
			CHECK(sts_mx_matches(p, host));
		}
		return;
	}
	CHECK(sts_mx_matches(p, mx));
	snprintf(host, sizeof(host), "%s.", mx);
	for (char *c = host; *c != '\0'; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 'a' + 'A');
	CHECK(sts_mx_matches(p, host));
}

static void check_parsed(const struct sts_policy *p)
{
	static char buf[STS_MX_MAX * 300 + 128];
	struct sts_policy again;
	const char *error = NULL;
	size_t n;

	CHECK(p->mode >= STS_MODE_NONE && p->mode <= STS_MODE_ENFORCE);
	CHECK(p->max_age <= STS_MAX_AGE_MAX);
	CHECK(p->n_mx <= STS_MX_MAX);
	CHECK(p->n_mx > 0 || p->mode == STS_MODE_NONE);
	CHECK(p->id[0] == '\0' && p->error[0] == '\0' && p->fetched == 0);
	for (uint32_t i = 0; i < p->n_mx; i++)
		check_pattern(p, p->mx[i]);
	n = write_back(p, buf, sizeof(buf));
	CHECK(sts_policy_parse(buf, n, &again, &error) == 0);
	CHECK(memcmp(p, &again, sizeof(again)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sts_policy p;
	const char *error = NULL;
	char *host;

	if (sts_policy_parse((const char *)data, size, &p, &error) == 0) {
		check_parsed(&p);
	} else {
		CHECK(error != NULL && error[0] != '\0');
		CHECK(p.mode == STS_MODE_ABSENT && p.n_mx == 0);
	}
	/* the input as an MX host against the patterns it parsed to */
	host = fuzz_strndup(data, size);
	(void)sts_mx_matches(&p, host);
	free(host);
	return 0;
}
