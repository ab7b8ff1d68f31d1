/*
 * fuzz_smtp_auth.c: libFuzzer harness for the pure part of SMTP AUTH
 * responses (src/smtp/smtp_auth.c): base64 decoding as the session does it
 * ("=" is an empty response, RFC 4954 4), then the PLAIN split
 * (smtp_auth_plain_split) checked against a reference, and the LOGIN
 * rules (a user name is not empty and holds no NUL). The first byte picks
 * PLAIN or LOGIN; the rest is the response line. The whole exchange, with
 * the session's state, is fuzzed by fuzz_smtp_session.c.
 */
#include "fuzz_common.h"
#include "lib/base64.h"
#include "smtp/smtp_auth.h"

#define RESPONSE_MAX SMTP_AUTH_RESPONSE_MAX

/* Counts the NULs in BUF[0..LEN). */
static size_t count_nuls(const char *buf, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += buf[i] == '\0';
	return n;
}

/* The split must succeed exactly when there are two NULs, and give the
 * three parts in order, each NUL-terminated inside BUF. */
static void check_plain(char *buf, size_t len)
{
	char *authzid = NULL, *authcid = NULL, *password = NULL;
	const char *why = NULL;
	int r = smtp_auth_plain_split(buf, len, &authzid, &authcid, &password, &why);

	if (count_nuls(buf, len) != 2) {
		CHECK(r == -1 && why != NULL && why[0] != '\0');
		return;
	}
	CHECK(r == 0);
	CHECK(authzid == buf);
	CHECK(authcid == authzid + strlen(authzid) + 1);
	CHECK(password == authcid + strlen(authcid) + 1);
	CHECK(password + strlen(password) == buf + len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *buf;
	char *line;
	size_t len;
	long n;
	int plain;

	if (size < 1)
		return 0;
	plain = data[0] & 1;
	line = fuzz_strndup(data + 1, size - 1);
	len = size - 1;
	if (len == 1 && line[0] == '=')
		len = 0;
	buf = malloc(len * 3 / 4 + 1);
	CHECK(buf != NULL);
	n = len > RESPONSE_MAX ? -1 : base64_decode(line, len, buf);
	if (n >= 0) {
		CHECK(buf[n] == '\0');
		if (plain)
			check_plain((char *)buf, (size_t)n);
		else /* LOGIN: what the session takes as a user name */
			CHECK((n > 0 && memchr(buf, '\0', (size_t)n) == NULL) ==
			      (n > 0 && strlen((char *)buf) == (size_t)n));
	}
	free(buf);
	free(line);
	return 0;
}
