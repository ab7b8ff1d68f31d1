/*
 * imap_cmd_list.c: LIST (RFC 9051 6.3.9) with LIST-EXTENDED's selection
 * and return options (RFC 5258: SUBSCRIBED, REMOTE, RECURSIVEMATCH;
 * RETURN SUBSCRIBED, CHILDREN), SPECIAL-USE (RFC 6154), LIST-STATUS
 * (RFC 5819: a STATUS line after each selectable mailbox's LIST line) and
 * LSUB (RFC 3501 6.3.9). The store returns every folder (or every
 * subscribed one) with its attributes; matching the patterns is done
 * here with imap_match().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "imap/imap_parse.h"
#include "imap/imap_session_private.h"
#include "lib/ipc.h"
#include "lib/util.h"
#include "proto/proto.h"
#include "proto/store.h"

#define IMAP_LIST_PATTERNS_MAX 16 /* patterns in one LIST (RFC 5258 list of patterns) */

enum imap_list_option {
	IMAP_LIST_SEL_SUBSCRIBED = 1u << 0,
	IMAP_LIST_SEL_RECURSIVE = 1u << 1,
	IMAP_LIST_SEL_SPECIAL = 1u << 2,
	IMAP_LIST_RET_SUBSCRIBED = 1u << 3,
	IMAP_LIST_RET_STATUS = 1u << 4,
	IMAP_LIST_LSUB = 1u << 5,
};

#define IMAP_ATTRS_SPECIAL                                                                         \
	(STORE_ATTR_SENT | STORE_ATTR_DRAFTS | STORE_ATTR_TRASH | STORE_ATTR_JUNK |                \
	 STORE_ATTR_ARCHIVE)

struct imap_list_ctx {
	char patterns[IMAP_LIST_PATTERNS_MAX][PROTO_STORE_NAME_MAX];
	unsigned n_patterns;
	unsigned options; /* enum imap_list_option */
	unsigned status_items;
	struct proto_store_list_result res;
	unsigned next; /* LIST-STATUS: the folder whose STATUS is awaited */
};

static void imap_list_ctx_free(void *p)
{
	struct imap_list_ctx *c = p;

	proto_store_list_result_free(&c->res);
	free(c);
}

/* ---- matching and printing -------------------------------------------------- */

static int imap_list_matches(const struct imap_list_ctx *c, const char *name)
{
	unsigned i;

	for (i = 0; i < c->n_patterns; i++)
		if (imap_match(c->patterns[i], name, '/'))
			return 1;
	return 0;
}

static void imap_out_attrs(struct imap_out *o, uint32_t attrs, unsigned options)
{
	static const struct {
		uint32_t attr;
		const char *name;
	} names[] = {
	    {STORE_ATTR_NOSELECT, "\\Noselect"},
	    {STORE_ATTR_NONEXISTENT, "\\NonExistent"},
	    {STORE_ATTR_HASCHILDREN, "\\HasChildren"},
	    {STORE_ATTR_HASNOCHILDREN, "\\HasNoChildren"},
	    {STORE_ATTR_SUBSCRIBED, "\\Subscribed"},
	    {STORE_ATTR_SENT, "\\Sent"},
	    {STORE_ATTR_DRAFTS, "\\Drafts"},
	    {STORE_ATTR_TRASH, "\\Trash"},
	    {STORE_ATTR_JUNK, "\\Junk"},
	    {STORE_ATTR_ARCHIVE, "\\Archive"},
	    {STORE_ATTR_MARKED, "\\Marked"},
	    {STORE_ATTR_UNMARKED, "\\Unmarked"},
	};
	const char *sep = "";
	size_t i;

	if (!(options & (IMAP_LIST_SEL_SUBSCRIBED | IMAP_LIST_RET_SUBSCRIBED)) ||
	    (options & IMAP_LIST_LSUB))
		attrs &= ~(uint32_t)STORE_ATTR_SUBSCRIBED;
	imap_out_printf(o, "(");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (attrs & names[i].attr) {
			imap_out_printf(o, "%s%s", sep, names[i].name);
			sep = " ";
		}
	}
	imap_out_printf(o, ")");
}

static void imap_list_line(struct imap_session *s, const struct imap_list_ctx *c, const char *name,
                           uint32_t attrs, int childinfo)
{
	struct imap_out o = {NULL, 0, 0};

	imap_out_printf(&o, "* %s ", c->options & IMAP_LIST_LSUB ? "LSUB" : "LIST");
	imap_out_attrs(&o, attrs, c->options);
	imap_out_printf(&o, " \"/\" ");
	imap_out_mailbox(s, &o, name);
	if (childinfo)
		imap_out_printf(&o, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	imap_out_printf(&o, "\r\n");
	imap_out_flush(s, &o);
	free(o.buf);
}

/* RECURSIVEMATCH (RFC 5258 3.5): a matching parent that is not itself
 * subscribed is listed once with CHILDINFO when a descendant is. */
static void imap_list_parents(struct imap_session *s, const struct imap_list_ctx *c, unsigned index)
{
	const struct proto_store_list_result *r = &c->res;
	char parent[PROTO_STORE_NAME_MAX];
	char *slash;
	unsigned j;

	snprintf(parent, sizeof(parent), "%s", r->folders[index].name);
	while ((slash = strrchr(parent, '/')) != NULL) {
		*slash = '\0';
		if (!imap_list_matches(c, parent))
			continue;
		for (j = 0; j < r->n_folders; j++)
			if (strcmp(r->folders[j].name, parent) == 0)
				break;
		if (j < r->n_folders)
			continue; /* listed on its own */
		for (j = 0; j < index; j++)
			if (strncmp(r->folders[j].name, parent, strlen(parent)) == 0 &&
			    r->folders[j].name[strlen(parent)] == '/')
				break;
		if (j == index) /* the first descendant names it */
			imap_list_line(s, c, parent, 0, 1);
	}
}

/* Whether folder F is listed: a pattern matches and the selection holds. */
static int imap_list_selected(const struct imap_list_ctx *c, const struct proto_store_folder *f)
{
	if ((c->options & IMAP_LIST_SEL_SUBSCRIBED) && !(f->attrs & STORE_ATTR_SUBSCRIBED))
		return 0;
	if ((c->options & IMAP_LIST_SEL_SPECIAL) && !(f->attrs & IMAP_ATTRS_SPECIAL))
		return 0;
	return imap_list_matches(c, f->name);
}

static void imap_list_status_reply(struct imap_session *s, uint32_t type, const void *data,
                                   size_t len, int fd);

/* Prints from c->next on; stops to ask a STATUS (LIST-STATUS), else ends
 * the command. */
static void imap_list_step(struct imap_session *s)
{
	struct imap_list_ctx *c = s->cmd.data;
	struct imap_reply r;

	for (; c->next < c->res.n_folders; c->next++) {
		const struct proto_store_folder *f = &c->res.folders[c->next];

		if (c->options & IMAP_LIST_SEL_RECURSIVE)
			imap_list_parents(s, c, c->next);
		if (!imap_list_selected(c, f))
			continue;
		imap_list_line(s, c, f->name, f->attrs, 0);
		if ((c->options & IMAP_LIST_RET_STATUS) &&
		    !(f->attrs & (STORE_ATTR_NOSELECT | STORE_ATTR_NONEXISTENT))) {
			struct proto_store_status m;
			struct ipc_writer w;

			memset(&m, 0, sizeof(m));
			snprintf(m.name, sizeof(m.name), "%s", f->name);
			ipc_writer_init(&w);
			proto_store_status_encode(&m, &w);
			imap_store_request(s, IMSG_STORE_STATUS, &w, -1, imap_list_status_reply);
			return;
		}
	}
	r = imap_reply_make(IMAP_OK, "", "%s completed",
	                    c->options & IMAP_LIST_LSUB ? "LSUB" : "LIST");
	imap_command_done(s, &r);
}

static void imap_list_status_reply(struct imap_session *s, uint32_t type, const void *data,
                                   size_t len, int fd)
{
	struct imap_list_ctx *c = s->cmd.data;
	struct proto_store_status_result m;
	struct imap_out o = {NULL, 0, 0};
	const char *why;

	if (fd >= 0)
		close(fd);
	/* a folder gone meanwhile just has no STATUS line */
	if (type == IMSG_STORE_STATUS_RESULT &&
	    proto_store_status_result_decode(&m, data, len, &why) == 0 &&
	    m.status == PROTO_STORE_OK) {
		imap_out_status(s, &o, c->res.folders[c->next].name, c->status_items, &m);
		imap_out_flush(s, &o);
		free(o.buf);
	}
	s->wait = IMAP_WAIT_NONE;
	s->on_store = NULL;
	c->next++;
	imap_list_step(s);
}

static void imap_list_reply(struct imap_session *s, uint32_t type, const void *data, size_t len,
                            int fd)
{
	struct imap_list_ctx *c = s->cmd.data;
	struct imap_reply r;
	const char *why;

	if (fd >= 0)
		close(fd);
	if (type != IMSG_STORE_LIST_RESULT ||
	    proto_store_list_result_decode(&c->res, data, len, &why) < 0) {
		r = imap_reply_make(IMAP_NO, "SERVERBUG", "The mail store did not answer");
		imap_command_done(s, &r);
		return;
	}
	if (c->res.status != PROTO_STORE_OK) {
		r = imap_reply_from_store(c->res.status, "", c->res.text, "");
		imap_command_done(s, &r);
		return;
	}
	s->wait = IMAP_WAIT_NONE;
	s->on_store = NULL;
	imap_list_step(s);
}

/* ---- arguments -------------------------------------------------------------- */

/* REFERENCE joined with one pattern, as UTF-8; INBOX matches in any case. */
static int imap_list_pattern(const struct imap_session *s, const char *reference,
                             const struct imap_arg *a, char *out, size_t size)
{
	char joined[PROTO_STORE_NAME_MAX];
	const char *text = imap_arg_text(a), *why;
	struct imap_arg tmp;

	if (text == NULL ||
	    snprintf(joined, sizeof(joined), "%s%s", reference, text) >= (int)sizeof(joined))
		return -1;
	tmp = *a;
	tmp.str = joined;
	tmp.len = strlen(joined);
	if (imap_mailbox_arg(s, &tmp, out, size, &why) < 0)
		return -1;
	if (strncasecmp(out, "INBOX", 5) == 0 && (out[5] == '\0' || out[5] == '/'))
		memcpy(out, "INBOX", 5);
	return 0;
}

static int imap_list_patterns(const struct imap_session *s, struct imap_list_ctx *c,
                              const char *reference, const struct imap_arg *a)
{
	const struct imap_arg *v = a;
	unsigned n = 1, i;

	if (a->type == IMAP_ARG_LIST) {
		v = a->list;
		n = a->n;
	}
	if (n == 0 || n > IMAP_LIST_PATTERNS_MAX)
		return -1;
	for (i = 0; i < n; i++)
		if (imap_list_pattern(s, reference, &v[i], c->patterns[i], sizeof(c->patterns[i])) <
		    0)
			return -1;
	c->n_patterns = n;
	return 0;
}

/* Selection options (RFC 5258 3.1, RFC 6154 5.1). */
static int imap_list_selection(struct imap_list_ctx *c, const struct imap_arg *a)
{
	unsigned i;

	for (i = 0; i < a->n; i++) {
		if (imap_arg_is(&a->list[i], "SUBSCRIBED"))
			c->options |= IMAP_LIST_SEL_SUBSCRIBED;
		else if (imap_arg_is(&a->list[i], "RECURSIVEMATCH"))
			c->options |= IMAP_LIST_SEL_RECURSIVE;
		else if (imap_arg_is(&a->list[i], "SPECIAL-USE"))
			c->options |= IMAP_LIST_SEL_SPECIAL;
		else if (!imap_arg_is(&a->list[i], "REMOTE"))
			return -1;
	}
	/* RECURSIVEMATCH alone is an error (RFC 5258 3.1) */
	if ((c->options & IMAP_LIST_SEL_RECURSIVE) && !(c->options & IMAP_LIST_SEL_SUBSCRIBED))
		return -1;
	return 0;
}

/* RETURN options (RFC 5258 3.2, RFC 5819, RFC 6154). */
static int imap_list_return(struct imap_session *s, struct imap_list_ctx *c,
                            const struct imap_arg *a)
{
	unsigned i;

	if (a->type != IMAP_ARG_LIST)
		return -1;
	for (i = 0; i < a->n; i++) {
		if (imap_arg_is(&a->list[i], "SUBSCRIBED")) {
			c->options |= IMAP_LIST_RET_SUBSCRIBED;
		} else if (imap_arg_is(&a->list[i], "STATUS") && i + 1 < a->n &&
		           imap_status_items(s, &a->list[i + 1], &c->status_items) == 0) {
			c->options |= IMAP_LIST_RET_STATUS;
			i++;
		} else if (!imap_arg_is(&a->list[i], "CHILDREN") &&
		           !imap_arg_is(&a->list[i], "SPECIAL-USE")) {
			return -1;
		}
	}
	return 0;
}

static int imap_list_args(struct imap_session *s, struct imap_list_ctx *c,
                          const struct imap_arg *args, unsigned n)
{
	const char *reference;
	unsigned i = 0;

	if (n > 0 && args[0].type == IMAP_ARG_LIST && !(c->options & IMAP_LIST_LSUB)) {
		if (imap_list_selection(c, &args[0]) < 0)
			return -1;
		i = 1;
	}
	if (n < i + 2 || (reference = imap_arg_text(&args[i])) == NULL)
		return -1;
	if (imap_list_patterns(s, c, reference, &args[i + 1]) < 0)
		return -1;
	i += 2;
	if (i == n)
		return 0;
	if (c->options & IMAP_LIST_LSUB || n != i + 2 || !imap_arg_is(&args[i], "RETURN"))
		return -1;
	return imap_list_return(s, c, &args[i + 1]);
}

static struct imap_reply imap_list_common(struct imap_session *s, const struct imap_arg *args,
                                          unsigned n, unsigned options)
{
	struct imap_list_ctx *c = xcalloc(1, sizeof(*c));
	struct proto_store_list m;
	struct ipc_writer w;

	c->options = options;
	if (imap_list_args(s, c, args, n) < 0) {
		imap_list_ctx_free(c);
		return imap_reply_make(IMAP_BAD, "", "Invalid %s arguments",
		                       options & IMAP_LIST_LSUB ? "LSUB" : "LIST");
	}
	s->cmd.data = c;
	s->cmd.data_free = imap_list_ctx_free;
	/* LIST "" "": the hierarchy delimiter (RFC 9051 6.3.9) */
	if (c->n_patterns == 1 && c->patterns[0][0] == '\0' && !(options & IMAP_LIST_LSUB)) {
		imap_untagged(s, "LIST (\\Noselect) \"/\" \"\"");
		return imap_reply_make(IMAP_OK, "", "LIST completed");
	}
	m.subscribed_only = (c->options & (IMAP_LIST_SEL_SUBSCRIBED | IMAP_LIST_LSUB)) != 0;
	ipc_writer_init(&w);
	proto_store_list_encode(&m, &w);
	imap_store_request(s, IMSG_STORE_LIST, &w, -1, imap_list_reply);
	return imap_pending();
}

struct imap_reply imap_cmd_list(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	return imap_list_common(s, args, n, 0);
}

struct imap_reply imap_cmd_lsub(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	return imap_list_common(s, args, n, IMAP_LIST_LSUB | IMAP_LIST_SEL_SUBSCRIBED);
}
