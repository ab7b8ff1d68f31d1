/*
 * tlsrpt.c: the TLS-RPT TXT record parser (RFC 8460 3): the record, its
 * rua= URIs, and the addresses of mailto: URIs (RFC 6068). Pure; called
 * by the lookup role on the _smtp._tls TXT answer and by the queue's
 * report store on the rua= value it kept. The report itself is built in
 * tlsrpt_report.c.
 */
#include "policy/tlsrpt.h"

#include <string.h>
#include <strings.h>

#include "lib/util.h"
#include "policy/sts.h"

#define TLSRPT_VERSION "v=TLSRPTv1"
#define TLSRPT_VERSION_LEN 10

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_alnum(char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

static const char *skip_wsp(const char *s)
{
	while (is_wsp(*s))
		s++;
	return s;
}

/* RFC 3986 2: the characters a URI may hold (unreserved, reserved, "%"),
 * but "," and ";", which end a URI in a rua= value. */
static int is_uri_char(char c)
{
	return is_alnum(c) || (c != '\0' && strchr("-._~:/?#[]@!$&'()*+=%", c) != NULL);
}

/* ---- addresses ------------------------------------------------------ */

/* RFC 5322 3.2.3 atext. */
static int is_atext(char c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* The length of the local part at S (dot-atom or quoted-string, RFC 5322
 * 3.4.1), or 0 when there is none. */
static size_t local_part_len(const char *s)
{
	size_t n = 0;

	if (s[0] == '"') {
		for (n = 1; s[n] != '"'; n++) {
			unsigned char c = (unsigned char)s[n];

			if (c == '\\') { /* quoted-pair: VCHAR or WSP */
				n++;
				c = (unsigned char)s[n];
				if (!(c >= 0x21 && c <= 0x7e) && !is_wsp((char)c))
					return 0;
			} else if (!(c >= 0x21 && c <= 0x7e) && c != ' ') {
				return 0; /* qtext is 33, 35-91, 93-126; FWS as one space */
			}
		}
		return n + 1;
	}
	while (is_atext(s[n]) || (s[n] == '.' && n > 0 && s[n - 1] != '.' && is_atext(s[n + 1])))
		n++;
	return n;
}

int tlsrpt_addr_spec_valid(const char *s)
{
	size_t local = local_part_len(s);

	if (local == 0 || local > TLSRPT_LOCAL_MAX || s[local] != '@')
		return 0;
	return strnlen(s + local + 1, TLSRPT_DOMAIN_MAX + 1) <= TLSRPT_DOMAIN_MAX &&
	       sts_host_valid(s + local + 1);
}

/* ---- URIs ----------------------------------------------------------- */

/* The mailto: URI's address (RFC 6068 2: the "to" part, percent-decoded,
 * before any "?" header fields) into URI->address; exactly one addr-spec. */
static int mailto_parse(const char *to, size_t len, struct tlsrpt_uri *uri, const char **error_r)
{
	char *out = uri->address;
	size_t n = 0;

	for (size_t i = 0; i < len && to[i] != '?'; i++) {
		int c = (unsigned char)to[i];

		if (c == '%' && (c = hex_pair_value(to + i + 1)) < 0) {
			*error_r = "mailto: has a bad %-escape";
			return -1;
		}
		i += to[i] == '%' ? 2 : 0;
		if (c < 0x20 || c >= 0x7f || n + 1 >= sizeof(uri->address)) {
			*error_r = "mailto: address too long or not printable ASCII";
			return -1;
		}
		out[n++] = (char)c;
	}
	out[n] = '\0';
	if (!tlsrpt_addr_spec_valid(out)) {
		*error_r = "mailto: does not hold exactly one valid address";
		return -1;
	}
	return 0;
}

/* An https: URI must name a host (RFC 3986 3.2): "//", a host name or
 * "[address]", an optional ":port", then "/", "?", "#" or the end. */
static int https_valid(const char *rest, size_t len)
{
	size_t i = 0, port = 0;

	if (len < 3 || rest[0] != '/' || rest[1] != '/')
		return 0;
	rest += 2;
	len -= 2;
	if (rest[0] == '[') {
		while (i < len && rest[i] != ']')
			i++;
		if (i == len || i < 3)
			return 0;
		i++;
	} else {
		while (i < len && (is_alnum(rest[i]) || rest[i] == '-' || rest[i] == '.'))
			i++;
		if (i == 0)
			return 0;
	}
	if (i < len && rest[i] == ':')
		for (i++; i < len && rest[i] >= '0' && rest[i] <= '9'; i++)
			port++;
	if (port > 5)
		return 0;
	return i == len || rest[i] == '/' || rest[i] == '?' || rest[i] == '#';
}

/* The length of URI's scheme and ":" (RFC 3986 3.1: ALPHA *( ALPHA /
 * DIGIT / "+" / "-" / "." ) ":"), or 0. */
static size_t scheme_len(const char *s, size_t len)
{
	size_t n = 0;

	if (len == 0 || !is_alpha(s[0]))
		return 0;
	while (n < len && (is_alnum(s[n]) || s[n] == '+' || s[n] == '-' || s[n] == '.'))
		n++;
	return n < len && s[n] == ':' ? n + 1 : 0;
}

/* Adds the URI S of LEN characters to OUT: mailto: and https: are kept,
 * other schemes skipped (RFC 8460 3 defines those two). */
static int rua_uri(const char *s, size_t len, struct tlsrpt_record *out, const char **error_r)
{
	size_t scheme = scheme_len(s, len);
	struct tlsrpt_uri *uri;

	if (scheme == 0 || len >= TLSRPT_URI_MAX) {
		*error_r =
		    scheme == 0 ? "rua= holds something that is not a URI" : "rua= URI too long";
		return -1;
	}
	if (!(scheme == 7 && strncasecmp(s, "mailto:", 7) == 0) &&
	    !(scheme == 6 && strncasecmp(s, "https:", 6) == 0))
		return 0;
	if (out->n_rua >= TLSRPT_RUA_MAX) {
		*error_r = "rua= holds more URIs than we keep (8)";
		return -1;
	}
	uri = &out->rua[out->n_rua];
	memset(uri, 0, sizeof(*uri));
	memcpy(uri->uri, s, len);
	if (scheme == 7) {
		if (mailto_parse(s + 7, len - 7, uri, error_r) < 0)
			return -1;
		uri->kind = TLSRPT_URI_MAILTO;
		out->n_mailto++;
	} else {
		if (!https_valid(s + 6, len - 6)) {
			*error_r = "https: URI without a valid host";
			return -1;
		}
		uri->kind = TLSRPT_URI_HTTPS;
		out->n_https++;
	}
	out->n_rua++;
	return 0;
}

static void rua_clear(struct tlsrpt_record *out)
{
	memset(out->rua, 0, sizeof(out->rua));
	out->n_rua = out->n_mailto = out->n_https = 0;
}

/* RFC 8460 3: tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri). */
int tlsrpt_rua_parse(const char *rua, struct tlsrpt_record *out, const char **error_r)
{
	const char *p = skip_wsp(rua);

	rua_clear(out);
	if (rua != out->rua_value) {
		memset(out->rua_value, 0, sizeof(out->rua_value));
		if (strlcpy_checked(out->rua_value, rua, sizeof(out->rua_value)) < 0) {
			*error_r = "rua= too long";
			goto fail;
		}
	}
	for (;;) {
		size_t n = 0;

		while (is_uri_char(p[n]))
			n++;
		if (n == 0) {
			*error_r = "rua= has an empty or invalid URI";
			goto fail;
		}
		if (rua_uri(p, n, out, error_r) < 0)
			goto fail;
		p = skip_wsp(p + n);
		if (*p == '\0')
			break;
		if (*p != ',') {
			*error_r = "rua= URIs are not separated by ','";
			goto fail;
		}
		p = skip_wsp(p + 1);
	}
	if (out->n_rua == 0) {
		*error_r = "rua= has no mailto: or https: URI";
		goto fail;
	}
	return 0;
fail:
	rua_clear(out);
	return -1;
}

/* ---- the record ----------------------------------------------------- */

/* The length of the ext-name at S (3: (ALPHA / DIGIT) *31(ALPHA / DIGIT /
 * "_" / "-" / ".")), or 0. */
static size_t ext_name_len(const char *s)
{
	size_t n = 0;

	while (is_alnum(s[n]) || (n > 0 && (s[n] == '_' || s[n] == '-' || s[n] == '.')))
		n++;
	return n <= TLSRPT_EXT_NAME_MAX ? n : 0;
}

/* The rua= field at *S: its value runs to the next ";" (trailing
 * whitespace left for the caller); the first one counts. */
static int txt_rua(const char **s, struct tlsrpt_record *out, int *have_rua, const char **error_r)
{
	const char *v = *s + 4;
	size_t n = strcspn(v, ";");

	while (n > 0 && is_wsp(v[n - 1]))
		n--;
	*s = v + n;
	if (*have_rua)
		return 0;
	*have_rua = 1;
	if (n >= sizeof(out->rua_value)) {
		*error_r = "rua= too long";
		return -1;
	}
	memcpy(out->rua_value, v, n);
	out->rua_value[n] = '\0';
	return tlsrpt_rua_parse(out->rua_value, out, error_r);
}

/* One tlsrpt-field at *S: rua= or an extension (ignored). */
static int txt_field(const char **s, struct tlsrpt_record *out, int *have_rua, const char **error_r)
{
	const char *p = *s;
	size_t n;

	if (strncmp(p, "rua=", 4) == 0)
		return txt_rua(s, out, have_rua, error_r);
	n = ext_name_len(p);
	if (n == 0 || p[n] != '=') {
		*error_r = "a field is not rua= or NAME=VALUE";
		return -1;
	}
	p += n + 1;
	for (n = 0; p[n] >= 0x21 && p[n] <= 0x7e && p[n] != '=' && p[n] != ';'; n++)
		;
	if (n == 0) {
		*error_r = "an extension has an empty or invalid value";
		return -1;
	}
	*s = p + n;
	return 0;
}

/* 3: tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim], with
 * field-delim = *WSP ";" *WSP. */
int tlsrpt_txt_parse(const char *txt, struct tlsrpt_record *out, const char **error_r)
{
	const char *p;
	int have_rua = 0;

	memset(out, 0, sizeof(*out));
	if (strnlen(txt, TLSRPT_TXT_MAX + 1) > TLSRPT_TXT_MAX) {
		*error_r = "record too long";
		return -1;
	}
	if (strncmp(txt, TLSRPT_VERSION, TLSRPT_VERSION_LEN) != 0) {
		*error_r = "record does not start with v=TLSRPTv1";
		return -1;
	}
	for (p = txt + TLSRPT_VERSION_LEN;;) {
		p = skip_wsp(p);
		if (*p == '\0')
			break;
		if (*p != ';') {
			*error_r = "fields are not separated by ';'";
			goto fail;
		}
		p = skip_wsp(p + 1);
		if (*p == '\0')
			break;
		if (txt_field(&p, out, &have_rua, error_r) < 0)
			goto fail;
	}
	if (!have_rua) {
		*error_r = "record has no rua=";
		goto fail;
	}
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	return -1;
}

int tlsrpt_txt_select(const char *const *txts, size_t n, const char **error_r)
{
	int found = sts_txt_select_tagged(txts, n, TLSRPT_VERSION);

	if (found == -2)
		*error_r = "more than one v=TLSRPTv1 TXT record";
	else if (found < 0)
		*error_r = "no v=TLSRPTv1 TXT record";
	return found < 0 ? -1 : found;
}

int tlsrpt_rua_from_txt(const char *const *txts, const size_t *lens, size_t n, char *rua,
                        size_t size, const char **error_r)
{
	struct tlsrpt_record rec;
	int i = tlsrpt_txt_select(txts, n, error_r);

	if (size > 0)
		rua[0] = '\0';
	if (i < 0)
		return -1;
	if (lens[i] != strlen(txts[i])) {
		*error_r = "a NUL in the record";
		return -2;
	}
	if (tlsrpt_txt_parse(txts[i], &rec, error_r) < 0)
		return -2;
	if (strlcpy_checked(rua, rec.rua_value, size) < 0) {
		rua[0] = '\0';
		*error_r = "rua= too long";
		return -2;
	}
	return 0;
}
