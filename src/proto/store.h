/*
 * store.h: the messages between a dispatcher's IMAP and POP3 sessions and
 * the store role (src/store/), each a struct with one encoder and one
 * decoder (the contract is in proto.h). The id of every message is the
 * session's handle: the store keeps, per channel and id, the logged-in
 * user and the session's *view* of its selected folder (the sequence
 * numbers, UIDs and flags that session has been told about), so sequence
 * sets travel as text and the store resolves them against that view.
 *
 * The view changes only when the session asks (IMSG_STORE_UPDATES, or its
 * own EXPUNGE / MOVE / CLOSE): RFC 9051 7.5.1 lets a server report an
 * expunge only when no command by sequence number is in progress, and the
 * session knows when that is; the store only says that something changed
 * (IMSG_STORE_CHANGED).
 *
 *   IMSG_STORE_LOGIN         disp -> store  struct proto_store_login
 *   IMSG_STORE_LOGOUT        disp -> store  no payload: the session is gone (no reply)
 *   IMSG_STORE_LIST          disp -> store  struct proto_store_list
 *   IMSG_STORE_LIST_RESULT   store -> disp  struct proto_store_list_result
 *   IMSG_STORE_MAILBOX       disp -> store  struct proto_store_mailbox (create,
 *                                           delete, rename, (un)subscribe)
 *   IMSG_STORE_STATUS        disp -> store  struct proto_store_status
 *   IMSG_STORE_STATUS_RESULT store -> disp  struct proto_store_status_result
 *   IMSG_STORE_SELECT        disp -> store  struct proto_store_select
 *   IMSG_STORE_SELECT_RESULT store -> disp  struct proto_store_select_result
 *   IMSG_STORE_UNSELECT      disp -> store  struct proto_store_unselect
 *   IMSG_STORE_FETCH         disp -> store  struct proto_store_fetch
 *   IMSG_STORE_FETCH_ITEM    store -> disp  struct proto_store_item, with the
 *                                           message file's fd when asked for
 *   IMSG_STORE_FETCH_DONE    store -> disp  struct proto_store_fetch_done
 *   IMSG_STORE_FLAGS         disp -> store  struct proto_store_flags (STORE)
 *                                           answered by FETCH_ITEMs and FETCH_DONE
 *   IMSG_STORE_SEARCH        disp -> store  struct proto_store_search
 *   IMSG_STORE_SEARCH_RESULT store -> disp  struct proto_store_search_result
 *   IMSG_STORE_COPY          disp -> store  struct proto_store_copy (COPY, MOVE)
 *   IMSG_STORE_APPEND        disp -> store  struct proto_store_append, with a
 *                                           file holding the message (CRLF)
 *   IMSG_STORE_EXPUNGE       disp -> store  struct proto_store_expunge
 *   IMSG_STORE_UPDATES       disp -> store  struct proto_store_updates
 *                                           answered by FETCH_ITEMs (flag
 *                                           changes) and UPDATES_RESULT
 *   IMSG_STORE_UPDATES_RESULT store -> disp struct proto_store_updates_result
 *   IMSG_STORE_RESULT        store -> disp  struct proto_store_result: the
 *                                           answer to LOGIN, MAILBOX, UNSELECT,
 *                                           COPY, APPEND, EXPUNGE
 *   IMSG_STORE_CHANGED       store -> disp  no payload: the selected folder
 *                                           changed (new mail, flags, expunges
 *                                           by another session); ask UPDATES
 *
 * Replies come in the order of the requests on the channel.
 */
#ifndef SEALMAIL_PROTO_STORE_H
#define SEALMAIL_PROTO_STORE_H

#include <stdint.h>

#include "mail/envelope.h"
#include "proto/proto.h"

/* A mailbox name: UTF-8, '/' between levels, "INBOX" for the inbox. */
#define PROTO_STORE_NAME_MAX 512
/* A sequence set or UID set as IMAP writes it ("1:5,7,9:*"); "$" is the
 * session's to replace before sending. */
#define PROTO_STORE_SET_MAX (64 * 1024)
/* A UID set the store reports (VANISHED, MODIFIED): its compact text for a
 * million scattered UIDs, far more than a client asks about at once. */
#define PROTO_STORE_REPORT_MAX (16 * 1024 * 1024)
#define PROTO_STORE_TEXT_MAX 512
#define PROTO_STORE_CODE_MAX 256
#define PROTO_STORE_KEYWORDS_MAX 1024 /* space-separated keyword flags */
#define PROTO_STORE_CACHE_MAX (256 * 1024) /* one ENVELOPE or BODYSTRUCTURE */
#define PROTO_STORE_SEARCH_NODES 1024
#define PROTO_STORE_SEARCH_ARG_MAX 1024
#define PROTO_STORE_FETCH_BATCH 512 /* most FETCH_ITEMs per FETCH request */

/* The answer of most requests, as IMAP says it: OK, NO or BAD, an
 * optional response code without brackets ("TRYCREATE", "NONEXISTENT",
 * "COPYUID 17 1:3 5:7", "APPENDUID 17 9", "IN-USE", "LIMIT", "OVERQUOTA",
 * "CANNOT", "ALREADYEXISTS", "SERVERBUG"), and human text. */
enum proto_store_answer {
	PROTO_STORE_OK = 0,
	PROTO_STORE_NO = 1,
	PROTO_STORE_BAD = 2,
};

/* System flags (RFC 9051 2.3.2), a bit each. */
enum proto_store_flag {
	STORE_FLAG_SEEN = 1u << 0,
	STORE_FLAG_ANSWERED = 1u << 1,
	STORE_FLAG_FLAGGED = 1u << 2,
	STORE_FLAG_DELETED = 1u << 3,
	STORE_FLAG_DRAFT = 1u << 4,
	STORE_FLAG_RECENT = 1u << 5, /* reported only; never set by STORE */
	/* RFC 3501 \Recent is per session: the store gives it to the first
	 * session that selects a folder after the message arrived. */
};
#define STORE_FLAGS_SETTABLE 0x1fu

/* u32 status, str code, str text */
struct proto_store_result {
	uint32_t status; /* enum proto_store_answer */
	char code[PROTO_STORE_CODE_MAX];
	char text[PROTO_STORE_TEXT_MAX];
};

/* Why a session logs in. */
enum proto_store_service {
	STORE_SERVICE_IMAP = 0,
	STORE_SERVICE_POP3 = 1,
};

/* str user (the canonical address the lookup role returned), u32 service.
 * The store creates the user's Maildir and its special folders (Sent,
 * Drafts, Trash, Junk, Archive) the first time; NO [LIMIT] when the user
 * has too many sessions. */
struct proto_store_login {
	char user[ENVELOPE_ADDR_MAX];
	uint32_t service; /* enum proto_store_service */
};

/* u32 subscribed_only (LSUB, LIST (SUBSCRIBED)). The store returns every
 * folder; pattern matching is the session's. */
struct proto_store_list {
	uint32_t subscribed_only;
};

/* Folder attributes (RFC 9051 7.3.1, RFC 6154, RFC 5258). */
enum proto_store_attr {
	STORE_ATTR_NOSELECT = 1u << 0,
	STORE_ATTR_NONEXISTENT = 1u << 1, /* subscribed, but gone */
	STORE_ATTR_HASCHILDREN = 1u << 2,
	STORE_ATTR_HASNOCHILDREN = 1u << 3,
	STORE_ATTR_SUBSCRIBED = 1u << 4,
	STORE_ATTR_SENT = 1u << 5,
	STORE_ATTR_DRAFTS = 1u << 6,
	STORE_ATTR_TRASH = 1u << 7,
	STORE_ATTR_JUNK = 1u << 8,
	STORE_ATTR_ARCHIVE = 1u << 9,
	STORE_ATTR_MARKED = 1u << 10,
	STORE_ATTR_UNMARKED = 1u << 11,
};

struct proto_store_folder {
	char name[PROTO_STORE_NAME_MAX];
	uint32_t attrs; /* enum proto_store_attr */
};

/* u32 status, str text, u32 n, n x (str name, u32 attrs); INBOX first. */
struct proto_store_list_result {
	uint32_t status;
	char text[PROTO_STORE_TEXT_MAX];
	struct proto_store_folder *folders;
	unsigned n_folders; /* at most 65536 */
};

enum proto_store_mailbox_op {
	STORE_MAILBOX_CREATE,
	STORE_MAILBOX_DELETE,
	STORE_MAILBOX_RENAME, /* RENAME INBOX moves its messages (RFC 9051 6.3.6) */
	STORE_MAILBOX_SUBSCRIBE,
	STORE_MAILBOX_UNSUBSCRIBE,
};

/* u32 op, str name, str new_name (RENAME only, else "") */
struct proto_store_mailbox {
	uint32_t op; /* enum proto_store_mailbox_op */
	char name[PROTO_STORE_NAME_MAX];
	char new_name[PROTO_STORE_NAME_MAX];
};

/* str name */
struct proto_store_status {
	char name[PROTO_STORE_NAME_MAX];
};

/* u32 status, str code, str text, u32 messages, recent, unseen, deleted,
 * uidnext, uidvalidity, u64 size (RFC 8438: octets, CRLF), u64
 * highestmodseq */
struct proto_store_status_result {
	uint32_t status;
	char code[PROTO_STORE_CODE_MAX];
	char text[PROTO_STORE_TEXT_MAX];
	uint32_t messages, recent, unseen, deleted, uidnext, uidvalidity;
	uint64_t size, highestmodseq;
};

/* str name, u32 readonly (EXAMINE), u32 pop3 (exclusive: a second POP3
 * session on the same mailbox gets NO [IN-USE]), QRESYNC (RFC 7162 3.2.5):
 * u32 uidvalidity (0 = none given), u64 modseq, str known_uids (a UID set,
 * "" = all) */
struct proto_store_select {
	char name[PROTO_STORE_NAME_MAX];
	uint32_t readonly;
	uint32_t pop3;
	uint32_t qresync_uidvalidity;
	uint64_t qresync_modseq;
	char qresync_known_uids[PROTO_STORE_SET_MAX];
};

/* u32 status, str code, str text, u32 exists, recent, first_unseen (a
 * sequence number, 0 = none), uidvalidity, uidnext, readonly, u64
 * highestmodseq, str keywords (every keyword in use, for FLAGS), str
 * vanished (QRESYNC: the UID set of known_uids expunged since modseq).
 * With QRESYNC the messages changed since modseq follow as FETCH_ITEMs
 * sent *before* this result. */
struct proto_store_select_result {
	uint32_t status;
	char code[PROTO_STORE_CODE_MAX];
	char text[PROTO_STORE_TEXT_MAX];
	uint32_t exists, recent, first_unseen, uidvalidity, uidnext, readonly;
	uint64_t highestmodseq;
	char keywords[PROTO_STORE_KEYWORDS_MAX];
	char *vanished; /* allocated by the decoder; free with proto_store_select_result_free */
};

/* u32 expunge (CLOSE: remove \Deleted messages silently first) */
struct proto_store_unselect {
	uint32_t expunge;
};

/* What a FETCH_ITEM carries (the session asks only for what it prints). */
enum proto_store_fetch_want {
	STORE_WANT_FLAGS = 1u << 0,
	STORE_WANT_INTERNALDATE = 1u << 1,
	STORE_WANT_SIZE = 1u << 2,          /* RFC822.SIZE: octets with CRLF line ends */
	STORE_WANT_ENVELOPE = 1u << 3,      /* the IMAP ENVELOPE text, from the cache */
	STORE_WANT_BODYSTRUCTURE = 1u << 4, /* the extensible IMAP BODYSTRUCTURE text */
	STORE_WANT_BODY = 1u << 5,          /* the non-extensible BODY text */
	STORE_WANT_FILE = 1u << 6,          /* the message file's fd (read-only; LF line ends) */
	STORE_WANT_MODSEQ = 1u << 7,
	STORE_WANT_MARK_SEEN = 1u << 8,     /* set \Seen (BODY[] without PEEK, RFC822) */
	STORE_WANT_HEADERS = 1u << 9,       /* the cached header block (CRLF), when the cache has it */
	/* the file's fd only when no header block is sent (the header-only
	 * sections: served from the cache, a FETCH of 100,000 headers passes
	 * no descriptor) */
	STORE_WANT_FILE_UNLESS_HEADERS = 1u << 10,
};

/* u32 uid (the set holds UIDs), str set, u32 want, u64 changedsince (0 =
 * none; RFC 7162 3.1.4.1), u32 vanished (QRESYNC UID FETCH ... VANISHED),
 * u32 start (how many matching messages earlier requests for this FETCH
 * returned: the store resumes there), u32 max (at most
 * PROTO_STORE_FETCH_BATCH). The session asks for the next batch when its
 * output drained, so a FETCH 1:* of a large folder never queues more than
 * one batch. */
struct proto_store_fetch {
	uint32_t uid;
	char set[PROTO_STORE_SET_MAX];
	uint32_t want; /* enum proto_store_fetch_want */
	uint64_t changedsince;
	uint32_t vanished;
	uint32_t start, max;
};

/* u32 seq, uid, flags, str keywords, u64 modseq, i64 internaldate (Unix
 * seconds), i32 tz offset (minutes east of UTC), u64 size (CRLF), u64
 * file_size (the file's own octets), str envelope, str bodystructure, str
 * body, str headers (each "" unless asked for) */
struct proto_store_item {
	uint32_t seq, uid, flags;
	char keywords[PROTO_STORE_KEYWORDS_MAX];
	uint64_t modseq;
	int64_t internaldate;
	int32_t tz_minutes;
	uint64_t size, file_size;
	char *envelope, *bodystructure, *body, *headers; /* allocated by the decoder */
};

/* u32 status, str code, str text, u32 more (another batch waits: ask
 * FETCH again with start += the items received), str vanished (UID FETCH
 * VANISHED), str modified (STORE UNCHANGEDSINCE: the set that failed,
 * RFC 7162 3.1.3) */
struct proto_store_fetch_done {
	uint32_t status;
	char code[PROTO_STORE_CODE_MAX];
	char text[PROTO_STORE_TEXT_MAX];
	uint32_t more;
	char *vanished, *modified; /* allocated by the decoder */
};

enum proto_store_flags_op {
	STORE_FLAGS_REPLACE, /* FLAGS */
	STORE_FLAGS_ADD,     /* +FLAGS */
	STORE_FLAGS_REMOVE,  /* -FLAGS */
};

/* u32 uid, str set, u32 op, u32 flags, str keywords, u64 unchangedsince
 * (0 = none; RFC 7162 3.1.3), u32 start, u32 max. Answered by a
 * FETCH_ITEM (seq, uid, flags, keywords, modseq) per message whose flags
 * are now different, then FETCH_DONE (modified = the UNCHANGEDSINCE
 * failures, as the set type asked). The store renames the Maildir file
 * (":2,FRS") before answering. */
struct proto_store_flags {
	uint32_t uid;
	char set[PROTO_STORE_SET_MAX];
	uint32_t op; /* enum proto_store_flags_op */
	uint32_t flags;
	char keywords[PROTO_STORE_KEYWORDS_MAX];
	uint64_t unchangedsince;
	uint32_t start, max;
};

/* SEARCH keys (RFC 9051 6.4.4, RFC 7162 3.1.5). A program is a list of
 * nodes in prefix order: AND takes the next `count` subtrees, OR the next
 * two, NOT the next one; every other key is a leaf. Text arguments are
 * UTF-8 and match case-insensitively as substrings. */
enum proto_store_search_key {
	SEARCH_AND,        /* count */
	SEARCH_OR,
	SEARCH_NOT,
	SEARCH_ALL,
	SEARCH_SEQSET,     /* arg: a sequence set */
	SEARCH_UIDSET,     /* arg: a UID set */
	SEARCH_FLAG,       /* number: one enum proto_store_flag (SEEN, ANSWERED, ... RECENT) */
	SEARCH_NOFLAG,     /* number: the flag that is not set (UNSEEN, ...) */
	SEARCH_NEW,        /* \Recent and not \Seen */
	SEARCH_OLD,        /* not \Recent */
	SEARCH_KEYWORD,    /* arg */
	SEARCH_UNKEYWORD,  /* arg */
	SEARCH_HEADER,     /* field: the field name, arg: the text ("" = has the field) */
	SEARCH_BODY,       /* arg: in the body (the decoded text of each text part) */
	SEARCH_TEXT,       /* arg: in the header or the body */
	SEARCH_BEFORE,     /* number: a day (Unix seconds at 00:00 UTC); internal date */
	SEARCH_ON,
	SEARCH_SINCE,
	SEARCH_SENTBEFORE, /* the same for the Date: field */
	SEARCH_SENTON,
	SEARCH_SENTSINCE,
	SEARCH_LARGER,     /* number: RFC822.SIZE */
	SEARCH_SMALLER,
	SEARCH_MODSEQ,     /* number: modseq at least this (RFC 7162 3.1.5) */
	SEARCH_OLDER,      /* number: seconds (RFC 5032 WITHIN, if offered) */
	SEARCH_YOUNGER,
};

struct proto_store_search_node {
	uint32_t key; /* enum proto_store_search_key */
	uint32_t count; /* AND: how many subtrees follow */
	uint64_t number;
	char field[128]; /* HEADER: the field name */
	char *arg;       /* allocated by the decoder */
};

/* u32 uid (answer UIDs, not sequence numbers), u32 n, n x (u32 key, u32
 * count, u64 number, str field, str arg). The decoder checks the program
 * is one well-formed tree. */
struct proto_store_search {
	uint32_t uid;
	struct proto_store_search_node *nodes;
	unsigned n_nodes; /* at most PROTO_STORE_SEARCH_NODES */
};

/* u32 status, str code, str text, u64 highest modseq of the matches (0
 * unless the program has SEARCH_MODSEQ), u32 n, n x u32 (ascending
 * sequence numbers or UIDs) */
struct proto_store_search_result {
	uint32_t status;
	char code[PROTO_STORE_CODE_MAX];
	char text[PROTO_STORE_TEXT_MAX];
	uint64_t highestmodseq;
	uint32_t *matches;
	unsigned n_matches;
};

/* u32 uid, str set, str destination, u32 move. Answered by RESULT, its
 * code "COPYUID uidvalidity source-uids dest-uids" (RFC 4315); for MOVE
 * the session then asks UPDATES to report the expunges (RFC 6851 3.3). */
struct proto_store_copy {
	uint32_t uid;
	char set[PROTO_STORE_SET_MAX];
	char destination[PROTO_STORE_NAME_MAX];
	uint32_t move;
};

/* str mailbox, u32 flags, str keywords, i64 internaldate (0 = now), i32
 * tz_minutes, u64 size; with the fd of a file holding SIZE octets of the
 * message with CRLF line ends. Answered by RESULT with "APPENDUID
 * uidvalidity uid" once the message is on stable storage. */
struct proto_store_append {
	char mailbox[PROTO_STORE_NAME_MAX];
	uint32_t flags;
	char keywords[PROTO_STORE_KEYWORDS_MAX];
	int64_t internaldate;
	int32_t tz_minutes;
	uint64_t size;
};

/* u32 uid_only, str uids: EXPUNGE removes every \Deleted message; UID
 * EXPUNGE (RFC 4315 2.1) only those of the UID set. Answered by RESULT;
 * the session then asks UPDATES to report them. */
struct proto_store_expunge {
	uint32_t uid_only;
	char uids[PROTO_STORE_SET_MAX];
};

/* u32 expunges (the session may be told of expunges now), u32 qresync
 * (report them as VANISHED UIDs, RFC 7162 3.2.10) */
struct proto_store_updates {
	uint32_t expunges;
	uint32_t qresync;
};

/* u32 exists, recent, u64 highestmodseq, u32 n, n x u32 expunged (the
 * sequence numbers to send as EXPUNGE, in order, each as the session's
 * view stood after the ones before it), str vanished (with qresync: the
 * UID set instead). The view is updated when this is sent. */
struct proto_store_updates_result {
	uint32_t exists, recent;
	uint64_t highestmodseq;
	uint32_t *expunged;
	unsigned n_expunged;
	char *vanished;
};

void proto_store_result_encode(const struct proto_store_result *m, struct ipc_writer *w);
int proto_store_result_decode(struct proto_store_result *m, const void *data, size_t len,
                              const char **error_r);

void proto_store_login_encode(const struct proto_store_login *m, struct ipc_writer *w);
int proto_store_login_decode(struct proto_store_login *m, const void *data, size_t len,
                             const char **error_r);

void proto_store_list_encode(const struct proto_store_list *m, struct ipc_writer *w);
int proto_store_list_decode(struct proto_store_list *m, const void *data, size_t len,
                            const char **error_r);

void proto_store_list_result_encode(const struct proto_store_list_result *m,
                                    struct ipc_writer *w);
int proto_store_list_result_decode(struct proto_store_list_result *m, const void *data,
                                   size_t len, const char **error_r);
void proto_store_list_result_free(struct proto_store_list_result *m);

void proto_store_mailbox_encode(const struct proto_store_mailbox *m, struct ipc_writer *w);
int proto_store_mailbox_decode(struct proto_store_mailbox *m, const void *data, size_t len,
                               const char **error_r);

void proto_store_status_encode(const struct proto_store_status *m, struct ipc_writer *w);
int proto_store_status_decode(struct proto_store_status *m, const void *data, size_t len,
                              const char **error_r);

void proto_store_status_result_encode(const struct proto_store_status_result *m,
                                      struct ipc_writer *w);
int proto_store_status_result_decode(struct proto_store_status_result *m, const void *data,
                                     size_t len, const char **error_r);

/* The struct is large (the known-UID set): allocate it, do not put it on
 * a small stack. */
void proto_store_select_encode(const struct proto_store_select *m, struct ipc_writer *w);
int proto_store_select_decode(struct proto_store_select *m, const void *data, size_t len,
                              const char **error_r);

void proto_store_select_result_encode(const struct proto_store_select_result *m,
                                      struct ipc_writer *w);
int proto_store_select_result_decode(struct proto_store_select_result *m, const void *data,
                                     size_t len, const char **error_r);
void proto_store_select_result_free(struct proto_store_select_result *m);

void proto_store_unselect_encode(const struct proto_store_unselect *m, struct ipc_writer *w);
int proto_store_unselect_decode(struct proto_store_unselect *m, const void *data, size_t len,
                                const char **error_r);

void proto_store_fetch_encode(const struct proto_store_fetch *m, struct ipc_writer *w);
int proto_store_fetch_decode(struct proto_store_fetch *m, const void *data, size_t len,
                             const char **error_r);

void proto_store_item_encode(const struct proto_store_item *m, struct ipc_writer *w);
int proto_store_item_decode(struct proto_store_item *m, const void *data, size_t len,
                            const char **error_r);
void proto_store_item_free(struct proto_store_item *m);

void proto_store_fetch_done_encode(const struct proto_store_fetch_done *m, struct ipc_writer *w);
int proto_store_fetch_done_decode(struct proto_store_fetch_done *m, const void *data, size_t len,
                                  const char **error_r);
void proto_store_fetch_done_free(struct proto_store_fetch_done *m);

void proto_store_flags_encode(const struct proto_store_flags *m, struct ipc_writer *w);
int proto_store_flags_decode(struct proto_store_flags *m, const void *data, size_t len,
                             const char **error_r);

void proto_store_search_encode(const struct proto_store_search *m, struct ipc_writer *w);
int proto_store_search_decode(struct proto_store_search *m, const void *data, size_t len,
                              const char **error_r);
void proto_store_search_free(struct proto_store_search *m);

void proto_store_search_result_encode(const struct proto_store_search_result *m,
                                      struct ipc_writer *w);
int proto_store_search_result_decode(struct proto_store_search_result *m, const void *data,
                                     size_t len, const char **error_r);
void proto_store_search_result_free(struct proto_store_search_result *m);

void proto_store_copy_encode(const struct proto_store_copy *m, struct ipc_writer *w);
int proto_store_copy_decode(struct proto_store_copy *m, const void *data, size_t len,
                            const char **error_r);

void proto_store_append_encode(const struct proto_store_append *m, struct ipc_writer *w);
int proto_store_append_decode(struct proto_store_append *m, const void *data, size_t len,
                              const char **error_r);

void proto_store_expunge_encode(const struct proto_store_expunge *m, struct ipc_writer *w);
int proto_store_expunge_decode(struct proto_store_expunge *m, const void *data, size_t len,
                               const char **error_r);

void proto_store_updates_encode(const struct proto_store_updates *m, struct ipc_writer *w);
int proto_store_updates_decode(struct proto_store_updates *m, const void *data, size_t len,
                               const char **error_r);

void proto_store_updates_result_encode(const struct proto_store_updates_result *m,
                                       struct ipc_writer *w);
int proto_store_updates_result_decode(struct proto_store_updates_result *m, const void *data,
                                      size_t len, const char **error_r);
void proto_store_updates_result_free(struct proto_store_updates_result *m);

#endif
