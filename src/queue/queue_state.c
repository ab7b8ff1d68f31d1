/*
 * queue_state.c: the state file's parser and formatter; see queue_state.h.
 * Pure: no I/O, no global state. Called by queue_spool.c, the unit tests
 * and the fuzz harness.
 */
#include "queue/queue_state.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "mail/envelope.h"
#include "policy/tls_seen.h"

void queue_rcpts_free(struct queue_rcpt *rcpts, unsigned n)
{
	for (unsigned i = 0; rcpts != NULL && i < n; i++)
		free(rcpts[i].via);
	free(rcpts);
}

void queue_state_free(struct queue_state *st)
{
	queue_rcpts_free(st->rcpts, st->n_rcpts);
	memset(st, 0, sizeof(*st));
}

struct queue_rcpt_record *queue_rcpt_record(struct queue_rcpt *r)
{
	if (r->via == NULL)
		r->via = xcalloc(1, sizeof(*r->via));
	return r->via;
}

int queue_rcpt_tls_held(const struct queue_rcpt *r)
{
	return r->status == RCPT_PENDING && r->via != NULL && r->via->held;
}

void queue_state_parser_init(struct queue_state_parser *p, struct queue_state *st)
{
	memset(p, 0, sizeof(*p));
	memset(st, 0, sizeof(*st));
	p->st = st;
}

/* Reads the decimal number at *S (a '-' first when NEGATIVE_OK) up to MAX
 * into *V and moves *S past it. Returns 0, or -1 when there is none or it
 * is too large. */
static int state_number(const char **s, long long max, int negative_ok, long long *v)
{
	const char *p = *s;
	int negative = negative_ok && *p == '-';
	long long n = 0;

	p += negative;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		int d = *p - '0';
		if (n > max / 10 || (n == max / 10 && d > max % 10))
			return -1;
		n = n * 10 + d;
	}
	*v = negative ? -n : n;
	*s = p;
	return 0;
}

/* VALUE as a whole number from 0 (or -MAX) to MAX. */
static int state_value(const char *value, long long max, int negative_ok, long long *v)
{
	return state_number(&value, max, negative_ok, v) == 0 && *value == '\0' ? 0 : -1;
}

/* "STATUS REPORTED TEXT": a recipient more. */
static int state_rcpt(struct queue_state_parser *p, const char *value)
{
	struct queue_state *st = p->st;
	struct queue_rcpt *r;
	long long status, reported;

	if (state_number(&value, RCPT_FAILED, 0, &status) < 0 || *value++ != ' ' ||
	    state_number(&value, 1, 0, &reported) < 0 || (*value != ' ' && *value != '\0'))
		return -1;
	if (st->n_rcpts >= ENVELOPE_MAX_RCPTS)
		return -1;
	if (st->n_rcpts == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 8;
		st->rcpts = xrealloc(st->rcpts, p->cap * sizeof(st->rcpts[0]));
	}
	r = &st->rcpts[st->n_rcpts++];
	memset(r, 0, sizeof(*r));
	r->status = (unsigned char)status;
	r->reported = (unsigned char)reported;
	(void)strlcpy_checked(r->last.text, *value == ' ' ? value + 1 : value,
	                      sizeof(r->last.text));
	return 0;
}

/* "ENHANCED CODE": the last status of the recipient before. */
static int state_rcpt_status(struct queue_state_parser *p, const char *value)
{
	const char *sp = strchr(value, ' ');
	char enhanced[DELIVERY_ENHANCED_MAX];
	struct queue_rcpt *r;
	long long code;

	if (p->st->n_rcpts == 0 || sp == NULL || (size_t)(sp - value) >= sizeof(enhanced))
		return -1;
	memcpy(enhanced, value, (size_t)(sp - value));
	enhanced[sp - value] = '\0';
	if ((strcmp(enhanced, "-") != 0 && !delivery_enhanced_valid(enhanced)) ||
	    state_value(sp + 1, 599, 0, &code) < 0 || !delivery_reply_code_valid((unsigned)code))
		return -1;
	r = &p->st->rcpts[p->st->n_rcpts - 1];
	strlcpy_checked(r->last.enhanced, enhanced[0] == '-' ? "" : enhanced,
	                sizeof(r->last.enhanced));
	r->last.reply_code = (unsigned)code;
	return 0;
}

/* The next word of *S (up to a space or the end) into OUT of SIZE bytes,
 * "-" read as ""; moves *S past it and one space. -1 when it is empty,
 * does not fit or holds a control character. */
static int state_word(const char **s, char *out, size_t size)
{
	const char *p = *s, *sp = strchr(p, ' ');
	size_t n = sp ? (size_t)(sp - p) : strlen(p);

	if (n == 0 || n >= size)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) /* never written */
			return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	if (strcmp(out, "-") == 0)
		out[0] = '\0';
	*s = sp ? sp + 1 : p + n;
	return 0;
}

/* "WHEN HELD RELAY TLS PEER LEVEL SOURCE": the record of the recipient
 * before. */
static int state_rcpt_via(struct queue_state_parser *p, const char *value)
{
	struct queue_rcpt_record rec;
	long long when, held;

	memset(&rec, 0, sizeof(rec));
	if (p->st->n_rcpts == 0 || state_number(&value, LLONG_MAX, 0, &when) < 0 ||
	    *value++ != ' ' || state_number(&value, 1, 0, &held) < 0 || *value++ != ' ' ||
	    state_word(&value, rec.relay, sizeof(rec.relay)) < 0 ||
	    state_word(&value, rec.tls, sizeof(rec.tls)) < 0 ||
	    state_word(&value, rec.peer, sizeof(rec.peer)) < 0 ||
	    state_word(&value, rec.policy, sizeof(rec.policy)) < 0 ||
	    state_word(&value, rec.source, sizeof(rec.source)) < 0 || *value != '\0')
		return -1;
	/* a file written before 0.13 says "untrusted" */
	strlcpy_checked(rec.peer, tls_peer_word(rec.peer), sizeof(rec.peer));
	rec.when = (time_t)when;
	rec.held = (unsigned char)held;
	*queue_rcpt_record(&p->st->rcpts[p->st->n_rcpts - 1]) = rec;
	return 0;
}

/* "TEXT" of rcpt-evidence or rcpt-testing (TESTING), after an rcpt-via. */
static int state_rcpt_via_text(struct queue_state_parser *p, const char *value, int testing)
{
	struct queue_rcpt_record *rec;

	if (p->st->n_rcpts == 0 || (rec = p->st->rcpts[p->st->n_rcpts - 1].via) == NULL)
		return -1;
	(void)strlcpy_checked(testing ? rec->testing : rec->evidence, value,
	                      testing ? sizeof(rec->testing) : sizeof(rec->evidence));
	return 0;
}

/* A 0|1 record's VALUE into *OUT. */
static int state_flag(const char *value, int *out)
{
	long long v;

	if (state_value(value, 1, 0, &v) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

/* One record, LINE without its "\n". Returns 0, or -1 when malformed. */
static int state_record(struct queue_state_parser *p, const char *line)
{
	struct queue_state *st = p->st;
	const char *sp = strchr(line, ' ');
	size_t klen = sp ? (size_t)(sp - line) : strlen(line);
	const char *value = sp ? sp + 1 : "";
	long long v;

#define KEY(k) (klen == sizeof(k) - 1 && memcmp(line, k, klen) == 0)
	if (KEY("rcpt"))
		return state_rcpt(p, value);
	if (KEY("rcpt-status"))
		return state_rcpt_status(p, value);
	if (KEY("rcpt-via"))
		return state_rcpt_via(p, value);
	if (KEY("rcpt-evidence") || KEY("rcpt-testing"))
		return state_rcpt_via_text(p, value, KEY("rcpt-testing"));
	if (KEY("tls-warned"))
		return state_flag(value, &st->tls_warned);
	if (KEY("attempts")) {
		if (state_value(value, UINT_MAX, 0, &v) < 0)
			return -1;
		st->attempts = (unsigned)v;
	} else if (KEY("next")) {
		if (state_value(value, LLONG_MAX, 1, &v) < 0)
			return -1;
		st->not_before = (time_t)v;
	} else if (KEY("warned") || KEY("held")) {
		return state_flag(value, KEY("warned") ? &st->warned : &st->held);
	}
#undef KEY
	return 0; /* an unknown record: a later version's */
}

/* Records the first error and empties the state. */
static int state_fail(struct queue_state_parser *p, const char *error, const char **error_r)
{
	if (p->error == NULL) {
		p->error = error;
		queue_state_free(p->st);
	}
	*error_r = p->error;
	return -1;
}

int queue_state_parser_feed(struct queue_state_parser *p, const char *data, size_t len,
                            const char **error_r)
{
	for (size_t i = 0; i < len && p->error == NULL; i++) {
		if (data[i] == '\0')
			return state_fail(p, "NUL in state file", error_r);
		if (data[i] != '\n') {
			if (p->len + 1 >= sizeof(p->line))
				return state_fail(p, "over-long state record", error_r);
			p->line[p->len++] = data[i];
			continue;
		}
		p->line[p->len] = '\0';
		p->len = 0;
		if (state_record(p, p->line) < 0)
			return state_fail(p, "malformed state record", error_r);
	}
	if (p->error != NULL)
		return state_fail(p, p->error, error_r);
	return 0;
}

int queue_state_parser_finish(struct queue_state_parser *p, const char **error_r)
{
	if (p->error != NULL)
		return state_fail(p, p->error, error_r);
	if (p->len > 0)
		return state_fail(p, "truncated state file", error_r);
	return 0;
}

int queue_state_parse(const char *buf, size_t len, struct queue_state *st, const char **error_r)
{
	struct queue_state_parser p;

	queue_state_parser_init(&p, st);
	if (queue_state_parser_feed(&p, buf, len, error_r) < 0)
		return -1;
	return queue_state_parser_finish(&p, error_r);
}

/* Appends TEXT to OUT with control characters made spaces. */
static size_t state_put_text(char *out, const char *text)
{
	size_t n = 0;

	for (; *text != '\0'; text++)
		out[n++] = (unsigned char)*text < 0x20 || *text == 0x7f ? ' ' : *text;
	return n;
}

/* Appends WORD to OUT as state_word() reads it back: "-" when empty,
 * spaces and control characters made '_'; then a space, or a "\n" when
 * LAST. */
static size_t state_put_word(char *out, const char *word, int last)
{
	size_t n = 0;

	if (*word == '\0')
		out[n++] = '-';
	for (; *word != '\0'; word++)
		out[n++] = (unsigned char)*word <= 0x20 || *word == 0x7f ? '_' : *word;
	out[n++] = last ? '\n' : ' ';
	return n;
}

/* Appends the record lines of REC (state_rcpt_via's and the texts). */
static size_t state_put_record(char *out, const struct queue_rcpt_record *rec)
{
	size_t n = (size_t)sprintf(out, "rcpt-via %lld %d ",
	                           (long long)(rec->when < 0 ? 0 : rec->when), rec->held != 0);

	n += state_put_word(out + n, rec->relay, 0);
	n += state_put_word(out + n, rec->tls, 0);
	n += state_put_word(out + n, rec->peer, 0);
	n += state_put_word(out + n, rec->policy, 0);
	n += state_put_word(out + n, rec->source, 1);
	if (rec->evidence[0] != '\0') {
		n += (size_t)sprintf(out + n, "rcpt-evidence ");
		n += state_put_text(out + n, rec->evidence);
		out[n++] = '\n';
	}
	if (rec->testing[0] != '\0') {
		n += (size_t)sprintf(out + n, "rcpt-testing ");
		n += state_put_text(out + n, rec->testing);
		out[n++] = '\n';
	}
	return n;
}

char *queue_state_format(const struct queue_state *st, size_t *len_r)
{
	size_t cap = 128 + (size_t)st->n_rcpts *
	                       (DELIVERY_TEXT_MAX + 64 + sizeof(struct queue_rcpt_record) + 128),
	       len;
	char *buf = xmalloc(cap);

	len = (size_t)snprintf(buf, cap, "attempts %u\nnext %lld\nwarned %d\nheld %d\n",
	                       st->attempts, (long long)st->not_before, st->warned != 0,
	                       st->held != 0);
	if (st->tls_warned)
		len += (size_t)snprintf(buf + len, cap - len, "tls-warned 1\n");
	for (unsigned i = 0; i < st->n_rcpts; i++) {
		const struct queue_rcpt *r = &st->rcpts[i];
		const struct delivery_status *s = &r->last;

		len += (size_t)snprintf(buf + len, cap - len, "rcpt %u %u ", r->status,
		                        r->reported != 0);
		len += state_put_text(buf + len, s->text);
		len += (size_t)snprintf(buf + len, cap - len, "\nrcpt-status %s %u\n",
		                        delivery_enhanced_valid(s->enhanced) ? s->enhanced : "-",
		                        delivery_reply_code_valid(s->reply_code) ? s->reply_code
		                                                                  : 0);
		if (r->via != NULL)
			len += state_put_record(buf + len, r->via);
	}
	*len_r = len;
	return buf;
}
