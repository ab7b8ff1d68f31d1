/*
 * sts.c: the MTA-STS TXT record and policy file parsers and the MX match
 * (see sts.h). Pure: bytes in, a struct sts_policy or an error out. Called
 * by the lookup role after its DNS query and HTTPS fetch and for its cache
 * files, by the policy decision for the MX match, by `sealmail tls-check`,
 * and by the queue's TLS reports for the policy lines of a cache file.
 */
#include "policy/sts.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

#define STS_VERSION "v=STSv1"
#define STS_VERSION_LEN 7

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static const char *skip_wsp(const char *s)
{
	while (is_wsp(*s))
		s++;
	return s;
}

/* The length of the ext-name at S (RFC 8461 3.1, 3.2: (ALPHA / DIGIT)
 * *31(ALPHA / DIGIT / "_" / "-" / ".")), or 0 when S does not start with
 * one or it is longer. */
static size_t ext_name_len(const char *s, size_t max)
{
	size_t n = 0;

	if (!is_alnum(s[0]))
		return 0;
	while (n < max && (is_alnum(s[n]) || s[n] == '_' || s[n] == '-' || s[n] == '.'))
		n++;
	if (n == max && (is_alnum(s[n]) || s[n] == '_' || s[n] == '-' || s[n] == '.'))
		return 0;
	return n;
}

/* The length of the TXT ext-value at S (3.1: 1*(%x21-3A / %x3C / %x3E-7E):
 * visible characters but "=" and ";"). */
static size_t txt_ext_value_len(const char *s)
{
	size_t n = 0;

	while (s[n] >= 0x21 && s[n] <= 0x7e && s[n] != '=' && s[n] != ';')
		n++;
	return n;
}

/* Parses the sts-field at *S (3.1: "id=" 1*32(ALPHA / DIGIT), or an
 * extension), moving *S past it; the first id goes into ID. */
static int txt_field(const char **s, char *id, int *have_id, const char **error_r)
{
	const char *p = *s;
	size_t n;

	if (strncmp(p, "id=", 3) == 0) {
		p += 3;
		for (n = 0; is_alnum(p[n]); n++)
			;
		if (n == 0 || n > STS_TXT_ID_MAX) {
			*error_r = "id= must be 1 to 32 letters and digits";
			return -1;
		}
		if (!*have_id) {
			memcpy(id, p, n);
			id[n] = '\0';
			*have_id = 1;
		}
		*s = p + n;
		return 0;
	}
	n = ext_name_len(p, STS_EXT_NAME_MAX);
	if (n == 0 || p[n] != '=') {
		*error_r = "a field is not id= or NAME=VALUE";
		return -1;
	}
	p += n + 1;
	n = txt_ext_value_len(p);
	if (n == 0) {
		*error_r = "an extension has an empty or invalid value";
		return -1;
	}
	*s = p + n;
	return 0;
}

/* The grammar of 3.1: sts-version 1*(*WSP ";" *WSP sts-field) [";"],
 * with trailing whitespace tolerated. */
int sts_txt_parse(const char *txt, char *id, size_t id_size, const char **error_r)
{
	const char *p;
	int have_id = 0, fields = 0;

	if (id_size > 0)
		id[0] = '\0';
	if (id_size < STS_TXT_ID_MAX + 1) {
		*error_r = "id buffer too small";
		return -1;
	}
	if (strnlen(txt, STS_TXT_MAX + 1) > STS_TXT_MAX) {
		*error_r = "record too long";
		return -1;
	}
	if (strncmp(txt, STS_VERSION, STS_VERSION_LEN) != 0) {
		*error_r = "record does not start with v=STSv1";
		return -1;
	}
	p = txt + STS_VERSION_LEN;
	for (;;) {
		p = skip_wsp(p);
		if (*p == '\0')
			break;
		if (*p != ';') {
			*error_r = fields == 0 ? "v=STSv1 is not followed by ';'"
			                       : "fields are not separated by ';'";
			goto fail;
		}
		p = skip_wsp(p + 1);
		if (*p == '\0')
			break;
		if (txt_field(&p, id, &have_id, error_r) < 0)
			goto fail;
		fields++;
	}
	if (!have_id) {
		*error_r = "record has no id=";
		goto fail;
	}
	return 0;
fail:
	id[0] = '\0';
	return -1;
}

int sts_txt_select_tagged(const char *const *txts, size_t n, const char *tag)
{
	size_t len = strlen(tag);
	int found = -1;

	for (size_t i = 0; i < n; i++) {
		const char *t = txts[i];

		if (strncmp(t, tag, len) != 0)
			continue;
		if (t[len] != '\0' && t[len] != ';' && !is_wsp(t[len]))
			continue;
		if (found >= 0)
			return -2;
		found = (int)i;
	}
	return found;
}

int sts_txt_select(const char *const *txts, size_t n, const char **error_r)
{
	int found = sts_txt_select_tagged(txts, n, STS_VERSION);

	if (found == -2)
		*error_r = "more than one v=STSv1 TXT record";
	else if (found < 0)
		*error_r = "no v=STSv1 TXT record";
	return found < 0 ? -1 : found;
}

/* 1 when the LEN characters at S are a host name: letter-digit-hyphen
 * labels of 1-63, no hyphen at either end of one (RFC 5321 4.1.2 Domain),
 * at most STS_HOST_MAX in all. */
static int host_valid(const char *s, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > STS_HOST_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
		} else if (is_alnum(s[i]) || (s[i] == '-' && label > 0)) {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0 && s[len - 1] != '-';
}

int sts_host_valid(const char *name)
{
	return host_valid(name, strnlen(name, STS_HOST_MAX + 1));
}

int sts_mx_pattern_valid(const char *pattern)
{
	size_t len = strnlen(pattern, STS_HOST_MAX + 1);

	if (len > STS_HOST_MAX)
		return 0;
	if (strncmp(pattern, "*.", 2) == 0)
		return host_valid(pattern + 2, len - 2);
	return host_valid(pattern, len);
}

/* HOST (LEN characters, a final dot dropped) lower-cased into OUT of
 * STS_HOST_MAX + 1; -1 when it is empty or longer. */
static int host_normalize(const char *host, size_t len, char *out)
{
	len -= len > 0 && host[len - 1] == '.';
	if (len == 0 || len > STS_HOST_MAX)
		return -1;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)host[i]);
	out[len] = '\0';
	return 0;
}

/* 1 when HOST (normalized) matches PATTERN (4.1): the same name, or for
 * "*.domain" exactly one non-empty left-most label followed by ".domain". */
static int mx_pattern_matches(const char *pattern, const char *host)
{
	size_t plen = strnlen(pattern, sizeof(((struct sts_policy *)0)->mx[0]));
	size_t hlen = strlen(host);

	if (plen == sizeof(((struct sts_policy *)0)->mx[0]) || plen == 0)
		return 0;
	plen -= pattern[plen - 1] == '.';
	if (plen > 2 && pattern[0] == '*' && pattern[1] == '.') {
		size_t suffix = plen - 1; /* ".domain" */

		if (hlen <= suffix || strncasecmp(host + hlen - suffix, pattern + 1, suffix) != 0)
			return 0;
		return memchr(host, '.', hlen - suffix) == NULL;
	}
	return plen == hlen && strncasecmp(pattern, host, plen) == 0;
}

int sts_mx_matches(const struct sts_policy *p, const char *mx_host)
{
	char host[STS_HOST_MAX + 1];
	uint32_t n = p->n_mx < STS_MX_MAX ? p->n_mx : STS_MX_MAX;

	if (host_normalize(mx_host, strnlen(mx_host, STS_HOST_MAX + 2), host) < 0 ||
	    !host_valid(host, strlen(host)))
		return 0;
	for (uint32_t i = 0; i < n; i++)
		if (mx_pattern_matches(p->mx[i], host))
			return 1;
	return 0;
}

/* ---- the policy file (RFC 8461 3.2) --------------------------------- */

/* What the fields seen so far said: of a repeated field other than mx,
 * the first counts (3.2). */
struct policy_state {
	int have_version, have_mode, have_max_age;
};

/* Checks the value VAL of LEN octets (3.2 sts-policy-ext-value: visible
 * characters, UTF-8 and inner spaces; no control characters, no tab). */
static int policy_value_valid(const char *val, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)val[i];

		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

/* max_age (3.2: 1*10(DIGIT)), larger than STS_MAX_AGE_MAX cut to it. */
static int policy_max_age(const char *val, size_t len, uint32_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (val[i] < '0' || val[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(val[i] - '0');
	}
	*out = v > STS_MAX_AGE_MAX ? STS_MAX_AGE_MAX : (uint32_t)v;
	return 0;
}

/* One mx pattern (3.2: ["*."] Domain; a final dot tolerated), kept
 * lower-cased. */
static int policy_mx(const char *val, size_t len, struct sts_policy *out, const char **error_r)
{
	char pattern[STS_HOST_MAX + 2];

	len -= len > 1 && val[len - 1] == '.';
	if (len > STS_HOST_MAX) {
		*error_r = "mx: pattern too long";
		return -1;
	}
	memcpy(pattern, val, len);
	pattern[len] = '\0';
	if (!sts_mx_pattern_valid(pattern)) {
		*error_r = "mx: not a host name or *.domain pattern";
		return -1;
	}
	if (out->n_mx >= STS_MX_MAX) {
		*error_r = "more mx: patterns than we keep (16)";
		return -1;
	}
	str_lower(pattern);
	memcpy(out->mx[out->n_mx++], pattern, len + 1);
	return 0;
}

#define KEY_IS(key, klen, word) ((klen) == sizeof(word) - 1 && memcmp(key, word, klen) == 0)

/* Applies the field KEY: VAL (keys and values case-sensitive, 3.2). */
static int policy_field(const char *key, size_t klen, const char *val, size_t vlen,
                        struct sts_policy *out, struct policy_state *st, const char **error_r)
{
	if (KEY_IS(key, klen, "mx"))
		return policy_mx(val, vlen, out, error_r);
	if (KEY_IS(key, klen, "version") && !st->have_version) {
		st->have_version = 1;
		if (KEY_IS(val, vlen, "STSv1"))
			return 0;
		*error_r = "version: is not STSv1";
		return -1;
	}
	if (KEY_IS(key, klen, "mode") && !st->have_mode) {
		st->have_mode = 1;
		if (KEY_IS(val, vlen, "enforce"))
			out->mode = STS_MODE_ENFORCE;
		else if (KEY_IS(val, vlen, "testing"))
			out->mode = STS_MODE_TESTING;
		else if (KEY_IS(val, vlen, "none"))
			out->mode = STS_MODE_NONE;
		else {
			*error_r = "mode: is not enforce, testing or none";
			return -1;
		}
		return 0;
	}
	if (KEY_IS(key, klen, "max_age") && !st->have_max_age) {
		st->have_max_age = 1;
		if (policy_max_age(val, vlen, &out->max_age) == 0)
			return 0;
		*error_r = "max_age: is not a number of at most 10 digits";
		return -1;
	}
	return 0; /* unknown or repeated: ignored (3.2) */
}

/* One line (without its LF or CRLF) of LEN octets: "key:" *WSP value
 * *WSP, or only whitespace. */
static int policy_line(const char *line, size_t len, struct sts_policy *out,
                       struct policy_state *st, const char **error_r)
{
	size_t klen, v = 0;

	if (len > STS_POLICY_LINE_MAX) {
		*error_r = "a line is too long";
		return -1;
	}
	while (len > 0 && is_wsp(line[len - 1]))
		len--;
	if (len == 0)
		return 0;
	for (klen = 0; klen < len && line[klen] != ':'; klen++)
		;
	if (klen == len || klen == 0 || klen > STS_EXT_NAME_MAX ||
	    ext_name_len(line, klen) != klen) {
		*error_r = "a line is not key: value";
		return -1;
	}
	v = klen + 1;
	while (v < len && is_wsp(line[v]))
		v++;
	if (!policy_value_valid(line + v, len - v)) {
		*error_r = "a value is empty or holds control characters";
		return -1;
	}
	return policy_field(line, klen, line + v, len - v, out, st, error_r);
}

/* After the last line: the fields 3.2 requires. */
static int policy_complete(const struct sts_policy *out, const struct policy_state *st,
                           const char **error_r)
{
	if (!st->have_version)
		*error_r = "no version: line";
	else if (!st->have_mode)
		*error_r = "no mode: line";
	else if (!st->have_max_age)
		*error_r = "no max_age: line";
	else if (out->n_mx == 0 && out->mode != STS_MODE_NONE)
		*error_r = "no mx: line";
	else
		return 0;
	return -1;
}

int sts_policy_parse(const char *text, size_t len, struct sts_policy *out, const char **error_r)
{
	struct policy_state st = {0, 0, 0};
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	if (len > STS_POLICY_SIZE_MAX) {
		*error_r = "policy larger than 64 KiB";
		return -1;
	}
	while (pos < len) {
		const char *line = text + pos;
		const char *lf = memchr(line, '\n', len - pos);
		size_t line_len = lf != NULL ? (size_t)(lf - line) : len - pos;

		pos += line_len + (lf != NULL);
		if (lf != NULL && line_len > 0 && line[line_len - 1] == '\r')
			line_len--; /* CRLF; a CR elsewhere is a control character */
		if (policy_line(line, line_len, out, &st, error_r) < 0)
			goto fail;
	}
	if (policy_complete(out, &st, error_r) < 0)
		goto fail;
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	return -1;
}

/* ---- the lookup role's cache file ------------------------------------------ */

/* Reads the header line "KEY: VALUE\n" at *POS of TEXT into VALUE (not
 * empty, no NUL in it: VALUE is read as a string). */
static int cache_header(const char *text, size_t len, size_t *pos, const char *key, char *value,
                        size_t size)
{
	size_t klen = strlen(key), vlen;
	const char *line = text + *pos, *lf = memchr(line, '\n', len - *pos);

	if (lf == NULL || (size_t)(lf - line) < klen + 2 || memcmp(line, key, klen) != 0 ||
	    line[klen] != ':' || line[klen + 1] != ' ')
		return -1;
	vlen = (size_t)(lf - line) - klen - 2;
	if (vlen == 0 || vlen >= size || memchr(line + klen + 2, '\0', vlen) != NULL)
		return -1;
	memcpy(value, line + klen + 2, vlen);
	value[vlen] = '\0';
	*pos += (size_t)(lf - line) + 1;
	return 0;
}

/* The header's id (1-32 letters and digits) and fetched time (digits). */
static int cache_header_values(const char *id, const char *fetched, uint64_t *fetched_r,
                               const char **error_r)
{
	unsigned long long t;
	char *end;
	size_t i;

	for (i = 0; id[i] != '\0'; i++)
		if (!is_alnum(id[i]) || i >= STS_TXT_ID_MAX) {
			*error_r = "bad id";
			return -1;
		}
	errno = 0;
	t = strtoull(fetched, &end, 10);
	if (errno != 0 || *end != '\0' || fetched[0] < '0' || fetched[0] > '9') {
		*error_r = "bad fetch time";
		return -1;
	}
	*fetched_r = t;
	return 0;
}

int sts_cache_text_parse(const char *text, size_t len, struct sts_policy *out, const char **body_r,
                         size_t *body_len_r, const char **error_r)
{
	char id[STS_ID_MAX], fetched[24];
	size_t pos = sizeof(STS_CACHE_FILE_MAGIC) - 1;
	uint64_t t;

	memset(out, 0, sizeof(*out));
	*body_r = NULL;
	*body_len_r = 0;
	if (len < pos || memcmp(text, STS_CACHE_FILE_MAGIC, pos) != 0) {
		*error_r = "not an MTA-STS cache file";
		return -1;
	}
	if (cache_header(text, len, &pos, "id", id, sizeof(id)) < 0 ||
	    cache_header(text, len, &pos, "fetched", fetched, sizeof(fetched)) < 0 || pos >= len ||
	    text[pos] != '\n') {
		*error_r = "bad header";
		return -1;
	}
	if (cache_header_values(id, fetched, &t, error_r) < 0)
		return -1;
	pos++;
	if (sts_policy_parse(text + pos, len - pos, out, error_r) < 0)
		return -1;
	strlcpy_checked(out->id, id, sizeof(out->id));
	out->fetched = t;
	*body_r = text + pos;
	*body_len_r = len - pos;
	return 0;
}
