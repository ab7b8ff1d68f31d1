/*
 * imap_fetch_render.c: one store FETCH_ITEM (proto/store.h) and the message
 * file that came with it -> the untagged "* SEQ FETCH (...)" line of RFC
 * 9051 7.5.2. Called by the IMAP session for each item of a FETCH it asked
 * for with a request from imap_fetch_parse().
 *
 * The message file (LF line ends, as Maildir keeps it) is read whole with
 * pread, converted to CRLF and MIME-parsed at most once per item. Section
 * data goes out as a literal ("" when empty); BINARY data with a NUL as a
 * literal8 (RFC 3516 4.2).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "imap/imap_fetch.h"
#include "lib/util.h"

/* What one item's rendering has loaded so far. */
struct render_ctx {
	const struct imap_fetch_request *req;
	const struct proto_store_item *item;
	int fd;
	unsigned flags;
	struct imap_out *out;
	int loaded;
	char *data; /* the message, CRLF */
	size_t len;
	struct mime_message *msg;
	struct mime_message *headers; /* over item->headers, when used */
};

/* Reads the whole file FD into an allocated buffer; "" when it cannot. */
static char *read_whole(int fd, size_t *len_r)
{
	struct stat st;
	size_t size, done = 0;
	char *buf;

	*len_r = 0;
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 0 ||
	    (uint64_t)st.st_size > IMAP_FETCH_FILE_MAX)
		return xstrdup("");
	size = (size_t)st.st_size;
	buf = xmalloc(size + 1);
	while (done < size) {
		ssize_t n = pread(fd, buf + done, size - done, (off_t)done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	buf[done] = '\0';
	*len_r = done;
	return buf;
}

/* Loads and parses the message file once. */
static void ctx_load(struct render_ctx *ctx)
{
	char *raw;
	size_t len;

	if (ctx->loaded)
		return;
	ctx->loaded = 1;
	raw = read_whole(ctx->fd, &len);
	ctx->data = mail_to_crlf(raw, len, &ctx->len);
	free(raw);
	ctx->msg = mime_parse(ctx->data, ctx->len);
}

/* The message for a header-only section: the store's cached header block
 * when it sent one, else the file. */
static const struct mime_message *ctx_header_source(struct render_ctx *ctx)
{
	const char *h = ctx->item->headers;

	if (h == NULL || *h == '\0') {
		ctx_load(ctx);
		return ctx->msg;
	}
	if (ctx->headers == NULL)
		ctx->headers = mime_parse(h, strlen(h));
	return ctx->headers;
}

static void ctx_free(struct render_ctx *ctx)
{
	if (ctx->msg != NULL)
		mime_free(&ctx->msg);
	if (ctx->headers != NULL)
		mime_free(&ctx->headers);
	free(ctx->data);
}

/* Section data as a string: "" when empty, else a literal (literal8 when
 * LITERAL8 and the data holds a NUL). */
static void out_section_data(struct imap_out *out, const char *data, size_t len, int literal8)
{
	if (len == 0) {
		imap_out_append(out, "\"\"", 2);
		return;
	}
	if (literal8 && memchr(data, '\0', len) != NULL)
		imap_out_append(out, "~", 1);
	imap_out_printf(out, "{%zu}\r\n", len);
	imap_out_append(out, data, len);
}

/* Clips DATA, LEN to the item's partial (RFC 9051 6.4.5: an origin past the
 * end gives the empty string). */
static void clip_partial(const struct imap_fetch_item *it, size_t *start_r, size_t *len_r)
{
	*start_r = 0;
	if (!it->has_partial)
		return;
	if (it->partial_start >= *len_r) {
		*start_r = *len_r;
		*len_r = 0;
		return;
	}
	*start_r = (size_t)it->partial_start;
	*len_r -= *start_r;
	if (it->partial_len < *len_r)
		*len_r = (size_t)it->partial_len;
}

/* The decoded octets of the part a BINARY section names (RFC 3516 4.1);
 * NULL when its encoding is unknown. A missing part is "". */
static char *binary_data(struct render_ctx *ctx, const struct mime_section *s, size_t *len_r)
{
	const struct mime_part *p;

	ctx_load(ctx);
	if (s->n_part == 0)
		return mime_section_get(ctx->msg, s, len_r);
	p = mime_section_part(ctx->msg, s->part, s->n_part);
	if (p == NULL) {
		*len_r = 0;
		return xstrdup("");
	}
	return mime_decode_body(ctx->data + p->body_start, p->body_end - p->body_start, p->encoding,
	                        len_r);
}

/* 1 when S is a part of the top-level header (the cached block can serve it). */
static int section_is_header(const struct mime_section *s)
{
	return s->n_part == 0 &&
	       (s->what == MIME_SECTION_HEADER || s->what == MIME_SECTION_HEADER_FIELDS ||
	        s->what == MIME_SECTION_HEADER_FIELDS_NOT);
}

/* BODY[...], BINARY[...], BINARY.SIZE[...]; -1 for UNKNOWN-CTE. */
static int render_section(struct render_ctx *ctx, const struct imap_fetch_item *it)
{
	size_t len, start;
	char *data;

	if (it->binary) {
		data = binary_data(ctx, &it->section, &len);
		if (data == NULL)
			return -1;
	} else if (section_is_header(&it->section)) {
		data = mime_section_get(ctx_header_source(ctx), &it->section, &len);
	} else {
		ctx_load(ctx);
		data = mime_section_get(ctx->msg, &it->section, &len);
	}
	if (it->binary_size) {
		imap_out_printf(ctx->out, "%s %zu", it->name, len);
	} else {
		clip_partial(it, &start, &len);
		imap_out_printf(ctx->out, "%s ", it->name);
		out_section_data(ctx->out, data + start, len, it->binary);
	}
	free(data);
	return 0;
}

/* RFC822, RFC822.HEADER, RFC822.TEXT (RFC 3501 6.4.5). */
static void render_rfc822(struct render_ctx *ctx, const struct imap_fetch_item *it)
{
	struct mime_section s = {.what = MIME_SECTION_ALL};
	const struct mime_message *m;
	size_t len;
	char *data;

	if (it->kind == IMAP_FETCH_RFC822_HEADER) {
		s.what = MIME_SECTION_HEADER;
		m = ctx_header_source(ctx);
	} else {
		if (it->kind == IMAP_FETCH_RFC822_TEXT)
			s.what = MIME_SECTION_TEXT;
		ctx_load(ctx);
		m = ctx->msg;
	}
	data = mime_section_get(m, &s, &len);
	imap_out_printf(ctx->out, "%s ", it->name);
	out_section_data(ctx->out, data, len, 0);
	free(data);
}

/* ENVELOPE, BODYSTRUCTURE, BODY: the store's cached text, or made here
 * from the file when the store sent none. */
static void render_cached(struct render_ctx *ctx, const struct imap_fetch_item *it,
                          const char *cached)
{
	char *made;

	if (cached != NULL && *cached != '\0') {
		imap_out_printf(ctx->out, "%s %s", it->name, cached);
		return;
	}
	ctx_load(ctx);
	if (it->kind == IMAP_FETCH_ENVELOPE)
		made = mime_envelope(ctx->msg);
	else
		made = mime_bodystructure(ctx->msg, it->kind == IMAP_FETCH_BODYSTRUCTURE);
	imap_out_printf(ctx->out, "%s %s", it->name, made);
	free(made);
}

/* INTERNALDATE "17-Jul-1996 02:44:25 -0700" (RFC 9051 date-time). */
static void render_internaldate(struct imap_out *out, int64_t t, int32_t tz_minutes)
{
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t local = (time_t)(t + (int64_t)tz_minutes * 60);
	int32_t tz = tz_minutes < 0 ? -tz_minutes : tz_minutes;
	struct tm tm;

	if (tz > 24 * 60 || gmtime_r(&local, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
	    tm.tm_year + 1900 < 0) {
		local = 0;
		tz = 0;
		tz_minutes = 0;
		gmtime_r(&local, &tm);
	}
	imap_out_printf(out, "INTERNALDATE \"%2d-%s-%04d %02d:%02d:%02d %c%02d%02d\"", tm.tm_mday,
	                months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	                tz_minutes < 0 ? '-' : '+', (int)(tz / 60), (int)(tz % 60));
}

void imap_fetch_out_flags(struct imap_out *out, uint32_t flags, const char *keywords,
                          int show_recent)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{STORE_FLAG_SEEN, "\\Seen"},         {STORE_FLAG_ANSWERED, "\\Answered"},
		{STORE_FLAG_FLAGGED, "\\Flagged"},   {STORE_FLAG_DELETED, "\\Deleted"},
		{STORE_FLAG_DRAFT, "\\Draft"},       {STORE_FLAG_RECENT, "\\Recent"},
	};
	const char *sep = "";

	imap_out_append(out, "(", 1);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(flags & names[i].bit) || (names[i].bit == STORE_FLAG_RECENT && !show_recent))
			continue;
		imap_out_printf(out, "%s%s", sep, names[i].name);
		sep = " ";
	}
	for (const char *k = keywords != NULL ? keywords : ""; *k != '\0';) {
		size_t n = strcspn(k, " ");
		if (n > 0) {
			imap_out_printf(out, "%s%.*s", sep, (int)n, k);
			sep = " ";
		}
		k += n + (k[n] == ' ');
	}
	imap_out_append(out, ")", 1);
}

/* The flags of the item as the session shows them. */
static void render_flags(struct render_ctx *ctx)
{
	imap_out_append(ctx->out, "FLAGS ", 6);
	imap_fetch_out_flags(ctx->out, ctx->item->flags, ctx->item->keywords,
	                     (ctx->flags & IMAP_FETCH_RENDER_REV1) != 0);
}

/* One item of the request; -1 for UNKNOWN-CTE. */
static int render_item(struct render_ctx *ctx, const struct imap_fetch_item *it)
{
	const struct proto_store_item *m = ctx->item;

	switch (it->kind) {
	case IMAP_FETCH_FLAGS:
		render_flags(ctx);
		break;
	case IMAP_FETCH_UID:
		imap_out_printf(ctx->out, "UID %u", m->uid);
		break;
	case IMAP_FETCH_INTERNALDATE:
		render_internaldate(ctx->out, m->internaldate, m->tz_minutes);
		break;
	case IMAP_FETCH_RFC822_SIZE:
		imap_out_printf(ctx->out, "RFC822.SIZE %llu", (unsigned long long)m->size);
		break;
	case IMAP_FETCH_ENVELOPE:
		render_cached(ctx, it, m->envelope);
		break;
	case IMAP_FETCH_BODYSTRUCTURE:
		render_cached(ctx, it, m->bodystructure);
		break;
	case IMAP_FETCH_BODY_SHAPE:
		render_cached(ctx, it, m->body);
		break;
	case IMAP_FETCH_SECTION:
		return render_section(ctx, it);
	case IMAP_FETCH_RFC822:
	case IMAP_FETCH_RFC822_HEADER:
	case IMAP_FETCH_RFC822_TEXT:
		render_rfc822(ctx, it);
		break;
	case IMAP_FETCH_MODSEQ:
		imap_out_printf(ctx->out, "MODSEQ (%llu)", (unsigned long long)m->modseq);
		break;
	}
	return 0;
}

int imap_fetch_render(const struct imap_fetch_request *req, const struct proto_store_item *item,
                      int fd, unsigned flags, struct imap_out *out)
{
	struct render_ctx ctx = {req, item, fd, flags, out, 0, NULL, 0, NULL, NULL};
	size_t mark = out->len;
	int has_modseq = 0;

	imap_out_printf(out, "* %u FETCH (", item->seq);
	for (unsigned i = 0; i < req->n_items; i++) {
		if (i > 0)
			imap_out_append(out, " ", 1);
		if (render_item(&ctx, &req->items[i]) < 0) {
			out->len = mark;
			ctx_free(&ctx);
			return -1;
		}
		has_modseq |= req->items[i].kind == IMAP_FETCH_MODSEQ;
	}
	/* RFC 9051 6.4.5: the \Seen flag a body fetch set is reported. */
	if (req->implicit_flags && (req->want & STORE_WANT_MARK_SEEN)) {
		imap_out_append(out, " ", 1);
		render_flags(&ctx);
	}
	if ((flags & IMAP_FETCH_RENDER_CONDSTORE) && !has_modseq && item->modseq != 0)
		imap_out_printf(out, " MODSEQ (%llu)", (unsigned long long)item->modseq);
	imap_out_append(out, ")\r\n", 3);
	ctx_free(&ctx);
	return 0;
}
