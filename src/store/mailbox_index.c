/*
 * mailbox_index.c: see mailbox_index.h. Everything read here may be
 * hostile or torn: every length is checked against what is left of the
 * buffer before it is used, and counts against the bytes that would hold
 * them before anything is allocated for them.
 */
#include "store/mailbox_index.h"

#include <stdlib.h>
#include <string.h>

#include "lib/crc32c.h"
#include "lib/util.h"

/* The fixed part of a message record in the index, and its smallest size. */
#define INDEX_HEADER_SIZE (8 + 6 * 4 + 2 * 8 + 2 * 12)
#define INDEX_MSG_FIXED (4 + 4 + 8 + 8 + 4 + 8 + 8 + MAILBOX_CACHE_FIELD_COUNT * 8 + 2 + 2)
#define INDEX_MSG_MIN (INDEX_MSG_FIXED + 1)
#define INDEX_VANISHED_SIZE 12

static const char mailbox_empty[] = "";

void mailbox_buf_put(struct mailbox_buf *b, const void *data, size_t len)
{
	if (len == 0)
		return;
	if (b->len + len > b->size) {
		size_t size = b->size < 256 ? 256 : b->size;
		while (size < b->len + len)
			size *= 2;
		b->data = xrealloc(b->data, size);
		b->size = size;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

void mailbox_buf_reserve(struct mailbox_buf *b, size_t more)
{
	if (b->len + more > b->size) {
		b->data = xrealloc(b->data, b->len + more);
		b->size = b->len + more;
	}
}

void mailbox_buf_free(struct mailbox_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static void put_u16(struct mailbox_buf *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	mailbox_buf_put(b, x, 2);
}

static void put_u32(struct mailbox_buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	mailbox_buf_put(b, x, 4);
}

static void put_u64(struct mailbox_buf *b, uint64_t v)
{
	put_u32(b, (uint32_t)v);
	put_u32(b, (uint32_t)(v >> 32));
}

void mailbox_le32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

uint32_t mailbox_le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A bounded reader: once short, every read gives 0 and BAD stays set. */
struct reader {
	const uint8_t *p;
	size_t left;
	int bad;
};

static const uint8_t *get_bytes(struct reader *r, size_t n)
{
	const uint8_t *p = r->p;

	if (r->bad || n > r->left) {
		r->bad = 1;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

static uint16_t get_u16(struct reader *r)
{
	const uint8_t *p = get_bytes(r, 2);
	return p == NULL ? 0 : (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_u32(struct reader *r)
{
	const uint8_t *p = get_bytes(r, 4);
	return p == NULL ? 0 : mailbox_le32_get(p);
}

static uint64_t get_u64(struct reader *r)
{
	uint64_t lo = get_u32(r);
	return lo | (uint64_t)get_u32(r) << 32;
}

size_t mailbox_name_base_len(const char *name)
{
	const char *p = name;

	while ((p = strchr(p, ':')) != NULL) { /* strstr(":2,"), without its set-up per name */
		if (p[1] == '2' && p[2] == ',')
			return (size_t)(p - name);
		p++;
	}
	return strlen(name);
}

int mailbox_name_valid(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > MAILBOX_FILE_NAME_MAX || name[0] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if (name[i] == '/' || name[i] == '\0' || (unsigned char)name[i] < 0x20)
			return 0;
	return 1;
}

int mailbox_keywords_valid(const char *kw, size_t len)
{
	size_t i;

	if (len >= MAILBOX_KEYWORDS_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)kw[i] < 0x20 || kw[i] == 0x7f)
			return 0;
	return 1;
}

void mailbox_entry_set_file(struct mailbox_entry *e, const char *name)
{
	free((char *)e->msg.file);
	e->msg.file = xstrdup(name);
	e->base_len = (uint16_t)mailbox_name_base_len(name);
}

void mailbox_entry_set_keywords(struct mailbox_entry *e, const char *keywords)
{
	if (e->msg.keywords != mailbox_empty)
		free((char *)e->msg.keywords);
	e->msg.keywords = keywords[0] == '\0' ? mailbox_empty : xstrdup(keywords);
}

void mailbox_entry_free(struct mailbox_entry *e)
{
	unsigned f;

	free((char *)e->msg.file);
	if (e->msg.keywords != mailbox_empty)
		free((char *)e->msg.keywords);
	for (f = 0; f < MAILBOX_CACHE_FIELD_COUNT; f++)
		free(e->cache_val[f]);
	memset(e, 0, sizeof(*e));
}

void mailbox_image_clear(struct mailbox_image *img)
{
	unsigned i;

	for (i = 0; i < img->count; i++)
		mailbox_entry_free(&img->msgs[i]);
	free(img->msgs);
	free(img->vanished);
	img->msgs = NULL;
	img->vanished = NULL;
	img->count = img->alloc = img->n_vanished = img->vanished_alloc = 0;
}

void mailbox_image_free(struct mailbox_image *img)
{
	mailbox_image_clear(img);
	memset(img, 0, sizeof(*img));
}

struct mailbox_entry *mailbox_image_add(struct mailbox_image *img, const struct mailbox_msg *msg)
{
	struct mailbox_entry *e;

	if (img->count == img->alloc) {
		img->alloc = img->alloc < 64 ? 64 : img->alloc * 2;
		img->msgs = xrealloc(img->msgs, img->alloc * sizeof(*img->msgs));
	}
	e = &img->msgs[img->count++];
	memset(e, 0, sizeof(*e));
	e->msg = *msg;
	e->msg.file = NULL;
	e->msg.keywords = mailbox_empty;
	mailbox_entry_set_file(e, msg->file);
	mailbox_entry_set_keywords(e, msg->keywords);
	return e;
}

/* Remembers UID as expunged at MODSEQ. */
static void image_add_vanished(struct mailbox_image *img, uint32_t uid, uint64_t modseq)
{
	if (img->n_vanished == img->vanished_alloc) {
		img->vanished_alloc = img->vanished_alloc < 64 ? 64 : img->vanished_alloc * 2;
		img->vanished =
		    xrealloc(img->vanished, img->vanished_alloc * sizeof(*img->vanished));
	}
	img->vanished[img->n_vanished].uid = uid;
	img->vanished[img->n_vanished].modseq = modseq;
	img->n_vanished++;
}

void mailbox_image_remove(struct mailbox_image *img, unsigned index, uint64_t modseq)
{
	struct mailbox_entry *e = &img->msgs[index];
	uint32_t uid = e->msg.uid;

	mailbox_entry_free(e);
	e->msg.uid = uid;
	e->dead = 1;
	if (img->n_vanished < MAILBOX_VANISHED_MAX)
		image_add_vanished(img, uid, modseq);
	else
		img->vanished_floor = modseq;
}

void mailbox_image_compact(struct mailbox_image *img)
{
	unsigned i, o = 0;

	for (i = 0; i < img->count; i++) {
		if (img->msgs[i].dead)
			continue;
		if (o != i)
			img->msgs[o] = img->msgs[i];
		o++;
	}
	img->count = o;
}

int mailbox_image_find(const struct mailbox_image *img, uint32_t uid)
{
	unsigned lo = 0, hi = img->count;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		uint32_t v = img->msgs[mid].msg.uid;
		if (v == uid)
			return img->msgs[mid].dead ? -1 : (int)mid;
		if (v < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* The index file */

static void put_stamp(struct mailbox_buf *b, const struct mailbox_stamp *s)
{
	put_u64(b, (uint64_t)s->sec);
	put_u32(b, s->nsec);
}

static void get_stamp(struct reader *r, struct mailbox_stamp *s)
{
	s->sec = (int64_t)get_u64(r);
	s->nsec = get_u32(r);
	if (s->nsec >= 1000000000u)
		s->sec = 0;
}

/* The fields of a message shared by the index and the NEW log record. */
static void put_msg(struct mailbox_buf *b, const struct mailbox_msg *m)
{
	put_u32(b, m->uid);
	put_u32(b, m->flags);
	put_u64(b, m->modseq);
	put_u64(b, (uint64_t)m->internaldate);
	put_u32(b, (uint32_t)m->tz_minutes);
	put_u64(b, m->size);
	put_u64(b, m->file_size);
}

static void put_name_kw(struct mailbox_buf *b, const struct mailbox_msg *m)
{
	size_t nlen = strlen(m->file), klen = strlen(m->keywords);

	put_u16(b, (uint16_t)nlen);
	put_u16(b, (uint16_t)klen);
	mailbox_buf_put(b, m->file, nlen);
	mailbox_buf_put(b, m->keywords, klen);
}

void mailbox_index_encode(const struct mailbox_image *img, struct mailbox_buf *out)
{
	size_t start = out->len;
	unsigned i, f;
	uint32_t crc;

	mailbox_buf_reserve(out, MAILBOX_INDEX_HEADER_GUESS + (size_t)img->count * MAILBOX_INDEX_MSG_GUESS);
	mailbox_buf_put(out, MAILBOX_INDEX_MAGIC, 8);
	put_u32(out, img->generation);
	put_u32(out, img->uidvalidity);
	put_u32(out, img->uidnext);
	put_u32(out, img->first_recent);
	put_u32(out, img->count);
	put_u32(out, img->n_vanished);
	put_u64(out, img->highestmodseq);
	put_u64(out, img->vanished_floor);
	put_stamp(out, &img->cur);
	put_stamp(out, &img->new);
	for (i = 0; i < img->count; i++) {
		const struct mailbox_entry *e = &img->msgs[i];
		put_msg(out, &e->msg);
		for (f = 0; f < MAILBOX_CACHE_FIELD_COUNT; f++)
			put_u64(out, e->cache_off[f]);
		put_name_kw(out, &e->msg);
	}
	for (i = 0; i < img->n_vanished; i++) {
		put_u32(out, img->vanished[i].uid);
		put_u64(out, img->vanished[i].modseq);
	}
	crc = crc32c(0, out->data + start, out->len - start);
	put_u32(out, crc);
}

/* Reads the fields put_msg() wrote. */
static void get_msg(struct reader *r, struct mailbox_msg *m)
{
	m->uid = get_u32(r);
	m->flags = get_u32(r);
	m->modseq = get_u64(r);
	m->internaldate = (int64_t)get_u64(r);
	m->tz_minutes = (int32_t)get_u32(r);
	m->size = get_u64(r);
	m->file_size = get_u64(r);
}

/* Reads a name and keywords into NAME and KW (NUL-terminated); -1 when
 * they are missing or invalid. */
static int get_name_kw(struct reader *r, char name[MAILBOX_FILE_NAME_MAX + 1],
                       char kw[MAILBOX_KEYWORDS_MAX])
{
	size_t nlen = get_u16(r), klen = get_u16(r);
	const uint8_t *np, *kp;

	if (nlen > MAILBOX_FILE_NAME_MAX || klen >= MAILBOX_KEYWORDS_MAX)
		return -1;
	np = get_bytes(r, nlen);
	kp = get_bytes(r, klen);
	if (r->bad || !mailbox_name_valid((const char *)np, nlen) ||
	    !mailbox_keywords_valid((const char *)kp, klen))
		return -1;
	memcpy(name, np, nlen);
	name[nlen] = '\0';
	memcpy(kw, kp, klen);
	kw[klen] = '\0';
	return 0;
}

int mailbox_sizes_consistent(uint64_t file_size, uint64_t size)
{
	return size == MAILBOX_SIZE_UNKNOWN || (file_size <= size && size <= 2 * file_size);
}

/* Whether M may follow a message with UID PREV in IMG. */
static int msg_consistent(const struct mailbox_image *img, const struct mailbox_msg *m,
                          uint32_t prev)
{
	return m->uid > prev && m->uid < img->uidnext &&
	       (m->flags & ~MAILBOX_FLAGS_SETTABLE) == 0 && m->modseq <= img->highestmodseq &&
	       mailbox_sizes_consistent(m->file_size, m->size) && m->tz_minutes > -24 * 60 &&
	       m->tz_minutes < 24 * 60;
}

static int index_parse_header(struct reader *r, struct mailbox_image *img, uint32_t *count_r,
                              uint32_t *n_vanished_r)
{
	const uint8_t *magic = get_bytes(r, 8);

	if (magic == NULL || memcmp(magic, MAILBOX_INDEX_MAGIC, 8) != 0)
		return -1;
	img->generation = get_u32(r);
	img->uidvalidity = get_u32(r);
	img->uidnext = get_u32(r);
	img->first_recent = get_u32(r);
	*count_r = get_u32(r);
	*n_vanished_r = get_u32(r);
	img->highestmodseq = get_u64(r);
	img->vanished_floor = get_u64(r);
	get_stamp(r, &img->cur);
	get_stamp(r, &img->new);
	if (r->bad || img->uidvalidity == 0 || img->uidnext == 0 ||
	    *count_r > MAILBOX_MESSAGES_MAX || *n_vanished_r > MAILBOX_VANISHED_MAX)
		return -1;
	/* bounded allocation: the records must be there before room is made */
	if ((uint64_t)*count_r * INDEX_MSG_MIN + (uint64_t)*n_vanished_r * INDEX_VANISHED_SIZE >
	    r->left)
		return -1;
	return 0;
}

/* Reads one message record of the index into IMG. */
static int index_parse_msg(struct reader *r, struct mailbox_image *img, uint32_t prev)
{
	char name[MAILBOX_FILE_NAME_MAX + 1], kw[MAILBOX_KEYWORDS_MAX];
	uint64_t off[MAILBOX_CACHE_FIELD_COUNT];
	struct mailbox_msg m;
	struct mailbox_entry *e;
	unsigned f;

	memset(&m, 0, sizeof(m));
	get_msg(r, &m);
	for (f = 0; f < MAILBOX_CACHE_FIELD_COUNT; f++)
		off[f] = get_u64(r);
	if (get_name_kw(r, name, kw) < 0 || !msg_consistent(img, &m, prev))
		return -1;
	m.file = name;
	m.keywords = kw;
	e = mailbox_image_add(img, &m);
	memcpy(e->cache_off, off, sizeof(off));
	return 0;
}

int mailbox_index_parse(const void *data, size_t len, struct mailbox_image *img,
                        const char **error_r)
{
	struct reader r = {data, len, 0};
	uint32_t count, n_vanished, i, prev = 0;

	if (len < INDEX_HEADER_SIZE + 4 ||
	    crc32c(0, data, len - 4) != mailbox_le32_get((const uint8_t *)data + len - 4)) {
		*error_r = "index checksum mismatch";
		return -1;
	}
	r.left -= 4;
	if (index_parse_header(&r, img, &count, &n_vanished) < 0) {
		*error_r = "bad index header";
		return -1;
	}
	img->msgs = xcalloc(count == 0 ? 1 : count, sizeof(*img->msgs));
	img->alloc = count == 0 ? 1 : count;
	for (i = 0; i < count; i++) {
		if (index_parse_msg(&r, img, prev) < 0) {
			*error_r = "bad message record in index";
			return -1;
		}
		prev = img->msgs[img->count - 1].msg.uid;
	}
	for (i = 0; i < n_vanished; i++) {
		uint32_t uid = get_u32(&r);
		uint64_t modseq = get_u64(&r);
		if (uid == 0 || uid >= img->uidnext || modseq > img->highestmodseq) {
			*error_r = "bad vanished record in index";
			return -1;
		}
		image_add_vanished(img, uid, modseq);
	}
	if (r.bad || r.left != 0) {
		*error_r = "index length mismatch";
		return -1;
	}
	return 0;
}

/* The log */

void mailbox_log_header_encode(uint32_t uidvalidity, uint32_t generation, struct mailbox_buf *out)
{
	size_t start = out->len;

	mailbox_buf_put(out, MAILBOX_LOG_MAGIC, 8);
	put_u32(out, uidvalidity);
	put_u32(out, generation);
	put_u32(out, crc32c(0, out->data + start, 16));
}

int mailbox_log_header_check(const void *data, size_t len, uint32_t uidvalidity,
                             uint32_t generation)
{
	const uint8_t *p = data;

	if (len < MAILBOX_LOG_HEADER_SIZE || memcmp(p, MAILBOX_LOG_MAGIC, 8) != 0 ||
	    crc32c(0, p, 16) != mailbox_le32_get(p + 16))
		return -1;
	return mailbox_le32_get(p + 8) == uidvalidity && mailbox_le32_get(p + 12) == generation ? 0 : -1;
}

/* Starts a record of TYPE in OUT; returns where its frame begins. */
static size_t log_begin(struct mailbox_buf *out, enum mailbox_log_type type)
{
	size_t start = out->len;
	uint8_t t = (uint8_t)type;

	put_u32(out, 0);
	put_u32(out, 0);
	mailbox_buf_put(out, &t, 1);
	return start;
}

/* Fills in the length and CRC of the record begun at START. */
static void log_end(struct mailbox_buf *out, size_t start)
{
	size_t plen = out->len - start - 8;

	mailbox_le32_put(out->data + start, (uint32_t)plen);
	mailbox_le32_put(out->data + start + 4, crc32c(0, out->data + start + 8, plen));
}

void mailbox_log_new(struct mailbox_buf *out, const struct mailbox_entry *e)
{
	size_t start = log_begin(out, MAILBOX_LOG_NEW);

	put_msg(out, &e->msg);
	put_name_kw(out, &e->msg);
	log_end(out, start);
}

void mailbox_log_change(struct mailbox_buf *out, const struct mailbox_entry *e)
{
	size_t start = log_begin(out, MAILBOX_LOG_CHANGE);

	put_u32(out, e->msg.uid);
	put_u32(out, e->msg.flags);
	put_u64(out, e->msg.modseq);
	put_name_kw(out, &e->msg);
	log_end(out, start);
}

void mailbox_log_expunge(struct mailbox_buf *out, uint32_t uid, uint64_t modseq)
{
	size_t start = log_begin(out, MAILBOX_LOG_EXPUNGE);

	put_u32(out, uid);
	put_u64(out, modseq);
	log_end(out, start);
}

void mailbox_log_state(struct mailbox_buf *out, const struct mailbox_image *img)
{
	size_t start = log_begin(out, MAILBOX_LOG_STATE);

	put_u32(out, img->uidnext);
	put_u32(out, img->first_recent);
	put_u64(out, img->highestmodseq);
	put_stamp(out, &img->cur);
	put_stamp(out, &img->new);
	log_end(out, start);
}

void mailbox_log_size(struct mailbox_buf *out, uint32_t uid, uint64_t size, uint64_t file_size)
{
	size_t start = log_begin(out, MAILBOX_LOG_SIZE);

	put_u32(out, uid);
	put_u64(out, size);
	put_u64(out, file_size);
	log_end(out, start);
}

void mailbox_log_date(struct mailbox_buf *out, uint32_t uid, int64_t internaldate, int32_t tz)
{
	size_t start = log_begin(out, MAILBOX_LOG_DATE);

	put_u32(out, uid);
	put_u64(out, (uint64_t)internaldate);
	put_u32(out, (uint32_t)tz);
	log_end(out, start);
}

void mailbox_log_cache(struct mailbox_buf *out, uint32_t uid, unsigned field, uint64_t off)
{
	size_t start = log_begin(out, MAILBOX_LOG_CACHE);
	uint8_t f = (uint8_t)field;

	put_u32(out, uid);
	mailbox_buf_put(out, &f, 1);
	put_u64(out, off);
	log_end(out, start);
}

/* Applies a NEW record: the message must come after every other. */
static int log_apply_new(struct mailbox_image *img, struct reader *r)
{
	char name[MAILBOX_FILE_NAME_MAX + 1], kw[MAILBOX_KEYWORDS_MAX];
	uint32_t prev = img->count == 0 ? 0 : img->msgs[img->count - 1].msg.uid;
	struct mailbox_msg m;

	memset(&m, 0, sizeof(m));
	get_msg(r, &m);
	if (get_name_kw(r, name, kw) < 0 || img->count >= MAILBOX_MESSAGES_MAX)
		return -1;
	if (m.uid >= img->uidnext && m.uid != UINT32_MAX)
		img->uidnext = m.uid + 1;
	if (m.modseq > img->highestmodseq)
		img->highestmodseq = m.modseq;
	if (!msg_consistent(img, &m, prev))
		return -1;
	m.file = name;
	m.keywords = kw;
	mailbox_image_add(img, &m);
	return 0;
}

static int log_apply_change(struct mailbox_image *img, struct reader *r)
{
	char name[MAILBOX_FILE_NAME_MAX + 1], kw[MAILBOX_KEYWORDS_MAX];
	uint32_t uid = get_u32(r), flags = get_u32(r);
	uint64_t modseq = get_u64(r);
	struct mailbox_entry *e;
	int i;

	if (get_name_kw(r, name, kw) < 0 || (flags & ~MAILBOX_FLAGS_SETTABLE) != 0)
		return -1;
	if ((i = mailbox_image_find(img, uid)) < 0)
		return -1;
	e = &img->msgs[i];
	e->msg.flags = flags;
	e->msg.modseq = modseq;
	if (modseq > img->highestmodseq)
		img->highestmodseq = modseq;
	mailbox_entry_set_file(e, name);
	mailbox_entry_set_keywords(e, kw);
	return 0;
}

static int log_apply_expunge(struct mailbox_image *img, struct reader *r)
{
	uint32_t uid = get_u32(r);
	uint64_t modseq = get_u64(r);
	int i;

	if (r->bad || (i = mailbox_image_find(img, uid)) < 0)
		return -1;
	if (modseq > img->highestmodseq)
		img->highestmodseq = modseq;
	mailbox_image_remove(img, (unsigned)i, modseq);
	return 0;
}

static int log_apply_state(struct mailbox_image *img, struct reader *r)
{
	uint32_t uidnext = get_u32(r), first_recent = get_u32(r);
	uint64_t modseq = get_u64(r);
	struct mailbox_stamp cur, new;

	get_stamp(r, &cur);
	get_stamp(r, &new);
	if (r->bad || uidnext < img->uidnext || modseq < img->highestmodseq)
		return -1;
	img->uidnext = uidnext;
	img->first_recent = first_recent;
	img->highestmodseq = modseq;
	img->cur = cur;
	img->new = new;
	return 0;
}

static int log_apply_cache(struct mailbox_image *img, struct reader *r)
{
	uint32_t uid = get_u32(r);
	const uint8_t *f = get_bytes(r, 1);
	uint64_t off = get_u64(r);
	int i;

	if (r->bad || *f >= MAILBOX_CACHE_FIELD_COUNT)
		return -1;
	if ((i = mailbox_image_find(img, uid)) >= 0) {
		img->msgs[i].cache_off[*f] = off;
		img->msgs[i].cache_ok &= (uint8_t) ~(1u << *f);
	}
	return 0;
}

/* A SIZE record: the CRLF size counted for a message (gone since: ignored). */
static int log_apply_size(struct mailbox_image *img, struct reader *r)
{
	uint32_t uid = get_u32(r);
	uint64_t size = get_u64(r), file_size = get_u64(r);
	int i;

	if (r->bad || size == MAILBOX_SIZE_UNKNOWN || !mailbox_sizes_consistent(file_size, size))
		return -1;
	if ((i = mailbox_image_find(img, uid)) >= 0) {
		img->msgs[i].msg.size = size;
		img->msgs[i].msg.file_size = file_size;
	}
	return 0;
}

/* A DATE record: the mtime looked at for a message (gone since: ignored). */
static int log_apply_date(struct mailbox_image *img, struct reader *r)
{
	uint32_t uid = get_u32(r);
	int64_t date = (int64_t)get_u64(r);
	int32_t tz = (int32_t)get_u32(r);
	int i;

	if (r->bad || date == MAILBOX_DATE_UNKNOWN || tz <= -24 * 60 || tz >= 24 * 60)
		return -1;
	if ((i = mailbox_image_find(img, uid)) >= 0) {
		img->msgs[i].msg.internaldate = date;
		img->msgs[i].msg.tz_minutes = tz;
	}
	return 0;
}

/* Applies one record's payload; -1 when it does not fit IMG. */
static int log_apply_one(struct mailbox_image *img, const uint8_t *p, size_t len)
{
	struct reader r = {p + 1, len - 1, 0};
	int ret;

	switch (p[0]) {
	case MAILBOX_LOG_NEW:
		ret = log_apply_new(img, &r);
		break;
	case MAILBOX_LOG_CHANGE:
		ret = log_apply_change(img, &r);
		break;
	case MAILBOX_LOG_EXPUNGE:
		ret = log_apply_expunge(img, &r);
		break;
	case MAILBOX_LOG_STATE:
		ret = log_apply_state(img, &r);
		break;
	case MAILBOX_LOG_CACHE:
		ret = log_apply_cache(img, &r);
		break;
	case MAILBOX_LOG_SIZE:
		ret = log_apply_size(img, &r);
		break;
	case MAILBOX_LOG_DATE:
		ret = log_apply_date(img, &r);
		break;
	default:
		return -1;
	}
	return ret < 0 || r.bad || r.left != 0 ? -1 : 0;
}

size_t mailbox_log_apply(struct mailbox_image *img, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t pos = 0;

	while (len - pos >= 8) {
		uint32_t plen = mailbox_le32_get(p + pos), crc = mailbox_le32_get(p + pos + 4);
		if (plen == 0 || plen > MAILBOX_LOG_RECORD_MAX || plen > len - pos - 8 ||
		    crc32c(0, p + pos + 8, plen) != crc)
			break;
		if (log_apply_one(img, p + pos + 8, plen) < 0)
			break;
		pos += 8 + plen;
	}
	mailbox_image_compact(img);
	return pos;
}
