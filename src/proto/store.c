/*
 * store.c: encoders and decoders of the dispatcher <-> store messages; see
 * store.h for the wire layout and proto.h for the decoder contract. Called
 * by the IMAP and POP3 sessions (src/imap/, src/pop3/), the dispatcher and
 * the store role (src/store/). The search program codec is in
 * store_search.c.
 *
 * Beyond the layout, the decoders refuse what the receiver could not act
 * on: enums and booleans out of range, flags outside their bits, a FETCH
 * or STORE batch of 0 or more than PROTO_STORE_FETCH_BATCH, time zones of
 * a day or more, search matches not ascending, sequence numbers of 0.
 * Allocated strings may be NULL in a struct given to an encoder (sent as
 * ""); a decoder always allocates them.
 */
#include "proto/store.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

/* A time zone offset is less than a day either way. */
#define PROTO_STORE_TZ_MAX (24 * 60 - 1)

/* Writes S, or "" for NULL. */
static void put_opt_str(struct ipc_writer *w, const char *s)
{
	ipc_put_str(w, s != NULL ? s : "");
}

static void put_i64(struct ipc_writer *w, int64_t v)
{
	ipc_put_u64(w, (uint64_t)v);
}

static int64_t get_i64(struct ipc_reader *r)
{
	return (int64_t)ipc_get_u64(r);
}

static void put_i32(struct ipc_writer *w, int32_t v)
{
	ipc_put_u32(w, (uint32_t)v);
}

/* Reads an i32 offset in minutes; sets r->error outside a day. */
static int32_t get_tz(struct ipc_reader *r)
{
	int32_t v = (int32_t)ipc_get_u32(r);

	if (v > PROTO_STORE_TZ_MAX || v < -PROTO_STORE_TZ_MAX)
		r->error = 1;
	return v;
}

/* Reads a u32 that must be at most MAX. */
static uint32_t get_u32_max(struct ipc_reader *r, uint32_t max)
{
	uint32_t v = ipc_get_u32(r);

	if (v > max)
		r->error = 1;
	return v;
}

/* The "u32 status, str code, str text" most answers start with. */
static void put_status(struct ipc_writer *w, uint32_t status, const char *code, const char *text)
{
	ipc_put_u32(w, status);
	ipc_put_str(w, code);
	ipc_put_str(w, text);
}

static void get_status(struct ipc_reader *r, uint32_t *status, char *code, char *text)
{
	*status = get_u32_max(r, PROTO_STORE_BAD);
	ipc_get_str(r, code, PROTO_STORE_CODE_MAX);
	ipc_get_str(r, text, PROTO_STORE_TEXT_MAX);
}

/* Ends the decode of a message without allocations: on failure M (SIZE
 * octets) is zeroed. */
static int decode_end(struct ipc_reader *r, void *m, size_t size, const char *what,
                      const char **error_r)
{
	if (proto_decode_done(r, what, error_r) < 0) {
		memset(m, 0, size);
		return -1;
	}
	return 0;
}

void proto_store_result_encode(const struct proto_store_result *m, struct ipc_writer *w)
{
	put_status(w, m->status, m->code, m->text);
}

int proto_store_result_decode(struct proto_store_result *m, const void *data, size_t len,
                              const char **error_r)
{
	struct ipc_reader r;

	ipc_reader_init(&r, data, len);
	get_status(&r, &m->status, m->code, m->text);
	return decode_end(&r, m, sizeof(*m), "malformed store result", error_r);
}

void proto_store_login_encode(const struct proto_store_login *m, struct ipc_writer *w)
{
	ipc_put_str(w, m->user);
	ipc_put_u32(w, m->service);
}

int proto_store_login_decode(struct proto_store_login *m, const void *data, size_t len,
                             const char **error_r)
{
	struct ipc_reader r;

	ipc_reader_init(&r, data, len);
	ipc_get_str(&r, m->user, sizeof(m->user));
	m->service = get_u32_max(&r, STORE_SERVICE_POP3);
	if (!r.error && m->user[0] == '\0')
		r.error = 1;
	return decode_end(&r, m, sizeof(*m), "malformed store login", error_r);
}

void proto_store_list_encode(const struct proto_store_list *m, struct ipc_writer *w)
{
	ipc_put_u32(w, m->subscribed_only);
}

int proto_store_list_decode(struct proto_store_list *m, const void *data, size_t len,
                            const char **error_r)
{
	struct ipc_reader r;

	ipc_reader_init(&r, data, len);
	m->subscribed_only = get_u32_max(&r, 1);
	return decode_end(&r, m, sizeof(*m), "malformed store list", error_r);
}

/* At most this many folders in a LIST answer (store.h). */
#define PROTO_STORE_FOLDERS_MAX 65536
/* A folder is a string length and a u32 at least. */
#define PROTO_STORE_FOLDER_MIN_OCTETS 8

void proto_store_list_result_encode(const struct proto_store_list_result *m, struct ipc_writer *w)
{
	unsigned i;

	ipc_put_u32(w, m->status);
	ipc_put_str(w, m->text);
	ipc_put_u32(w, m->n_folders);
	for (i = 0; i < m->n_folders; i++) {
		ipc_put_str(w, m->folders[i].name);
		ipc_put_u32(w, m->folders[i].attrs);
	}
}

int proto_store_list_result_decode(struct proto_store_list_result *m, const void *data, size_t len,
                                   const char **error_r)
{
	struct ipc_reader r;
	uint32_t n, i;

	memset(m, 0, sizeof(*m));
	ipc_reader_init(&r, data, len);
	m->status = get_u32_max(&r, PROTO_STORE_BAD);
	ipc_get_str(&r, m->text, sizeof(m->text));
	n = ipc_get_u32(&r);
	if (r.error || n > PROTO_STORE_FOLDERS_MAX || n > r.left / PROTO_STORE_FOLDER_MIN_OCTETS)
		r.error = 1;
	if (!r.error && n > 0) {
		m->folders = xcalloc(n, sizeof(m->folders[0]));
		m->n_folders = n;
	}
	for (i = 0; i < m->n_folders && !r.error; i++) {
		ipc_get_str(&r, m->folders[i].name, sizeof(m->folders[i].name));
		m->folders[i].attrs = ipc_get_u32(&r);
		if (m->folders[i].name[0] == '\0' ||
		    m->folders[i].attrs >= (STORE_ATTR_UNMARKED << 1))
			r.error = 1;
	}
	if (proto_decode_done(&r, "malformed store list result", error_r) < 0) {
		proto_store_list_result_free(m);
		return -1;
	}
	return 0;
}

void proto_store_list_result_free(struct proto_store_list_result *m)
{
	free(m->folders);
	memset(m, 0, sizeof(*m));
}

void proto_store_mailbox_encode(const struct proto_store_mailbox *m, struct ipc_writer *w)
{
	ipc_put_u32(w, m->op);
	ipc_put_str(w, m->name);
	ipc_put_str(w, m->new_name);
}

int proto_store_mailbox_decode(struct proto_store_mailbox *m, const void *data, size_t len,
                               const char **error_r)
{
	struct ipc_reader r;

	ipc_reader_init(&r, data, len);
	m->op = get_u32_max(&r, STORE_MAILBOX_UNSUBSCRIBE);
	ipc_get_str(&r, m->name, sizeof(m->name));
	ipc_get_str(&r, m->new_name, sizeof(m->new_name));
	if (!r.error &&
	    (m->name[0] == '\0' || (m->op == STORE_MAILBOX_RENAME) != (m->new_name[0] != '\0')))
		r.error = 1;
	return decode_end(&r, m, sizeof(*m), "malformed store mailbox request", error_r);
}

void proto_store_status_encode(const struct proto_store_status *m, struct ipc_writer *w)
{
	ipc_put_str(w, m->name);
}

int proto_store_status_decode(struct proto_store_status *m, const void *data, size_t len,
                              const char **error_r)
{
	struct ipc_reader r;

	ipc_reader_init(&r, data, len);
	ipc_get_str(&r, m->name, sizeof(m->name));
	if (!r.error && m->name[0] == '\0')
		r.error = 1;
	return decode_end(&r, m, sizeof(*m), "malformed store status request", error_r);
}

void proto_store_status_result_encode(const struct proto_store_status_result *m,
                                      struct ipc_writer *w)
{
	put_status(w, m->status, m->code, m->text);
	ipc_put_u32(w, m->messages);
	ipc_put_u32(w, m->recent);
	ipc_put_u32(w, m->unseen);
	ipc_put_u32(w, m->deleted);
	ipc_put_u32(w, m->uidnext);
	ipc_put_u32(w, m->uidvalidity);
	ipc_put_u64(w, m->size);
	ipc_put_u64(w, m->highestmodseq);
}

int proto_store_status_result_decode(struct proto_store_status_result *m, const void *data,
                                     size_t len, const char **error_r)
{
	struct ipc_reader r;

	ipc_reader_init(&r, data, len);
	get_status(&r, &m->status, m->code, m->text);
	m->messages = ipc_get_u32(&r);
	m->recent = ipc_get_u32(&r);
	m->unseen = ipc_get_u32(&r);
	m->deleted = ipc_get_u32(&r);
	m->uidnext = ipc_get_u32(&r);
	m->uidvalidity = ipc_get_u32(&r);
	m->size = ipc_get_u64(&r);
	m->highestmodseq = ipc_get_u64(&r);
	return decode_end(&r, m, sizeof(*m), "malformed store status result", error_r);
}

void proto_store_select_encode(const struct proto_store_select *m, struct ipc_writer *w)
{
	ipc_put_str(w, m->name);
	ipc_put_u32(w, m->readonly);
	ipc_put_u32(w, m->pop3);
	ipc_put_u32(w, m->qresync_uidvalidity);
	ipc_put_u64(w, m->qresync_modseq);
	ipc_put_str(w, m->qresync_known_uids);
}

int proto_store_select_decode(struct proto_store_select *m, const void *data, size_t len,
                              const char **error_r)
{
	struct ipc_reader r;

	ipc_reader_init(&r, data, len);
	ipc_get_str(&r, m->name, sizeof(m->name));
	m->readonly = get_u32_max(&r, 1);
	m->pop3 = get_u32_max(&r, 1);
	m->qresync_uidvalidity = ipc_get_u32(&r);
	m->qresync_modseq = ipc_get_u64(&r);
	ipc_get_str(&r, m->qresync_known_uids, sizeof(m->qresync_known_uids));
	if (!r.error && m->name[0] == '\0')
		r.error = 1;
	return decode_end(&r, m, sizeof(*m), "malformed store select", error_r);
}

void proto_store_select_result_encode(const struct proto_store_select_result *m,
                                      struct ipc_writer *w)
{
	put_status(w, m->status, m->code, m->text);
	ipc_put_u32(w, m->exists);
	ipc_put_u32(w, m->recent);
	ipc_put_u32(w, m->first_unseen);
	ipc_put_u32(w, m->uidvalidity);
	ipc_put_u32(w, m->uidnext);
	ipc_put_u32(w, m->readonly);
	ipc_put_u64(w, m->highestmodseq);
	ipc_put_str(w, m->keywords);
	put_opt_str(w, m->vanished);
}

int proto_store_select_result_decode(struct proto_store_select_result *m, const void *data,
                                     size_t len, const char **error_r)
{
	struct ipc_reader r;

	memset(m, 0, sizeof(*m));
	ipc_reader_init(&r, data, len);
	get_status(&r, &m->status, m->code, m->text);
	m->exists = ipc_get_u32(&r);
	m->recent = ipc_get_u32(&r);
	m->first_unseen = ipc_get_u32(&r);
	m->uidvalidity = ipc_get_u32(&r);
	m->uidnext = ipc_get_u32(&r);
	m->readonly = get_u32_max(&r, 1);
	m->highestmodseq = ipc_get_u64(&r);
	ipc_get_str(&r, m->keywords, sizeof(m->keywords));
	m->vanished = ipc_get_strdup(&r, PROTO_STORE_REPORT_MAX);
	if (!r.error && (m->recent > m->exists || m->first_unseen > m->exists))
		r.error = 1;
	if (proto_decode_done(&r, "malformed store select result", error_r) < 0) {
		proto_store_select_result_free(m);
		return -1;
	}
	return 0;
}

void proto_store_select_result_free(struct proto_store_select_result *m)
{
	free(m->vanished);
	memset(m, 0, sizeof(*m));
}

void proto_store_unselect_encode(const struct proto_store_unselect *m, struct ipc_writer *w)
{
	ipc_put_u32(w, m->expunge);
}

int proto_store_unselect_decode(struct proto_store_unselect *m, const void *data, size_t len,
                                const char **error_r)
{
	struct ipc_reader r;

	ipc_reader_init(&r, data, len);
	m->expunge = get_u32_max(&r, 1);
	return decode_end(&r, m, sizeof(*m), "malformed store unselect", error_r);
}

/* Every enum proto_store_fetch_want bit. */
#define PROTO_STORE_WANT_ALL ((STORE_WANT_FILE_UNLESS_HEADERS << 1) - 1)
/* Every enum proto_store_flag bit. */
#define PROTO_STORE_FLAGS_ALL ((STORE_FLAG_RECENT << 1) - 1)

/* Reads a batch size: 1 to PROTO_STORE_FETCH_BATCH. */
static uint32_t get_batch(struct ipc_reader *r)
{
	uint32_t v = ipc_get_u32(r);

	if (v == 0 || v > PROTO_STORE_FETCH_BATCH)
		r->error = 1;
	return v;
}

void proto_store_fetch_encode(const struct proto_store_fetch *m, struct ipc_writer *w)
{
	ipc_put_u32(w, m->uid);
	ipc_put_str(w, m->set);
	ipc_put_u32(w, m->want);
	ipc_put_u64(w, m->changedsince);
	ipc_put_u32(w, m->vanished);
	ipc_put_u32(w, m->start);
	ipc_put_u32(w, m->max);
}

int proto_store_fetch_decode(struct proto_store_fetch *m, const void *data, size_t len,
                             const char **error_r)
{
	struct ipc_reader r;

	ipc_reader_init(&r, data, len);
	m->uid = get_u32_max(&r, 1);
	ipc_get_str(&r, m->set, sizeof(m->set));
	m->want = get_u32_max(&r, PROTO_STORE_WANT_ALL);
	m->changedsince = ipc_get_u64(&r);
	m->vanished = get_u32_max(&r, 1);
	m->start = ipc_get_u32(&r);
	m->max = get_batch(&r);
	if (!r.error && m->set[0] == '\0')
		r.error = 1;
	return decode_end(&r, m, sizeof(*m), "malformed store fetch", error_r);
}

void proto_store_item_encode(const struct proto_store_item *m, struct ipc_writer *w)
{
	ipc_put_u32(w, m->seq);
	ipc_put_u32(w, m->uid);
	ipc_put_u32(w, m->flags);
	ipc_put_str(w, m->keywords);
	ipc_put_u64(w, m->modseq);
	put_i64(w, m->internaldate);
	put_i32(w, m->tz_minutes);
	ipc_put_u64(w, m->size);
	ipc_put_u64(w, m->file_size);
	put_opt_str(w, m->envelope);
	put_opt_str(w, m->bodystructure);
	put_opt_str(w, m->body);
	put_opt_str(w, m->headers);
}

int proto_store_item_decode(struct proto_store_item *m, const void *data, size_t len,
                            const char **error_r)
{
	struct ipc_reader r;

	memset(m, 0, sizeof(*m));
	ipc_reader_init(&r, data, len);
	m->seq = ipc_get_u32(&r);
	m->uid = ipc_get_u32(&r);
	m->flags = get_u32_max(&r, PROTO_STORE_FLAGS_ALL);
	ipc_get_str(&r, m->keywords, sizeof(m->keywords));
	m->modseq = ipc_get_u64(&r);
	m->internaldate = get_i64(&r);
	m->tz_minutes = get_tz(&r);
	m->size = ipc_get_u64(&r);
	m->file_size = ipc_get_u64(&r);
	m->envelope = ipc_get_strdup(&r, PROTO_STORE_CACHE_MAX);
	m->bodystructure = ipc_get_strdup(&r, PROTO_STORE_CACHE_MAX);
	m->body = ipc_get_strdup(&r, PROTO_STORE_CACHE_MAX);
	m->headers = ipc_get_strdup(&r, PROTO_STORE_CACHE_MAX);
	if (!r.error && (m->seq == 0 || m->uid == 0))
		r.error = 1;
	if (proto_decode_done(&r, "malformed store fetch item", error_r) < 0) {
		proto_store_item_free(m);
		return -1;
	}
	return 0;
}

void proto_store_item_free(struct proto_store_item *m)
{
	free(m->envelope);
	free(m->bodystructure);
	free(m->body);
	free(m->headers);
	memset(m, 0, sizeof(*m));
}

void proto_store_fetch_done_encode(const struct proto_store_fetch_done *m, struct ipc_writer *w)
{
	put_status(w, m->status, m->code, m->text);
	ipc_put_u32(w, m->more);
	put_opt_str(w, m->vanished);
	put_opt_str(w, m->modified);
}

int proto_store_fetch_done_decode(struct proto_store_fetch_done *m, const void *data, size_t len,
                                  const char **error_r)
{
	struct ipc_reader r;

	memset(m, 0, sizeof(*m));
	ipc_reader_init(&r, data, len);
	get_status(&r, &m->status, m->code, m->text);
	m->more = get_u32_max(&r, 1);
	m->vanished = ipc_get_strdup(&r, PROTO_STORE_REPORT_MAX);
	m->modified = ipc_get_strdup(&r, PROTO_STORE_REPORT_MAX);
	if (proto_decode_done(&r, "malformed store fetch done", error_r) < 0) {
		proto_store_fetch_done_free(m);
		return -1;
	}
	return 0;
}

void proto_store_fetch_done_free(struct proto_store_fetch_done *m)
{
	free(m->vanished);
	free(m->modified);
	memset(m, 0, sizeof(*m));
}

void proto_store_flags_encode(const struct proto_store_flags *m, struct ipc_writer *w)
{
	ipc_put_u32(w, m->uid);
	ipc_put_str(w, m->set);
	ipc_put_u32(w, m->op);
	ipc_put_u32(w, m->flags);
	ipc_put_str(w, m->keywords);
	ipc_put_u64(w, m->unchangedsince);
	ipc_put_u32(w, m->start);
	ipc_put_u32(w, m->max);
}

int proto_store_flags_decode(struct proto_store_flags *m, const void *data, size_t len,
                             const char **error_r)
{
	struct ipc_reader r;

	ipc_reader_init(&r, data, len);
	m->uid = get_u32_max(&r, 1);
	ipc_get_str(&r, m->set, sizeof(m->set));
	m->op = get_u32_max(&r, STORE_FLAGS_REMOVE);
	m->flags = get_u32_max(&r, STORE_FLAGS_SETTABLE);
	ipc_get_str(&r, m->keywords, sizeof(m->keywords));
	m->unchangedsince = ipc_get_u64(&r);
	m->start = ipc_get_u32(&r);
	m->max = get_batch(&r);
	if (!r.error && m->set[0] == '\0')
		r.error = 1;
	return decode_end(&r, m, sizeof(*m), "malformed store flags request", error_r);
}

/* A search result match is a u32. */
#define PROTO_STORE_MATCH_OCTETS 4

void proto_store_search_result_encode(const struct proto_store_search_result *m,
                                      struct ipc_writer *w)
{
	unsigned i;

	put_status(w, m->status, m->code, m->text);
	ipc_put_u64(w, m->highestmodseq);
	ipc_put_u32(w, m->n_matches);
	for (i = 0; i < m->n_matches; i++)
		ipc_put_u32(w, m->matches[i]);
}

/* Reads "u32 n, n x u32" into *V / *N: each at least 1 and, when
 * ASCENDING, above the one before. */
static void get_numbers(struct ipc_reader *r, uint32_t **v, unsigned *n_r, int ascending)
{
	uint32_t n = ipc_get_u32(r), i;

	if (r->error || n > r->left / PROTO_STORE_MATCH_OCTETS) {
		r->error = 1;
		return;
	}
	if (n == 0)
		return;
	*v = xcalloc(n, sizeof(**v));
	*n_r = n;
	for (i = 0; i < n && !r->error; i++) {
		(*v)[i] = ipc_get_u32(r);
		if ((*v)[i] == 0 || (ascending && i > 0 && (*v)[i] <= (*v)[i - 1]))
			r->error = 1;
	}
}

int proto_store_search_result_decode(struct proto_store_search_result *m, const void *data,
                                     size_t len, const char **error_r)
{
	struct ipc_reader r;

	memset(m, 0, sizeof(*m));
	ipc_reader_init(&r, data, len);
	get_status(&r, &m->status, m->code, m->text);
	m->highestmodseq = ipc_get_u64(&r);
	get_numbers(&r, &m->matches, &m->n_matches, 1);
	if (proto_decode_done(&r, "malformed store search result", error_r) < 0) {
		proto_store_search_result_free(m);
		return -1;
	}
	return 0;
}

void proto_store_search_result_free(struct proto_store_search_result *m)
{
	free(m->matches);
	memset(m, 0, sizeof(*m));
}

void proto_store_copy_encode(const struct proto_store_copy *m, struct ipc_writer *w)
{
	ipc_put_u32(w, m->uid);
	ipc_put_str(w, m->set);
	ipc_put_str(w, m->destination);
	ipc_put_u32(w, m->move);
}

int proto_store_copy_decode(struct proto_store_copy *m, const void *data, size_t len,
                            const char **error_r)
{
	struct ipc_reader r;

	ipc_reader_init(&r, data, len);
	m->uid = get_u32_max(&r, 1);
	ipc_get_str(&r, m->set, sizeof(m->set));
	ipc_get_str(&r, m->destination, sizeof(m->destination));
	m->move = get_u32_max(&r, 1);
	if (!r.error && (m->set[0] == '\0' || m->destination[0] == '\0'))
		r.error = 1;
	return decode_end(&r, m, sizeof(*m), "malformed store copy", error_r);
}

void proto_store_append_encode(const struct proto_store_append *m, struct ipc_writer *w)
{
	ipc_put_str(w, m->mailbox);
	ipc_put_u32(w, m->flags);
	ipc_put_str(w, m->keywords);
	put_i64(w, m->internaldate);
	put_i32(w, m->tz_minutes);
	ipc_put_u64(w, m->size);
}

int proto_store_append_decode(struct proto_store_append *m, const void *data, size_t len,
                              const char **error_r)
{
	struct ipc_reader r;

	ipc_reader_init(&r, data, len);
	ipc_get_str(&r, m->mailbox, sizeof(m->mailbox));
	m->flags = get_u32_max(&r, STORE_FLAGS_SETTABLE);
	ipc_get_str(&r, m->keywords, sizeof(m->keywords));
	m->internaldate = get_i64(&r);
	m->tz_minutes = get_tz(&r);
	m->size = ipc_get_u64(&r);
	if (!r.error && m->mailbox[0] == '\0')
		r.error = 1;
	return decode_end(&r, m, sizeof(*m), "malformed store append", error_r);
}

void proto_store_expunge_encode(const struct proto_store_expunge *m, struct ipc_writer *w)
{
	ipc_put_u32(w, m->uid_only);
	ipc_put_str(w, m->uids);
}

int proto_store_expunge_decode(struct proto_store_expunge *m, const void *data, size_t len,
                               const char **error_r)
{
	struct ipc_reader r;

	ipc_reader_init(&r, data, len);
	m->uid_only = get_u32_max(&r, 1);
	ipc_get_str(&r, m->uids, sizeof(m->uids));
	if (!r.error && (m->uid_only == 1) != (m->uids[0] != '\0'))
		r.error = 1;
	return decode_end(&r, m, sizeof(*m), "malformed store expunge", error_r);
}

void proto_store_updates_encode(const struct proto_store_updates *m, struct ipc_writer *w)
{
	ipc_put_u32(w, m->expunges);
	ipc_put_u32(w, m->qresync);
}

int proto_store_updates_decode(struct proto_store_updates *m, const void *data, size_t len,
                               const char **error_r)
{
	struct ipc_reader r;

	ipc_reader_init(&r, data, len);
	m->expunges = get_u32_max(&r, 1);
	m->qresync = get_u32_max(&r, 1);
	return decode_end(&r, m, sizeof(*m), "malformed store updates request", error_r);
}

void proto_store_updates_result_encode(const struct proto_store_updates_result *m,
                                       struct ipc_writer *w)
{
	unsigned i;

	ipc_put_u32(w, m->exists);
	ipc_put_u32(w, m->recent);
	ipc_put_u64(w, m->highestmodseq);
	ipc_put_u32(w, m->n_expunged);
	for (i = 0; i < m->n_expunged; i++)
		ipc_put_u32(w, m->expunged[i]);
	put_opt_str(w, m->vanished);
}

int proto_store_updates_result_decode(struct proto_store_updates_result *m, const void *data,
                                      size_t len, const char **error_r)
{
	struct ipc_reader r;

	memset(m, 0, sizeof(*m));
	ipc_reader_init(&r, data, len);
	m->exists = ipc_get_u32(&r);
	m->recent = ipc_get_u32(&r);
	m->highestmodseq = ipc_get_u64(&r);
	get_numbers(&r, &m->expunged, &m->n_expunged, 0);
	m->vanished = ipc_get_strdup(&r, PROTO_STORE_REPORT_MAX);
	if (!r.error && m->recent > m->exists)
		r.error = 1;
	if (proto_decode_done(&r, "malformed store updates result", error_r) < 0) {
		proto_store_updates_result_free(m);
		return -1;
	}
	return 0;
}

void proto_store_updates_result_free(struct proto_store_updates_result *m)
{
	free(m->expunged);
	free(m->vanished);
	memset(m, 0, sizeof(*m));
}
