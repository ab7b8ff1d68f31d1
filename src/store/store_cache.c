/*
 * store_cache.c: the texts FETCH and SEARCH need from inside a message
 * (ENVELOPE, BODYSTRUCTURE, BODY, the header block), taken from the
 * folder's cache, or computed once with mime.h from the file (LF line ends
 * turned into CRLF first) and stored in the cache, so a second FETCH or a
 * header SEARCH never opens the file again. Called by store_fetch.c and
 * store_search.c.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "mail/mime.h"
#include "store/store_private.h"

char *store_message_read(struct store_folder *f, unsigned index, size_t *len_r)
{
	int fd = mailbox_open_file(f->mb, index);
	struct stat st;
	size_t want, got = 0;
	char *raw, *crlf;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return NULL;
	}
	want = (uint64_t)st.st_size < STORE_PARSE_MAX ? (size_t)st.st_size : STORE_PARSE_MAX;
	raw = xmalloc(want + 1);
	while (got < want) {
		ssize_t n = read(fd, raw + got, want - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	crlf = mail_to_crlf(raw, got, len_r);
	free(raw);
	return crlf;
}

/* The offset after the first blank line ("\n" or "\r\n") of RAW[0, LEN),
 * or 0 when it has none yet. */
static size_t store_blank_line_end(const char *raw, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *lf;
		if (raw[i] == '\n')
			return i + 1;
		if (raw[i] == '\r' && i + 1 < len && raw[i + 1] == '\n')
			return i + 2;
		lf = memchr(raw + i, '\n', len - i);
		if (lf == NULL)
			return 0;
		i = (size_t)(lf - raw) + 1;
	}
	return 0;
}

/* The header block of message INDEX (CRLF, up to and with the blank line),
 * reading the file only as far as that line; NULL when unreadable. Any
 * prefix holding the first blank line ends the header where the whole
 * message does, so the block is the one mime_parse() of the file gives. */
static char *store_header_read(struct store_folder *f, unsigned index)
{
	int fd = mailbox_open_file(f->mb, index);
	size_t size = STORE_HEADER_CHUNK, got = 0, end = 0, len;
	char *raw, *crlf, *block;
	struct mime_message *m;

	if (fd < 0)
		return NULL;
	raw = xmalloc(size + 1);
	while (end == 0 && got < STORE_PARSE_MAX) {
		ssize_t n;
		if (got == size) {
			size = size * 2 < STORE_PARSE_MAX ? size * 2 : STORE_PARSE_MAX;
			raw = xrealloc(raw, size + 1);
		}
		n = read(fd, raw + got, size - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		end = store_blank_line_end(raw, got);
	}
	close(fd);
	crlf = mail_to_crlf(raw, end != 0 ? end : got, &len);
	free(raw);
	m = mime_parse(crlf, len);
	len = m->root.header_end - m->root.header_start;
	block = xmalloc(len + 1);
	memcpy(block, crlf + m->root.header_start, len);
	block[len] = '\0';
	mime_free(&m);
	free(crlf);
	return block;
}

/* Fills T->headers (and the cache) from the header block alone: what a
 * header SEARCH or a header FETCH needs, without parsing the body. */
static void store_cache_headers(struct store_folder *f, unsigned index, struct store_texts *t)
{
	char *block = store_header_read(f, index);

	if (block == NULL) {
		log_warn("event=store-warning folder=%s uid=%u reason=\"message file unreadable\"",
		         f->dir, mailbox_get(f->mb, index)->uid);
		return;
	}
	if (strlen(block) >= PROTO_STORE_CACHE_MAX) {
		free(block);
		return;
	}
	mailbox_cache_set(f->mb, index, MAILBOX_CACHE_HEADERS, block);
	t->headers = block;
}

static const enum mailbox_cache_field store_cache_fields[4] = {
    MAILBOX_CACHE_ENVELOPE, MAILBOX_CACHE_BODYSTRUCTURE, MAILBOX_CACHE_BODY, MAILBOX_CACHE_HEADERS};
static const uint32_t store_cache_wants[4] = {STORE_WANT_ENVELOPE, STORE_WANT_BODYSTRUCTURE,
                                              STORE_WANT_BODY, STORE_WANT_HEADERS};

static char **store_texts_slot(struct store_texts *t, unsigned k)
{
	char **slots[4] = {&t->envelope, &t->bodystructure, &t->body, &t->headers};

	return slots[k];
}

/* Parses message INDEX and caches its four texts; fills the slots of T
 * that WANT asks for and are still empty. */
static void store_cache_compute(struct store_folder *f, unsigned index, uint32_t want,
                                struct store_texts *t)
{
	struct mime_message *m;
	char *computed[4];
	size_t len;
	unsigned k;
	char *data = store_message_read(f, index, &len);

	if (data == NULL) {
		log_warn("event=store-warning folder=%s uid=%u reason=\"message file unreadable\"",
		         f->dir, mailbox_get(f->mb, index)->uid);
		return;
	}
	m = mime_parse(data, len);
	computed[0] = mime_envelope(m);
	computed[1] = mime_bodystructure(m, 1);
	computed[2] = mime_bodystructure(m, 0);
	len = m->root.header_end - m->root.header_start;
	computed[3] = xmalloc(len + 1);
	memcpy(computed[3], data + m->root.header_start, len);
	computed[3][len] = '\0';
	for (k = 0; k < 4; k++) {
		char **slot = store_texts_slot(t, k);
		int fits = strlen(computed[k]) < PROTO_STORE_CACHE_MAX;
		if (fits && mailbox_cache_get(f->mb, index, store_cache_fields[k]) == NULL)
			mailbox_cache_set(f->mb, index, store_cache_fields[k], computed[k]);
		if (*slot == NULL && fits && (want & store_cache_wants[k]))
			*slot = computed[k];
		else
			free(computed[k]);
	}
	mime_free(&m);
	free(data);
}

void store_cache_texts(struct store_folder *f, unsigned index, uint32_t want, struct store_texts *t)
{
	unsigned k;
	int missing = 0;

	memset(t, 0, sizeof(*t));
	for (k = 0; k < 4; k++) {
		const char *v;
		if (!(want & store_cache_wants[k]))
			continue;
		v = mailbox_cache_get(f->mb, index, store_cache_fields[k]);
		if (v != NULL)
			*store_texts_slot(t, k) = xstrdup(v);
		else
			missing = 1;
	}
	if (missing && (want & (STORE_WANT_ENVELOPE | STORE_WANT_BODYSTRUCTURE | STORE_WANT_BODY)) == 0)
		store_cache_headers(f, index, t);
	else if (missing)
		store_cache_compute(f, index, want, t);
	for (k = 0; k < 4; k++) {
		char **slot = store_texts_slot(t, k);
		if (*slot == NULL)
			*slot = xstrdup("");
	}
}

void store_texts_free(struct store_texts *t)
{
	free(t->envelope);
	free(t->bodystructure);
	free(t->body);
	free(t->headers);
	memset(t, 0, sizeof(*t));
}
