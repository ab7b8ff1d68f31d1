/*
 * fuzz_smtp_path.c: libFuzzer harness for smtp_path_parse(),
 * smtp_path_format() and smtp_domain_valid(). The first byte holds the
 * allow_null / allow_postmaster flags and the size of a truncated format
 * buffer; the rest is the argument.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_parse.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

/* Checks a parsed parameter: upper-case esmtp-keyword, esmtp-value. */
static void check_param(const struct smtp_param *p)
{
	size_t n = strlen(p->keyword);

	CHECK(n >= 1 && n < sizeof(p->keyword));
	for (size_t i = 0; i < n; i++) {
		char c = p->keyword[i];

		CHECK((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c == '-' && i > 0));
	}
	CHECK(p->has_value == (p->value[0] != '\0'));
	for (const char *v = p->value; *v != '\0'; v++)
		CHECK(*v > ' ' && *v < 0x7f && *v != '=');
}

/* Checks the parsed path against the flags it was parsed with. */
static void check_path(const struct smtp_path *path, int allow_null, int allow_pm)
{
	CHECK(strlen(path->local) <= SMTP_LOCAL_PART_MAX);
	if (path->null) {
		CHECK(allow_null && path->local[0] == '\0' && path->domain[0] == '\0');
		return;
	}
	if (path->domain[0] == '\0') {
		CHECK(allow_pm && strcmp(path->local, "postmaster") == 0);
		return;
	}
	CHECK(smtp_domain_valid(path->domain));
	for (const char *d = path->domain; *d != '\0'; d++)
		CHECK(!(*d >= 'A' && *d <= 'Z') || strncmp(path->domain, "[IPv6:", 6) == 0);
	if (!path->quoted)
		CHECK(strpbrk(path->local, "%!") == NULL);
}

/* Formats PATH, whole and into TRUNC bytes, and parses the result back. */
static void check_round_trip(const struct smtp_path *path, size_t trunc)
{
	struct smtp_path again;
	struct smtp_param params[SMTP_MAX_PARAMS];
	unsigned n;
	const char *error = NULL;
	char text[600], small[64], arg[610];

	smtp_path_format(path, text, sizeof(text));
	CHECK(strlen(text) + 2 <= SMTP_PATH_MAX);
	smtp_path_format(path, small, trunc);
	CHECK(trunc == 0 || strncmp(small, text, trunc - 1) == 0);
	strcpy(arg, "<");
	strcat(arg, text);
	strcat(arg, ">");
	CHECK(smtp_path_parse(arg, 1, 1, &again, params, &n, &error) == 0);
	CHECK(strcmp(path->local, again.local) == 0 && strcmp(path->domain, again.domain) == 0);
	CHECK(path->null == again.null && n == 0);
}

/* If S is a valid domain, "<a@S>" must parse to it (lower-cased). */
static void check_domain(const char *s)
{
	struct smtp_path path;
	struct smtp_param params[SMTP_MAX_PARAMS];
	unsigned n;
	const char *error = NULL;
	char arg[SMTP_PATH_MAX + 1];
	size_t len = strlen(s);

	if (!smtp_domain_valid(s) || len + 4 > SMTP_PATH_MAX)
		return;
	CHECK(strchr(s, ' ') == NULL && strchr(s, '>') == NULL);
	memcpy(arg, "<a@", 3);
	memcpy(arg + 3, s, len);
	strcpy(arg + 3 + len, ">");
	CHECK(smtp_path_parse(arg, 0, 0, &path, params, &n, &error) == 0);
	CHECK(strcasecmp(path.domain, s) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_path path;
	struct smtp_param params[SMTP_MAX_PARAMS];
	unsigned n = 99;
	const char *error = NULL;
	int allow_null, allow_pm;
	char *arg;

	if (size < 1)
		return 0;
	allow_null = data[0] & 1;
	allow_pm = (data[0] >> 1) & 1;
	arg = malloc(size);
	CHECK(arg != NULL);
	memcpy(arg, data + 1, size - 1);
	arg[size - 1] = '\0';
	if (smtp_path_parse(arg, allow_null, allow_pm, &path, params, &n, &error) == 0) {
		CHECK(n <= SMTP_MAX_PARAMS);
		for (unsigned i = 0; i < n; i++)
			check_param(&params[i]);
		check_path(&path, allow_null, allow_pm);
		check_round_trip(&path, data[0] >> 2);
	} else {
		CHECK(error != NULL && error[0] != '\0' && n == 0 && path.local[0] == '\0');
	}
	check_domain(arg);
	free(arg);
	return 0;
}
