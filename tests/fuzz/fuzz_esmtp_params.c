/*
 * fuzz_esmtp_params.c: libFuzzer harness for ESMTP parameters: the
 * parameter list of MAIL and RCPT (smtp_path_parse) and the xtext values
 * of ENVID and ORCPT (xtext_decode, xtext_valid, xtext_encode, RFC 3461 4).
 * The first byte picks MAIL, RCPT or a bare xtext value; the rest is the
 * text. What the session does with SIZE, NOTIFY, RET, BODY, ENVID and
 * ORCPT is fuzzed through fuzz_smtp_session.c.
 */
#include "fuzz_common.h"
#include "mail/xtext.h"
#include "smtp/smtp_parse.h"

/* Decoding and checking must agree; any output size must be safe; a
 * decoded value encodes back to xtext that decodes the same. */
static void check_xtext(const char *s)
{
	size_t len = strlen(s);
	char *out = malloc(len + 1), *enc, *again;
	int valid = xtext_valid(s), r = xtext_decode(s, out, len + 1);

	CHECK(out != NULL);
	CHECK(r == 0 || r == -1);
	if (r == 0)
		CHECK(valid && strlen(out) <= len);
	if (valid && r < 0) /* only "+00" (a NUL) is valid but not decodable */
		CHECK(strstr(s, "+00") != NULL);
	for (size_t size = 0; size <= len + 1 && size < 64; size++) {
		char *small = size ? malloc(size) : NULL;

		CHECK(size == 0 || small != NULL);
		if (xtext_decode(s, small, size) == 0)
			CHECK(r == 0 && strcmp(small, out) == 0);
		free(small);
	}
	if (r == 0) {
		enc = malloc(3 * strlen(out) + 1);
		again = malloc(3 * strlen(out) + 1);
		CHECK(enc != NULL && again != NULL);
		CHECK(xtext_encode(out, enc, 3 * strlen(out) + 1) == 0);
		CHECK(xtext_valid(enc) &&
		      xtext_decode(enc, again, 3 * strlen(out) + 1) == 0);
		CHECK(strcmp(again, out) == 0);
		free(enc);
		free(again);
	}
	free(out);
}

/* What the parser says a parameter is must hold. */
static void check_param(const struct smtp_param *p)
{
	size_t n = strlen(p->keyword);

	CHECK(n >= 1 && n < sizeof(p->keyword));
	for (size_t i = 0; i < n; i++)
		CHECK((p->keyword[i] >= 'A' && p->keyword[i] <= 'Z') ||
		      (p->keyword[i] >= '0' && p->keyword[i] <= '9') || p->keyword[i] == '-');
	CHECK(p->has_value == (p->value[0] != '\0'));
	for (const char *v = p->value; *v; v++)
		CHECK(*v >= 33 && *v <= 126 && *v != '=');
	if (strcmp(p->keyword, "ENVID") == 0)
		check_xtext(p->value);
	if (strcmp(p->keyword, "ORCPT") == 0 && strchr(p->value, ';') != NULL)
		check_xtext(strchr(p->value, ';') + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_param params[SMTP_MAX_PARAMS];
	struct smtp_path path;
	const char *why = NULL;
	unsigned n = 99;
	char *text;
	int mode;

	if (size < 1)
		return 0;
	mode = data[0] % 3;
	text = fuzz_strndup(data + 1, size - 1);
	if (mode == 2) {
		check_xtext(text);
	} else if (smtp_path_parse(text, mode == 0, mode == 1, &path, params, &n, &why) == 0) {
		CHECK(n <= SMTP_MAX_PARAMS);
		for (unsigned i = 0; i < n; i++)
			check_param(&params[i]);
	} else {
		CHECK(n == 0 && why != NULL && why[0] != '\0');
	}
	free(text);
	return 0;
}
