/*
 * store_private.h: what the store role's files share: users, sessions and
 * their views, the open folders, a request being handled, and the reply
 * helpers. Only src/store/store*.c include it.
 */
#ifndef SEALMAIL_STORE_PRIVATE_H
#define SEALMAIL_STORE_PRIVATE_H

#include <stdint.h>
#include <sys/queue.h>

#include "mail/envelope.h"
#include "mail/seqset.h"
#include "proto/store.h"
#include "store/mailbox.h"
#include "store/store.h"

#define STORE_PATH_MAX 1024
#define STORE_SESSION_BUCKETS 256
#define STORE_FOLDERS_MAX 10000            /* folders per user */
#define STORE_PARSE_MAX (64 * 1024 * 1024) /* octets of a message read for its MIME structure */
#define STORE_HEADER_CHUNK 8192 /* first read of a message file for its header block */
#define STORE_NOTIFY_USEC 50000            /* inotify events are coalesced this long */
/* Folders no session uses that stay open (LRU), so that selecting one again
 * (a client reconnecting) does not read its index again. */
#define STORE_FOLDERS_IDLE_MAX 8
/* Expunges told in one UPDATES answer: its VANISHED set (at most 11 octets
 * a UID) must stay under PROTO_STORE_SET_MAX, which the session decodes;
 * the rest stay in the view, for the next UPDATES (CHANGED says so). */
#define STORE_UPDATES_EXPUNGES_MAX 4096
/* Names in one LIST answer, the parent-only levels included: what the
 * session decodes (store.h), and well under the IPC payload bound. */
#define STORE_LIST_MAX 65536

struct config;
struct store_watch;

/* A user with at least one session. */
struct store_user {
	char name[ENVELOPE_ADDR_MAX];
	char dir[STORE_PATH_MAX]; /* "mail/DOMAIN/LOCAL", INBOX */
	unsigned sessions;
	LIST_ENTRY(store_user) entry;
};

/* One folder some session has open: its index, shared by every session
 * that selected it, reference-counted. */
struct store_folder {
	struct store *store;
	char dir[STORE_PATH_MAX];
	struct mailbox *mb;
	unsigned refs;
	struct store_session *pop3; /* the POP3 session holding it, if any */
	int wd_new, wd_cur;         /* inotify watches, -1 when none */
	int dirty;                  /* inotify saw changes not synced yet */
	uint64_t idle;              /* refs == 0: kept open, this is its LRU stamp */
	TAILQ_HEAD(, store_session) selected;
	LIST_ENTRY(store_folder) entry;
};

/* What a session was told of one message. */
struct store_view_entry {
	uint32_t uid;
	uint32_t recent; /* \Recent for this session */
	uint64_t modseq; /* the flags it knows are those of this modseq */
};

/* The session's sequence numbers: entry i is message i + 1. */
struct store_view {
	struct store_view_entry *v;
	unsigned n, cap;
	uint64_t synced_modseq; /* the folder's highest modseq at the last diff */
};

/* Where a FETCH or STORE in batches stopped, so the next batch resumes
 * there whatever the session counted. */
struct store_cursor {
	uint64_t key;        /* request type, set type and set text */
	uint32_t next_start; /* the start the next batch will carry */
	unsigned pos;        /* the match to look at next */
};

struct store_session {
	struct store_peer *peer;
	uint64_t id;
	struct store_user *user;
	uint32_t service;            /* enum proto_store_service */
	struct store_folder *folder; /* selected, or NULL */
	int readonly, pop3;
	int changed_sent; /* CHANGED sent, UPDATES not asked since */
	struct store_view view;
	struct store_cursor cursor;
	LIST_ENTRY(store_session) entry;   /* in the peer's bucket */
	TAILQ_ENTRY(store_session) fentry; /* in folder->selected */
};

struct store_peer {
	struct store *store;
	store_send_fn *send;
	void *send_arg;
	struct ipc_channel *ch; /* the dispatcher's channel (store_main) */
	LIST_HEAD(, store_session) buckets[STORE_SESSION_BUCKETS];
	LIST_ENTRY(store_peer) entry;
};

struct store {
	struct event_base *base;
	const struct config *cfg;
	unsigned sessions_per_user;
	LIST_HEAD(, store_user) users;
	LIST_HEAD(, store_folder) folders;
	LIST_HEAD(, store_peer) peers;
	struct store_watch *watch; /* NULL without inotify: UPDATES syncs */
	unsigned n_idle;           /* folders kept open with no reference */
	uint64_t idle_clock;
};

/* One request being handled. */
struct store_req {
	struct store_peer *peer;
	uint64_t id;
	uint32_t type, reply;          /* the request and the type its answer has */
	struct store_session *session; /* NULL before LOGIN */
	const void *data;
	size_t len;
	int fd; /* -1, or the handler's to close */
};

/* ---- store.c: replies ---- */
void store_send(struct store_peer *p, uint32_t type, uint64_t id, struct ipc_writer *w, int fd);
/* Answers R with its reply type carrying only STATUS, CODE and TEXT. */
void store_reply_status(const struct store_req *r, uint32_t status, const char *code,
                        const char *text);
void store_reply_result(const struct store_req *r, uint32_t status, const char *code,
                        const char *text);
/* A request that did not decode: logged, answered BAD. */
void store_reply_bad(const struct store_req *r, const char *why);
/* The limit of sessions per user from the configuration. */
unsigned store_sessions_limit(const struct config *cfg);
const char *store_hostname(const struct store *s);

/* ---- store_user.c: users and sessions ---- */
struct store_session *store_session_find(struct store_peer *p, uint64_t id);
void store_session_free(struct store_session *s);
void store_user_login(struct store_req *r);
void store_user_logout(struct store_req *r);

/* ---- store_names.c: IMAP names and directories ---- */
/* Checks NAME (UTF-8, '/' between levels) and writes its canonical form
 * (INBOX upper-cased) into CANON; NULL, or why it cannot be a folder. */
const char *store_name_check(const char *name, char *canon, size_t size);
/* The directory of folder CANON of the user at USER_DIR: USER_DIR itself
 * for INBOX, else USER_DIR/.A.B with each level in modified UTF-7. */
int store_name_dir(const char *user_dir, const char *canon, char *buf, size_t size);
/* The IMAP name of the directory entry ENTRY (".A.B"); -1 when it is no
 * folder name. */
int store_dir_name(const char *entry, char *buf, size_t size);
/* Creates the Maildir DIR (cur, new, tmp and, for a subfolder, the
 * maildirfolder file); 0 when it exists already. */
int store_maildir_make(const char *dir, int subfolder, const char **error_r);
int store_maildir_exists(const char *dir);
/* The special-use attribute of top-level folder CANON, or 0. */
uint32_t store_name_special(const char *canon);

/* ---- store_folders.c / store_subs.c ---- */
void store_folders_list(struct store_req *r);
/* Every folder of U on disk, INBOX first, sorted; -1 when unreadable. */
int store_folders_read(const struct store_user *u, struct proto_store_list_result *l);
void store_folders_mailbox(struct store_req *r);
void store_folders_status(struct store_req *r);
/* The directory of folder NAME of R's user into DIR; NULL, or why the name
 * is refused (the request is then answered by the caller). */
const char *store_folder_dir(const struct store_req *r, const char *name, char *canon, char *dir,
                             size_t size);
int store_subs_read(const struct store_user *u, char ***names_r, unsigned *n_r);
int store_subs_write(const struct store_user *u, char **names, unsigned n, const char **error_r);
int store_subs_change(const struct store_user *u, const char *name, int add, const char **error_r);
void store_subs_free(char **names, unsigned n);
/* Creates the special folders and the subscriptions of a new user. */
int store_user_specials(const struct store_user *u, const char **error_r);

/* ---- store_open.c: shared folders ---- */
struct store_folder *store_folder_open(struct store *s, const char *dir, const char **error_r);
void store_folder_unref(struct store_folder **f);
/* The folder of DIR in use (references held), or NULL. */
struct store_folder *store_folder_lookup(struct store *s, const char *dir);
/* Closes the folders kept open without references (before DELETE and
 * RENAME change directories under them). */
void store_folders_close_idle(struct store *s);
/* Syncs F with its Maildir; on changes, every session with it selected but
 * EXCEPT hears CHANGED. Returns the number of changes or -1. */
int store_folder_sync(struct store_folder *f, struct store_session *except);
/* Tells every session with F selected but EXCEPT that it changed. */
void store_folder_notify(struct store_folder *f, struct store_session *except);
/* Makes F's changes stable; logs a failure. 0 or -1 with *error_r. */
int store_folder_commit(struct store_folder *f, const char **error_r);

/* ---- store_watch.c ---- */
struct store_watch *store_watch_new(struct store *s);
void store_watch_free(struct store_watch **w);
void store_watch_add(struct store *s, struct store_folder *f);
void store_watch_remove(struct store *s, struct store_folder *f);
/* Reads what inotify has reported so far (marks folders dirty). */
void store_watch_poll(struct store *s);

/* ---- store_view.c: SELECT, UNSELECT, UPDATES ---- */
void store_view_select(struct store_req *r);
void store_view_unselect(struct store_req *r);
void store_view_updates(struct store_req *r);
/* Leaves the selected folder (CLOSE expunges first when EXPUNGE). */
void store_view_leave(struct store_session *s, int expunge);
/* The folder index of view entry I, or -1 when the message is gone. */
int store_view_index(const struct store_session *s, unsigned i);
/* A FETCH_ITEM for request ID of view entry I (folder index INDEX) with
 * its flags and modseq, which the view then knows. */
void store_view_send_flags(struct store_session *s, uint64_t id, unsigned i, int index);
/* The UIDs of KNOWN (a UID set, "" = all) expunged since MODSEQ, ascending,
 * into *UIDS_R (to free). When the folder forgot expunges that recent (a
 * rebuilt index, a full vanished list), every UID of KNOWN below uidnext
 * that is not in the folder, as RFC 7162 3.2.5.2 and 3.2.6 allow. */
unsigned store_view_vanished(struct mailbox *mb, uint64_t modseq, const char *known,
                             uint32_t **uids_r);
/* The highest UID of the view, 0 when empty. */
uint32_t store_view_max_uid(const struct store_view *v);

/* ---- store_set.c: sets resolved against a view ---- */
/* The view entries a set names, as intervals [a, b) of view indexes,
 * ascending and disjoint. */
struct store_matches {
	struct store_match_range {
		unsigned a, b;
	} * r;
	unsigned n;
	unsigned total;
};
int store_set_resolve(const struct store_view *v, const char *text, int uid,
                      struct store_matches *m, const char **error_r);
/* Walks the matches from match K: store_match_next() gives each view
 * index in turn, 0 at the end. */
struct store_match_iter {
	const struct store_matches *m;
	unsigned range, index;
};
void store_match_seek(struct store_match_iter *it, const struct store_matches *m, unsigned k);
int store_match_next(struct store_match_iter *it, unsigned *i_r);
void store_matches_free(struct store_matches *m);
/* Where a batch of request TYPE over SET starts: the cursor's position
 * when it is the continuation, else START. */
unsigned store_cursor_begin(struct store_session *s, uint32_t type, int uid, const char *set,
                            uint32_t start);
void store_cursor_end(struct store_session *s, uint32_t type, int uid, const char *set,
                      uint32_t next_start, unsigned pos);

/* ---- store_cache.c: ENVELOPE, BODYSTRUCTURE, ... ---- */
struct store_texts {
	char *envelope, *bodystructure, *body, *headers; /* allocated; "" when unavailable */
};
/* The texts WANT (STORE_WANT_*) asks for of message INDEX of F, from its
 * cache or computed with mime.h and cached. */
void store_cache_texts(struct store_folder *f, unsigned index, uint32_t want,
                       struct store_texts *t);
void store_texts_free(struct store_texts *t);
/* The message file of INDEX with CRLF line ends, at most STORE_PARSE_MAX
 * octets of it; NULL when it cannot be read. */
char *store_message_read(struct store_folder *f, unsigned index, size_t *len_r);

/* ---- store_fetch.c, store_flags.c, store_search.c, store_copy.c ---- */
void store_fetch_handle(struct store_req *r);
void store_flags_handle(struct store_req *r);
/* KW with the keywords of ARG added (OP ADD), removed, or replaced, into
 * OUT; -1 when the result does not fit. */
int store_keywords_apply(uint32_t op, const char *kw, const char *arg, char *out, size_t size);
int store_keywords_has(const char *kw, const char *word);
void store_search_handle(struct store_req *r);
void store_copy_handle(struct store_req *r);
void store_append_handle(struct store_req *r);
void store_expunge_handle(struct store_req *r);
/* Expunges F's \Deleted messages (only those with a UID in UIDS when not
 * NULL); returns how many, -1 on error. */
int store_expunge_deleted(struct store_folder *f, const struct seqset *uids, const char **error_r);

#endif
