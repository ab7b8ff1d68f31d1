/*
 * dsn.c: builds delivery status notifications (RFC 3464 inside an RFC 6522
 * multipart/report); declared in dsn.h, called by
 * the queue when it gives up on, delays or reports recipients.
 *
 * Pure: values in, bytes out, no global state. Everything that came from
 * outside (a remote server's reply, addresses, host names from DNS) goes
 * through clean_value() before it reaches a line, so it cannot end a line,
 * start a header or a MIME part, and every line is kept under RFC 5322's 998
 * octets by folding.
 */
#include "queue/dsn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"
#include "mail/mail_header.h"
#include "mail/delivery.h"
#include "mail/xtext.h"

#define DSN_LINE_SOFT 78   /* RFC 5322 2.1.1: lines SHOULD be no longer */
#define DSN_LINE_HARD 900  /* break a run without spaces here (< 998) */
#define DSN_LINE_MAX 998   /* RFC 5322 2.1.1, without the CRLF */
#define DSN_VALUE_MAX 4096 /* a value (diagnostic, address) is cut here */
#define DSN_SEED_MAX 32    /* octets of the seed used in the boundary */
#define DSN_DATE_MAX 64
#define DSN_HOST_MAX 255 /* RFC 1035 2.3.4 */
#define DSN_QUEUE_ID_MAX 64

/* A growing byte string. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};

/* What the report is about, in order of precedence for the Subject. */
struct dsn_summary {
	unsigned n_failed;
	unsigned n_delayed;
	unsigned n_delivered;
	unsigned n_relayed;
	time_t retry_until; /* the latest Will-Retry-Until of the delayed */
	int full;           /* the whole original goes back (RET=FULL, a failure) */
};

/* ---- buffers ------------------------------------------------------------- */

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (n == 0 && b->data != NULL)
		return;
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->data = xrealloc(b->data, b->cap);
	}
	if (n > 0)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void buf_puts(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_putc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

/* ---- values ------------------------------------------------------------- */

/* A copy of S (NULL: "") fit for one line: control characters (CR and LF
 * above all) become spaces, octets above 127 become '?' (the parts are
 * us-ascii), runs of spaces become one, none is left at either end, and at
 * most DSN_VALUE_MAX octets are kept. */
static char *clean_value(const char *s)
{
	size_t n = 0;
	char *out = xmalloc(DSN_VALUE_MAX + 1);

	for (; s != NULL && *s != '\0' && n < DSN_VALUE_MAX; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			c = ' ';
		else if (c > 0x7f)
			c = '?';
		if (c == ' ' && (n == 0 || out[n - 1] == ' '))
			continue;
		out[n++] = (char)c;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	return out;
}

/* 1 for the octets kept in a host name or queue id inside an address,
 * Message-ID or boundary. */
static int is_token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

/* A copy of S (NULL or empty: FALLBACK) with every octet that is not a
 * token character replaced by '_', at most MAX octets long. */
static char *clean_token(const char *s, const char *fallback, size_t max)
{
	size_t n = 0;
	char *out;

	if (s == NULL || *s == '\0')
		s = fallback;
	out = xmalloc(max + 1);
	for (; *s != '\0' && n < max; s++)
		out[n++] = is_token_char(*s) ? *s : '_';
	out[n] = '\0';
	return out;
}

/* VALUE decoded from xtext (RFC 3461 4) when it is valid xtext, else a copy
 * of VALUE as it is. */
static char *xtext_or_raw(const char *value)
{
	size_t size = strlen(value) + 1;
	char *out = xmalloc(size);

	if (xtext_decode(value, out, size) < 0)
		memcpy(out, value, size);
	return out;
}

static void format_date(time_t t, char *buf)
{
	rfc5322_date(t, buf, DSN_DATE_MAX);
}

/* R's action; one outside the enum counts as failed. */
static enum dsn_action rcpt_action(const struct dsn_recipient *r)
{
	switch (r->action) {
	case DSN_ACTION_DELAYED:
	case DSN_ACTION_DELIVERED:
	case DSN_ACTION_RELAYED:
		return r->action;
	case DSN_ACTION_FAILED:
		break;
	}
	return DSN_ACTION_FAILED;
}

/* The action-field value (RFC 3464 2.3.3). */
static const char *action_name(enum dsn_action a)
{
	static const char *const names[] = {
	    [DSN_ACTION_FAILED] = "failed",
	    [DSN_ACTION_DELAYED] = "delayed",
	    [DSN_ACTION_DELIVERED] = "delivered",
	    [DSN_ACTION_RELAYED] = "relayed",
	};

	return names[a];
}

/* The recipient's status, or the generic one for its action when it has
 * none or a malformed one. */
static const char *rcpt_status(const struct dsn_recipient *r)
{
	static const char *const generic[] = {
	    [DSN_ACTION_FAILED] = "5.0.0",
	    [DSN_ACTION_DELAYED] = "4.0.0",
	    [DSN_ACTION_DELIVERED] = "2.0.0",
	    [DSN_ACTION_RELAYED] = "2.0.0",
	};

	return delivery_enhanced_valid(r->status) ? r->status : generic[rcpt_action(r)];
}

/* Length of a diagnostic-type ("smtp", "X-Foo") followed by ';' at the start
 * of DIAG, or 0. */
static size_t diagnostic_type_len(const char *diag)
{
	size_t n = 0;

	if (strncasecmp(diag, "smtp;", 5) == 0)
		return 4;
	if (strncasecmp(diag, "x-", 2) != 0)
		return 0;
	for (n = 2; is_token_char(diag[n]) && diag[n] != '.'; n++)
		;
	return diag[n] == ';' && n > 2 ? n : 0;
}

/* Splits the cleaned DIAG (RFC 3464 2.3.6) into a diagnostic-type and its
 * text: GIVEN when the caller said (DIAG is then all text); else a type in
 * DIAG ("smtp; 550 ...", "X-Foo; ...") is kept; a text that starts with a
 * reply code is "smtp", anything else ours, "X-Sealmail". */
static void diagnostic_split(const char *diag, const char *given, char *type, size_t type_size,
                             const char **text_r)
{
	size_t n = diagnostic_type_len(diag);

	if (given != NULL) {
		char *token = clean_token(given, "X-Sealmail", type_size - 1);

		snprintf(type, type_size, "%s", token);
		free(token);
	} else if (n > 0 && n < type_size) {
		memcpy(type, diag, n);
		type[n] = '\0';
		diag += n + 1;
		while (*diag == ' ')
			diag++;
	} else if (diag[0] >= '2' && diag[0] <= '5' && diag[1] >= '0' && diag[1] <= '9' &&
	           diag[2] >= '0' && diag[2] <= '9' &&
	           (diag[3] == '\0' || diag[3] == ' ' || diag[3] == '-')) {
		snprintf(type, type_size, "smtp");
	} else {
		snprintf(type, type_size, "X-Sealmail");
	}
	*text_r = diag;
}

/* ---- lines -------------------------------------------------------------- */

/* Length of the word (run without spaces) at S. */
static size_t word_len(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && s[n] != ' ')
		n++;
	return n;
}

/* Appends LINE and a CRLF, folding (RFC 5322 2.2.3) before a space where the
 * next word would pass column DSN_LINE_SOFT (never at the first space, after
 * a field's name), and inside a run without spaces at DSN_LINE_HARD, so no
 * line is longer than that. LINE holds no CR, LF or runs of spaces
 * (clean_value()), so every continuation line starts with a space followed
 * by text. */
static void put_folded_line(struct buf *b, const char *line)
{
	size_t len = strlen(line), col = 0, first_space;

	while (len > 0 && line[len - 1] == ' ')
		len--;
	first_space = word_len(line, len);
	for (size_t i = 0; i < len; i++) {
		int fold_soft = line[i] == ' ' && i > first_space &&
		                col + 1 + word_len(line + i + 1, len - i - 1) > DSN_LINE_SOFT;

		if (fold_soft || (line[i] != ' ' && col >= DSN_LINE_HARD)) {
			buf_add(b, "\r\n", 2);
			col = 0;
			if (line[i] != ' ') {
				buf_putc(b, ' ');
				col++;
			}
		}
		buf_putc(b, line[i]);
		col++;
	}
	buf_add(b, "\r\n", 2);
}

/* put_folded_line() of a printf format. */
static void put_line(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put_line(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *line;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	line = xmalloc(n > 0 ? (size_t)n + 1 : 1);
	line[0] = '\0';
	if (n > 0) {
		va_start(ap, fmt);
		vsnprintf(line, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	put_folded_line(b, line);
	free(line);
}

/* Appends the date field NAME: T. */
static void put_date_field(struct buf *b, const char *name, time_t t)
{
	char date[DSN_DATE_MAX];

	format_date(t, date);
	put_line(b, "%s: %s", name, date);
}

/* ---- the summary -------------------------------------------------------- */

static void summarise(const struct dsn_params *p, struct dsn_summary *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < p->n_rcpts; i++) {
		const struct dsn_recipient *r = &p->rcpts[i];

		switch (rcpt_action(r)) {
		case DSN_ACTION_FAILED:
			s->n_failed++;
			break;
		case DSN_ACTION_DELAYED:
			s->n_delayed++;
			if (r->will_retry_until > s->retry_until)
				s->retry_until = r->will_retry_until;
			break;
		case DSN_ACTION_DELIVERED:
			s->n_delivered++;
			break;
		case DSN_ACTION_RELAYED:
			s->n_relayed++;
			break;
		}
	}
	/* RFC 3461 4.3: RET=FULL asks for the content in a "failed" DSN; the
	 * others carry the headers only. */
	s->full = p->ret == DSN_RET_FULL && s->n_failed > 0;
}

static const char *summary_subject(const struct dsn_summary *s)
{
	if (s->n_failed > 0)
		return "Undelivered Mail Returned to Sender";
	if (s->n_delayed > 0)
		return "Delayed Mail (still being retried)";
	return "Successful Mail Delivery Report";
}

/* ---- part 1: for people ---------------------------------------------------- */

/* Appends the lines of R's record under its reason (dsn.h, "The record"). */
static void human_record(struct buf *b, const struct dsn_recipient *r)
{
	char *relay, *tls, *peer, *policy, *source, *evidence, *testing;

	if (r->tls == NULL)
		return;
	relay = clean_value(r->relay);
	tls = clean_value(r->tls);
	peer = clean_value(r->peer);
	policy = clean_value(r->policy);
	source = clean_value(r->policy_source);
	evidence = clean_value(r->evidence);
	testing = clean_value(r->testing);
	put_line(b, "  relay %s, TLS %s, peer %s, policy %s (%s)", *relay ? relay : "none",
	         *tls ? tls : "none", *peer ? peer : "none", *policy ? policy : "unknown",
	         *source ? source : "unknown");
	if (*evidence != '\0')
		put_line(b, "  policy chosen by: %s", evidence);
	if (*testing != '\0')
		put_line(b, "  testing: %s", testing);
	free(relay);
	free(tls);
	free(peer);
	free(policy);
	free(source);
	free(evidence);
	free(testing);
}

/* Appends "<address>: reason" for every recipient whose action is ACTION. */
static void human_recipients(struct buf *b, const struct dsn_params *p, enum dsn_action action)
{
	for (unsigned i = 0; i < p->n_rcpts; i++) {
		const struct dsn_recipient *r = &p->rcpts[i];
		char *address, *diag, type[32];
		const char *text;

		if (rcpt_action(r) != action)
			continue;
		address = clean_value(r->address);
		diag = clean_value(r->diagnostic);
		diagnostic_split(diag, r->diagnostic_type, type, sizeof(type), &text);
		put_line(b, "<%s>: %s", address, *text != '\0' ? text : rcpt_status(r));
		human_record(b, r);
		free(address);
		free(diag);
	}
	buf_add(b, "\r\n", 2);
}

/* Appends the section of part 1 for the recipients whose action is ACTION. */
static void human_section(struct buf *b, const struct dsn_params *p, const struct dsn_summary *s,
                          enum dsn_action action)
{
	static const char *const headings[] = {
	    [DSN_ACTION_FAILED] = "Delivery to these recipients failed:",
	    [DSN_ACTION_DELAYED] = "Delivery to these recipients is delayed:",
	    [DSN_ACTION_DELIVERED] = "Your message was delivered to these recipients:",
	    [DSN_ACTION_RELAYED] = "Relayed, to a server that sends no delivery notifications:",
	};

	put_line(b, "%s", headings[action]);
	buf_add(b, "\r\n", 2);
	human_recipients(b, p, action);
	if (action == DSN_ACTION_DELAYED && s->retry_until != 0) {
		char date[DSN_DATE_MAX];

		format_date(s->retry_until, date);
		put_line(b,
		         "The mail system will keep trying until %s; you do not need to send "
		         "the message again.",
		         date);
		buf_add(b, "\r\n", 2);
	}
}

/* The opening paragraph of part 1. */
static void human_intro(struct buf *b, const struct dsn_summary *s, const char *host)
{
	put_line(b, "This is the mail system at host %s.", host);
	buf_add(b, "\r\n", 2);
	if (s->n_failed > 0) {
		put_line(b, "Your message could not be delivered to one or more recipients.");
		put_line(b, s->full ? "It is attached below." : "Its headers are attached below.");
	} else if (s->n_delayed > 0) {
		put_line(b, "Your message has not yet been delivered to one or more recipients.");
		put_line(b, "This is a warning only; the mail system is still trying.");
	} else {
		put_line(b, "This is a report on the delivery of your message.");
	}
	put_line(b, "The recipients and the reasons are listed below.");
	buf_add(b, "\r\n", 2);
}

static void build_human_part(struct buf *b, const struct dsn_params *p, const struct dsn_summary *s,
                             const char *host)
{
	human_intro(b, s, host);
	if (s->n_failed > 0)
		human_section(b, p, s, DSN_ACTION_FAILED);
	if (s->n_delayed > 0)
		human_section(b, p, s, DSN_ACTION_DELAYED);
	if (s->n_delivered > 0)
		human_section(b, p, s, DSN_ACTION_DELIVERED);
	if (s->n_relayed > 0)
		human_section(b, p, s, DSN_ACTION_RELAYED);
	if (b->len >= 4 && memcmp(b->data + b->len - 4, "\r\n\r\n", 4) == 0)
		b->len -= 2; /* the part ends with its last line, not a blank one */
}

/* ---- part 2: for programs (RFC 3464 2) ------------------------------------ */

/* Appends the per-message fields (RFC 3464 2.2). */
static void report_message_fields(struct buf *b, const struct dsn_params *p, const char *host)
{
	char *id = clean_value(p->queue_id);

	put_line(b, "Reporting-MTA: dns; %s", host);
	if (*id != '\0')
		put_line(b, "X-Sealmail-Queue-ID: %s", id);
	free(id);
	if (p->envid != NULL) {
		char *raw = xtext_or_raw(p->envid), *envid = clean_value(raw);

		if (*envid != '\0')
			put_line(b, "Original-Envelope-Id: %s", envid);
		free(raw);
		free(envid);
	}
	if (p->arrival != 0)
		put_date_field(b, "Arrival-Date", p->arrival);
}

/* Appends Original-Recipient (RFC 3464 2.3.1) for the ORCPT parameter
 * "type;xtext": the type as given ("rfc822" when none), the address decoded. */
static void report_orcpt(struct buf *b, const char *orcpt)
{
	const char *semi = strchr(orcpt, ';');
	char *type_raw = xstrdup(orcpt), *type, *raw, *address;

	if (semi != NULL)
		type_raw[semi - orcpt] = '\0';
	type = clean_value(semi != NULL ? type_raw : "rfc822");
	semi = semi != NULL ? semi + 1 : orcpt;
	while (*semi == ' ')
		semi++;
	raw = xtext_or_raw(semi);
	address = clean_value(raw);
	if (*address != '\0')
		put_line(b, "Original-Recipient: %s;%s", *type != '\0' ? type : "rfc822", address);
	free(type_raw);
	free(type);
	free(raw);
	free(address);
}

/* Appends the diagnostic-code field (RFC 3464 2.3.6) when R has one. */
static void report_diagnostic(struct buf *b, const struct dsn_recipient *r)
{
	char *diag = clean_value(r->diagnostic), type[32];
	const char *text;

	diagnostic_split(diag, r->diagnostic_type, type, sizeof(type), &text);
	if (*text != '\0')
		put_line(b, "Diagnostic-Code: %s; %s", type, text);
	free(diag);
}

/* The host name of RELAY ("host[address]:port"), cleaned, malloc'ed. */
static char *relay_host(const char *relay)
{
	char *copy = clean_value(relay), *bracket = strchr(copy, '[');

	if (bracket != NULL)
		*bracket = '\0';
	return copy;
}

/* Appends "NAME: VALUE" when VALUE (cleaned) is not empty; EMPTY instead
 * when it is and EMPTY is not NULL. */
static void report_field(struct buf *b, const char *name, const char *value, const char *empty)
{
	char *v = clean_value(value);

	if (*v != '\0' || empty != NULL)
		put_line(b, "%s: %s", name, *v != '\0' ? v : empty);
	free(v);
}

/* Appends R's record as extension fields (dsn.h, "The record"). */
static void report_record(struct buf *b, const struct dsn_recipient *r)
{
	if (r->tls == NULL)
		return;
	report_field(b, "X-Sealmail-TLS", r->tls, "none");
	report_field(b, "X-Sealmail-TLS-Peer", r->peer, NULL);
	report_field(b, "X-Sealmail-TLS-Policy", r->policy, NULL);
	report_field(b, "X-Sealmail-TLS-Policy-Source", r->policy_source, NULL);
	report_field(b, "X-Sealmail-TLS-Evidence", r->evidence, NULL);
	report_field(b, "X-Sealmail-TLS-Testing", r->testing, NULL);
}

/* Appends a blank line and R's per-recipient fields (RFC 3464 2.3). */
static void report_recipient(struct buf *b, const struct dsn_recipient *r)
{
	char *address = clean_value(r->address);
	char *mta = r->remote_mta != NULL ? clean_value(r->remote_mta) : relay_host(r->relay);

	buf_add(b, "\r\n", 2);
	if (r->orcpt != NULL)
		report_orcpt(b, r->orcpt);
	put_line(b, "Final-Recipient: rfc822; %s", address);
	put_line(b, "Action: %s", action_name(rcpt_action(r)));
	put_line(b, "Status: %s", rcpt_status(r));
	if (*mta != '\0')
		put_line(b, "Remote-MTA: dns; %s", mta);
	report_diagnostic(b, r);
	if (r->last_attempt != 0)
		put_date_field(b, "Last-Attempt-Date", r->last_attempt);
	if (rcpt_action(r) == DSN_ACTION_DELAYED && r->will_retry_until != 0)
		put_date_field(b, "Will-Retry-Until", r->will_retry_until);
	report_record(b, r); /* RFC 3464 2.3: extension fields come last */
	free(address);
	free(mta);
}

static void build_report_part(struct buf *b, const struct dsn_params *p, const char *host)
{
	report_message_fields(b, p, host);
	for (unsigned i = 0; i < p->n_rcpts; i++)
		report_recipient(b, &p->rcpts[i]);
}

/* ---- part 3: the original ------------------------------------------------- */

/* Appends MSG (LEN octets) with every line end made CRLF (a bare CR or LF
 * too), a final CRLF when it has none, and lines longer than DSN_LINE_MAX
 * broken: as a folded continuation within the first HEADER_LEN octets, by a
 * plain CRLF in the body. */
static void put_original(struct buf *b, const char *msg, size_t len, size_t header_len)
{
	size_t col = 0;
	int after_cr = 0;

	for (size_t i = 0; i < len; i++) {
		char c = msg[i];

		if (c == '\n' && after_cr) {
			after_cr = 0;
			continue;
		}
		after_cr = c == '\r';
		if (c == '\r' || c == '\n') {
			buf_add(b, "\r\n", 2);
			col = 0;
			continue;
		}
		if (col == DSN_LINE_MAX) {
			buf_add(b, i < header_len ? "\r\n " : "\r\n", i < header_len ? 3 : 2);
			col = i < header_len ? 1 : 0;
		}
		buf_putc(b, c);
		col++;
	}
	if (col > 0)
		buf_add(b, "\r\n", 2);
}

static void build_original_part(struct buf *b, const struct dsn_params *p,
                                const struct dsn_summary *s)
{
	const char *msg = p->message != NULL ? p->message : "";
	size_t len = p->message != NULL ? p->message_len : 0;
	size_t header_len = mail_header_length(msg, len);

	put_original(b, msg, s->full ? len : header_len, header_len);
}

/* 1 when B holds an octet above 127 (the part is then 8bit, RFC 2045 6.2). */
static int has_8bit(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++) {
		if ((unsigned char)b->data[i] > 0x7f)
			return 1;
	}
	return 0;
}

/* ---- the whole message ---------------------------------------------------- */

/* FNV-1a of S (NULL: ""), to vary the Message-ID with the seed. */
static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; s != NULL && *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* 1 when NEEDLE occurs in any of the N_PARTS PARTS. */
static int occurs_in(const char *needle, const struct buf *parts, size_t n_parts)
{
	size_t len = strlen(needle);

	for (size_t i = 0; i < n_parts; i++) {
		if (parts[i].len > 0 && memmem(parts[i].data, parts[i].len, needle, len) != NULL)
			return 1;
	}
	return 0;
}

/* A MIME boundary (RFC 2046 5.1.1, at most 70 octets) made from SEED and NOW
 * that occurs in none of the PARTS: "=_" cannot occur in quoted-printable or
 * base64, and a counter varies it until it occurs nowhere. */
static char *boundary_pick(const char *seed, time_t now, const struct buf *parts, size_t n_parts)
{
	char *token = clean_token(seed, "sealmail", DSN_SEED_MAX), *boundary = NULL;

	for (unsigned n = 0; boundary == NULL || occurs_in(boundary, parts, n_parts); n++) {
		free(boundary);
		boundary = xasprintf("=_%s_%llx_%u", token, (unsigned long long)now, n);
	}
	free(token);
	return boundary;
}

/* Appends the DSN's own header fields and the blank line after them. */
static void put_top_headers(struct buf *b, const struct dsn_params *p, const struct dsn_summary *s,
                            const char *host, const char *boundary, int eight_bit)
{
	char *sender = clean_value(p->sender);
	char *qid = clean_token(p->queue_id, "unknown", DSN_QUEUE_ID_MAX);

	put_line(b, "From: Mail Delivery System <MAILER-DAEMON@%s>", host);
	put_line(b, "To: <%s>", sender);
	put_line(b, "Subject: %s", summary_subject(s));
	put_date_field(b, "Date", p->now);
	put_line(b, "Message-ID: <%s.dsn.%llx%08x@%s>", qid, (unsigned long long)p->now,
	         (unsigned)fnv1a(p->boundary_seed), host);
	put_line(b, "Auto-Submitted: auto-replied"); /* RFC 3834 5 */
	put_line(b, "MIME-Version: 1.0");
	put_line(b, "Content-Type: multipart/report; report-type=delivery-status;");
	put_line(b, "\tboundary=\"%s\"", boundary);
	if (eight_bit)
		put_line(b, "Content-Transfer-Encoding: 8bit");
	buf_add(b, "\r\n", 2);
	free(sender);
	free(qid);
}

/* Appends a boundary line, the part's HEADERS (each line ending in CRLF), a
 * blank line and the part's content. */
static void put_part(struct buf *b, const char *boundary, const char *headers,
                     const struct buf *content)
{
	buf_puts(b, "\r\n--");
	buf_puts(b, boundary);
	buf_puts(b, "\r\n");
	buf_puts(b, headers);
	buf_add(b, "\r\n", 2);
	buf_add(b, content->data, content->len);
}

/* The headers of part 3. */
static const char *original_part_headers(const struct dsn_summary *s, int eight_bit)
{
	if (s->full)
		return eight_bit ? "Content-Description: Undelivered Message\r\n"
		                   "Content-Type: message/rfc822\r\n"
		                   "Content-Transfer-Encoding: 8bit\r\n"
		                 : "Content-Description: Undelivered Message\r\n"
		                   "Content-Type: message/rfc822\r\n";
	return eight_bit ? "Content-Description: Message Headers\r\n"
	                   "Content-Type: text/rfc822-headers\r\n"
	                   "Content-Transfer-Encoding: 8bit\r\n"
	                 : "Content-Description: Message Headers\r\n"
	                   "Content-Type: text/rfc822-headers\r\n";
}

char *dsn_build(const struct dsn_params *p, size_t *len_r)
{
	struct dsn_summary s;
	struct buf parts[3] = {{0}}, out = {0};
	char *host = clean_token(p->reporting_mta, "localhost", DSN_HOST_MAX), *boundary;
	int eight_bit;

	summarise(p, &s);
	build_human_part(&parts[0], p, &s, host);
	build_report_part(&parts[1], p, host);
	build_original_part(&parts[2], p, &s);
	eight_bit = has_8bit(&parts[2]);
	boundary = boundary_pick(p->boundary_seed, p->now, parts, 3);
	put_top_headers(&out, p, &s, host, boundary, eight_bit);
	buf_puts(&out, "This is a MIME-encapsulated message.\r\n");
	put_part(&out, boundary,
	         "Content-Description: Notification\r\n"
	         "Content-Type: text/plain; charset=us-ascii\r\n",
	         &parts[0]);
	put_part(&out, boundary,
	         "Content-Description: Delivery report\r\n"
	         "Content-Type: message/delivery-status\r\n",
	         &parts[1]);
	put_part(&out, boundary, original_part_headers(&s, eight_bit), &parts[2]);
	buf_puts(&out, "\r\n--");
	buf_puts(&out, boundary);
	buf_puts(&out, "--\r\n");
	for (size_t i = 0; i < 3; i++)
		free(parts[i].data);
	free(boundary);
	free(host);
	*len_r = out.len;
	return out.data;
}
