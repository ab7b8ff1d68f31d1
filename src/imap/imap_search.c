/*
 * imap_search.c: SEARCH / UID SEARCH arguments -> a store search program
 * (proto/store.h: nodes in prefix order) and the ESEARCH RETURN options;
 * the store's result -> "* SEARCH" or "* ESEARCH" (RFC 9051 6.4.4, 7.3.4;
 * RFC 4731; RFC 5182; RFC 7162 3.1.5; RFC 5032 OLDER / YOUNGER). Called by
 * the IMAP session.
 *
 * The grammar: search = "SEARCH" [RETURN (opts)] [CHARSET name] key *(SP key);
 * keys in a row and in a parenthesised list are ANDed. Text arguments must
 * be UTF-8 (US-ASCII is a subset); the store matches them.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap/imap_search.h"
#include "lib/util.h"
#include "mail/mutf7.h"
#include "mail/seqset.h"

/* number64 (RFC 9051 9) and mod-sequence-valzer (RFC 7162 7): 63 bits. */
#define SEARCH_NUMBER_MAX ((uint64_t)INT64_MAX)

/* What follows a search key. */
enum key_arg {
	KEY_NONE,    /* the node as it is */
	KEY_FLAG,    /* number = the flag */
	KEY_ASTRING, /* arg = one astring */
	KEY_HEADER,  /* field = the key's own field name, arg = one astring */
	KEY_DATE,    /* number = the day */
	KEY_NUMBER,  /* number = a number64 */
	KEY_KEYWORD, /* arg = a flag keyword atom */
};

struct search_key {
	const char *name;
	uint32_t node; /* enum proto_store_search_key */
	enum key_arg arg;
	uint64_t number; /* KEY_FLAG */
	const char *field; /* KEY_HEADER */
};

static const struct search_key search_keys[] = {
	{"ALL", SEARCH_ALL, KEY_NONE, 0, NULL},
	{"ANSWERED", SEARCH_FLAG, KEY_FLAG, STORE_FLAG_ANSWERED, NULL},
	{"DELETED", SEARCH_FLAG, KEY_FLAG, STORE_FLAG_DELETED, NULL},
	{"DRAFT", SEARCH_FLAG, KEY_FLAG, STORE_FLAG_DRAFT, NULL},
	{"FLAGGED", SEARCH_FLAG, KEY_FLAG, STORE_FLAG_FLAGGED, NULL},
	{"RECENT", SEARCH_FLAG, KEY_FLAG, STORE_FLAG_RECENT, NULL},
	{"SEEN", SEARCH_FLAG, KEY_FLAG, STORE_FLAG_SEEN, NULL},
	{"UNANSWERED", SEARCH_NOFLAG, KEY_FLAG, STORE_FLAG_ANSWERED, NULL},
	{"UNDELETED", SEARCH_NOFLAG, KEY_FLAG, STORE_FLAG_DELETED, NULL},
	{"UNDRAFT", SEARCH_NOFLAG, KEY_FLAG, STORE_FLAG_DRAFT, NULL},
	{"UNFLAGGED", SEARCH_NOFLAG, KEY_FLAG, STORE_FLAG_FLAGGED, NULL},
	{"UNSEEN", SEARCH_NOFLAG, KEY_FLAG, STORE_FLAG_SEEN, NULL},
	{"NEW", SEARCH_NEW, KEY_NONE, 0, NULL},
	{"OLD", SEARCH_OLD, KEY_NONE, 0, NULL},
	{"BCC", SEARCH_HEADER, KEY_HEADER, 0, "Bcc"},
	{"CC", SEARCH_HEADER, KEY_HEADER, 0, "Cc"},
	{"FROM", SEARCH_HEADER, KEY_HEADER, 0, "From"},
	{"SUBJECT", SEARCH_HEADER, KEY_HEADER, 0, "Subject"},
	{"TO", SEARCH_HEADER, KEY_HEADER, 0, "To"},
	{"BODY", SEARCH_BODY, KEY_ASTRING, 0, NULL},
	{"TEXT", SEARCH_TEXT, KEY_ASTRING, 0, NULL},
	{"KEYWORD", SEARCH_KEYWORD, KEY_KEYWORD, 0, NULL},
	{"UNKEYWORD", SEARCH_UNKEYWORD, KEY_KEYWORD, 0, NULL},
	{"BEFORE", SEARCH_BEFORE, KEY_DATE, 0, NULL},
	{"ON", SEARCH_ON, KEY_DATE, 0, NULL},
	{"SINCE", SEARCH_SINCE, KEY_DATE, 0, NULL},
	{"SENTBEFORE", SEARCH_SENTBEFORE, KEY_DATE, 0, NULL},
	{"SENTON", SEARCH_SENTON, KEY_DATE, 0, NULL},
	{"SENTSINCE", SEARCH_SENTSINCE, KEY_DATE, 0, NULL},
	{"LARGER", SEARCH_LARGER, KEY_NUMBER, 0, NULL},
	{"SMALLER", SEARCH_SMALLER, KEY_NUMBER, 0, NULL},
	{"OLDER", SEARCH_OLDER, KEY_NUMBER, 0, NULL},
	{"YOUNGER", SEARCH_YOUNGER, KEY_NUMBER, 0, NULL},
};

/* The parser's state over one command's arguments. */
struct search_parser {
	const struct imap_arg *args;
	unsigned n, pos;
	struct proto_store_search *prog;
	struct imap_search_options *opts;
	const char *saved_set;
	const char **error_r;
	int result; /* IMAP_SEARCH_ERROR or IMAP_SEARCH_BADCHARSET once failed */
};

static int parse_key(struct search_parser *p, unsigned depth);

/* Records a BAD with TEXT; returns -1. */
static int fail(struct search_parser *p, const char *text)
{
	*p->error_r = text;
	p->result = IMAP_SEARCH_ERROR;
	return -1;
}

/* The next argument, or NULL (with a BAD) when there is none. */
static const struct imap_arg *next_arg(struct search_parser *p)
{
	if (p->pos >= p->n) {
		fail(p, "Missing SEARCH argument");
		return NULL;
	}
	return &p->args[p->pos++];
}

/* Appends a node of KEY; NULL with a BAD when the program is full. */
static struct proto_store_search_node *node_add(struct search_parser *p, uint32_t key)
{
	struct proto_store_search *prog = p->prog;
	struct proto_store_search_node *node;

	if (prog->n_nodes >= PROTO_STORE_SEARCH_NODES) {
		fail(p, "SEARCH too complex");
		return NULL;
	}
	prog->nodes = xrealloc(prog->nodes, (prog->n_nodes + 1) * sizeof(*prog->nodes));
	node = &prog->nodes[prog->n_nodes++];
	memset(node, 0, sizeof(*node));
	node->key = key;
	return node;
}

/* The text of an astring argument (atom, quoted, literal; NIL as the atom
 * "NIL"), bounded and valid UTF-8; NULL with a BAD. */
static const char *take_astring(struct search_parser *p)
{
	const struct imap_arg *a = next_arg(p);

	if (a == NULL)
		return NULL;
	if (a->type == IMAP_ARG_NIL)
		return "NIL";
	if (a->type == IMAP_ARG_LIST) {
		fail(p, "SEARCH expects a string");
		return NULL;
	}
	if (a->len > PROTO_STORE_SEARCH_ARG_MAX || memchr(a->str, '\0', a->len) != NULL) {
		fail(p, "SEARCH string too long or holds NUL");
		return NULL;
	}
	if (!utf8_is_valid(a->str, a->len)) {
		fail(p, "SEARCH string is not UTF-8");
		return NULL;
	}
	return a->str;
}

/* A decimal number of at most MAX from the text S; -1 when it is not one. */
static int parse_number(const char *s, uint64_t max, uint64_t *v_r)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s) || v > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*v_r = v;
	return 0;
}

/* "1-Feb-1994" (RFC 9051 date-text) -> Unix seconds of 00:00 UTC that day
 * (days before 1970 count as 0, which no message date precedes); -1 when
 * it is not a date. */
static int parse_date(const char *s, uint64_t *t_r)
{
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	static const unsigned month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned day = 0, year = 0, month = 12, i = 0;
	struct tm tm;
	time_t t;

	while (i < 2 && isdigit((unsigned char)s[i]))
		day = day * 10 + (unsigned)(s[i++] - '0');
	if (i == 0 || s[i++] != '-')
		return -1;
	for (unsigned m = 0; m < 12; m++)
		if (strncasecmp(s + i, months[m], 3) == 0)
			month = m;
	if (month == 12 || s[i + 3] != '-')
		return -1;
	s += i + 4;
	for (i = 0; i < 4; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		year = year * 10 + (unsigned)(s[i] - '0');
	}
	if (s[4] != '\0' || day == 0 || day > month_days[month] ||
	    (month == 1 && day == 29 && (year % 4 != 0 || (year % 100 == 0 && year % 400 != 0))))
		return -1;
	/* timegm(): the fields as UTC; cannot overflow a 64-bit time_t */
	tm = (struct tm){.tm_year = (int)year - 1900, .tm_mon = (int)month, .tm_mday = (int)day};
	t = timegm(&tm);
	*t_r = t < 0 ? 0 : (uint64_t)t;
	return 0;
}

/* A flag-keyword atom (RFC 9051 9), for KEYWORD / UNKEYWORD. */
static const char *take_keyword(struct search_parser *p)
{
	const struct imap_arg *a = next_arg(p);

	if (a == NULL)
		return NULL;
	if (a->type != IMAP_ARG_ATOM || a->len == 0 || a->len >= PROTO_STORE_KEYWORDS_MAX)
		goto bad;
	for (size_t i = 0; i < a->len; i++)
		if (a->str[i] <= ' ' || a->str[i] >= 0x7f || strchr("(){%*\"\\]", a->str[i]) != NULL)
			goto bad;
	return a->str;
bad:
	fail(p, "Bad SEARCH keyword");
	return NULL;
}

/* A header field name for HEADER (RFC 5322 ftext, bounded by the node's field). */
static int valid_field_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(((struct proto_store_search_node *)0)->field))
		return 0;
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s >= 0x7f || *s == ':')
			return 0;
	return 1;
}

/* HEADER field-name string. */
static int parse_header_key(struct search_parser *p)
{
	struct proto_store_search_node *node;
	const char *field, *value;

	if ((field = take_astring(p)) == NULL)
		return -1;
	if (!valid_field_name(field))
		return fail(p, "Bad SEARCH header field name");
	if ((node = node_add(p, SEARCH_HEADER)) == NULL)
		return -1;
	strlcpy_checked(node->field, field, sizeof(node->field));
	if ((value = take_astring(p)) == NULL)
		return -1;
	node->arg = xstrdup(value);
	return 0;
}

/* A sequence set or "$" as a key: SEQSET or UIDSET (UID) node. "$" is the
 * saved UID set (RFC 5182 2.1); none saved matches nothing. */
static int add_set(struct search_parser *p, const char *text, int uid)
{
	struct proto_store_search_node *node;
	struct seqset set;
	const char *error;

	if (strcmp(text, "$") == 0) {
		if (p->saved_set == NULL || *p->saved_set == '\0')
			return node_add(p, SEARCH_NOT) != NULL && node_add(p, SEARCH_ALL) != NULL ? 0 : -1;
		text = p->saved_set;
		uid = 1;
	}
	if (strlen(text) >= PROTO_STORE_SET_MAX)
		return fail(p, "SEARCH set too long");
	if (seqset_parse(text, &set, &error) < 0)
		return fail(p, "Bad sequence set in SEARCH");
	seqset_free(&set);
	if ((node = node_add(p, uid ? SEARCH_UIDSET : SEARCH_SEQSET)) == NULL)
		return -1;
	node->arg = xstrdup(text);
	return 0;
}

/* MODSEQ [entry-name entry-type-req] mod-sequence-valzer (RFC 7162 3.1.5). */
static int parse_modseq_key(struct search_parser *p)
{
	struct proto_store_search_node *node;
	const struct imap_arg *a = next_arg(p);
	uint64_t v;

	if (a == NULL)
		return -1;
	if (a->type == IMAP_ARG_STRING || a->type == IMAP_ARG_LITERAL) {
		const struct imap_arg *type = next_arg(p);
		if (type == NULL)
			return -1;
		if (type->type != IMAP_ARG_ATOM ||
		    (strcasecmp(type->str, "priv") != 0 && strcasecmp(type->str, "shared") != 0 &&
		     strcasecmp(type->str, "all") != 0))
			return fail(p, "Bad MODSEQ entry type");
		if ((a = next_arg(p)) == NULL)
			return -1;
	}
	if (a->type != IMAP_ARG_ATOM || parse_number(a->str, SEARCH_NUMBER_MAX, &v) < 0)
		return fail(p, "Bad MODSEQ value");
	if ((node = node_add(p, SEARCH_MODSEQ)) == NULL)
		return -1;
	node->number = v;
	p->opts->modseq = 1;
	return 0;
}

/* The argument of a table key K into a new node. */
static int parse_table_key(struct search_parser *p, const struct search_key *k)
{
	struct proto_store_search_node *node;
	const struct imap_arg *a;
	const char *text = NULL;
	uint64_t v = k->number;

	if (k->arg == KEY_ASTRING || k->arg == KEY_HEADER) {
		if ((text = take_astring(p)) == NULL)
			return -1;
	} else if (k->arg == KEY_KEYWORD) {
		if ((text = take_keyword(p)) == NULL)
			return -1;
	} else if (k->arg == KEY_DATE || k->arg == KEY_NUMBER) {
		if ((a = next_arg(p)) == NULL)
			return -1;
		if (a->type == IMAP_ARG_LIST || a->type == IMAP_ARG_NIL ||
		    (k->arg == KEY_NUMBER && a->type != IMAP_ARG_ATOM))
			return fail(p, "Bad SEARCH argument");
		if (k->arg == KEY_DATE ? parse_date(a->str, &v) < 0
		                       : parse_number(a->str, SEARCH_NUMBER_MAX, &v) < 0)
			return fail(p, k->arg == KEY_DATE ? "Bad SEARCH date" : "Bad SEARCH number");
	}
	if ((node = node_add(p, k->node)) == NULL)
		return -1;
	node->number = v;
	if (k->field != NULL)
		strlcpy_checked(node->field, k->field, sizeof(node->field));
	if (text != NULL)
		node->arg = xstrdup(text);
	return 0;
}

/* Keys in a row, ANDed when more than one: parses them from the arguments
 * LIST[0..N) (or the command's from p->pos when LIST is NULL). */
static int parse_key_list(struct search_parser *p, const struct imap_arg *list, unsigned n,
                          unsigned depth)
{
	const struct imap_arg *saved_args = p->args;
	unsigned saved_n = p->n, saved_pos = p->pos, and_at, count = 0;

	if (list != NULL) {
		p->args = list;
		p->n = n;
		p->pos = 0;
	}
	and_at = p->prog->n_nodes;
	if (node_add(p, SEARCH_AND) == NULL)
		return -1;
	if (p->pos >= p->n)
		return fail(p, "SEARCH needs a key");
	while (p->pos < p->n) {
		if (parse_key(p, depth) < 0)
			return -1;
		count++;
	}
	p->prog->nodes[and_at].count = count;
	if (count == 1) {
		memmove(&p->prog->nodes[and_at], &p->prog->nodes[and_at + 1],
		        (p->prog->n_nodes - and_at - 1) * sizeof(*p->prog->nodes));
		p->prog->n_nodes--;
	}
	if (list != NULL) {
		p->args = saved_args;
		p->n = saved_n;
		p->pos = saved_pos;
	}
	return 0;
}

/* NOT key, OR key key, UID set, MODSEQ, HEADER, sets, lists: the keys with
 * their own syntax. 1 when NAME was one of them (parsed), 0 when not. */
static int parse_special_key(struct search_parser *p, const char *name, unsigned depth)
{
	const struct imap_arg *a;

	if (strcasecmp(name, "NOT") == 0 || strcasecmp(name, "OR") == 0) {
		int or = strcasecmp(name, "OR") == 0;
		if (node_add(p, or ? SEARCH_OR : SEARCH_NOT) == NULL || parse_key(p, depth + 1) < 0 ||
		    (or && parse_key(p, depth + 1) < 0))
			return -1;
		return 1;
	}
	if (strcasecmp(name, "UID") == 0) {
		if ((a = next_arg(p)) == NULL)
			return -1;
		if (a->type != IMAP_ARG_ATOM)
			return fail(p, "UID needs a set");
		return add_set(p, a->str, 1) < 0 ? -1 : 1;
	}
	if (strcasecmp(name, "MODSEQ") == 0)
		return parse_modseq_key(p) < 0 ? -1 : 1;
	if (strcasecmp(name, "HEADER") == 0)
		return parse_header_key(p) < 0 ? -1 : 1;
	if (isdigit((unsigned char)name[0]) || name[0] == '*' || strcmp(name, "$") == 0)
		return add_set(p, name, 0) < 0 ? -1 : 1;
	return 0;
}

/* One search-key (RFC 9051 6.4.4) at p->pos. */
static int parse_key(struct search_parser *p, unsigned depth)
{
	const struct imap_arg *a;
	int r;

	if (depth >= IMAP_SEARCH_DEPTH_MAX)
		return fail(p, "SEARCH nested too deep");
	if ((a = next_arg(p)) == NULL)
		return -1;
	if (a->type == IMAP_ARG_LIST) {
		if (a->n == 0)
			return fail(p, "Empty SEARCH list");
		return parse_key_list(p, a->list, a->n, depth + 1);
	}
	if (a->type != IMAP_ARG_ATOM)
		return fail(p, "Unknown SEARCH key");
	if ((r = parse_special_key(p, a->str, depth)) != 0)
		return r < 0 ? -1 : 0;
	for (size_t i = 0; i < sizeof(search_keys) / sizeof(search_keys[0]); i++)
		if (strcasecmp(a->str, search_keys[i].name) == 0)
			return parse_table_key(p, &search_keys[i]);
	return fail(p, "Unknown SEARCH key");
}

/* RETURN (MIN MAX COUNT ALL SAVE) (RFC 4731 3.1, RFC 5182 2); "()" is ALL. */
static int parse_return(struct search_parser *p)
{
	const struct imap_arg *list = next_arg(p);
	struct imap_search_options *o = p->opts;

	if (list == NULL)
		return -1;
	if (list->type != IMAP_ARG_LIST)
		return fail(p, "RETURN needs a list");
	o->esearch = 1;
	for (unsigned i = 0; i < list->n; i++) {
		const struct imap_arg *a = &list->list[i];
		int *opt = NULL;

		if (a->type == IMAP_ARG_ATOM) {
			opt = strcasecmp(a->str, "MIN") == 0     ? &o->ret_min
			      : strcasecmp(a->str, "MAX") == 0   ? &o->ret_max
			      : strcasecmp(a->str, "COUNT") == 0 ? &o->ret_count
			      : strcasecmp(a->str, "ALL") == 0   ? &o->ret_all
			      : strcasecmp(a->str, "SAVE") == 0  ? &o->ret_save
			                                         : NULL;
		}
		if (opt == NULL)
			return fail(p, "Unknown RETURN option");
		*opt = 1;
	}
	if (list->n == 0)
		o->ret_all = 1;
	return 0;
}

/* CHARSET name: UTF-8 and US-ASCII only (RFC 9051 6.4.4). */
static int parse_charset(struct search_parser *p)
{
	const struct imap_arg *a = next_arg(p);

	if (a == NULL)
		return -1;
	if (a->type == IMAP_ARG_LIST || a->type == IMAP_ARG_NIL)
		return fail(p, "Bad CHARSET");
	if (strcasecmp(a->str, "UTF-8") == 0 || strcasecmp(a->str, "US-ASCII") == 0)
		return 0;
	*p->error_r = "Unsupported charset";
	p->result = IMAP_SEARCH_BADCHARSET;
	return -1;
}

/* 1 when the argument at p->pos is the atom WORD. */
static int at_word(const struct search_parser *p, const char *word)
{
	return p->pos < p->n && p->args[p->pos].type == IMAP_ARG_ATOM &&
	       strcasecmp(p->args[p->pos].str, word) == 0;
}

int imap_search_parse(const struct imap_arg *args, unsigned n, struct proto_store_search *prog,
                      struct imap_search_options *opts, const char *saved_set,
                      const char **error_r)
{
	struct search_parser p = {args, n, 0, prog, opts, saved_set, error_r, 0};
	int r = 0;

	memset(prog, 0, sizeof(*prog));
	memset(opts, 0, sizeof(*opts));
	if (at_word(&p, "RETURN")) {
		p.pos++;
		r = parse_return(&p);
	}
	if (r == 0 && at_word(&p, "CHARSET")) {
		p.pos++;
		r = parse_charset(&p);
	}
	if (r == 0)
		r = parse_key_list(&p, NULL, 0, 0);
	if (r < 0) {
		imap_search_program_free(prog);
		return p.result != 0 ? p.result : IMAP_SEARCH_ERROR;
	}
	return 0;
}

void imap_search_program_free(struct proto_store_search *prog)
{
	for (unsigned i = 0; i < prog->n_nodes; i++)
		free(prog->nodes[i].arg);
	free(prog->nodes);
	prog->nodes = NULL;
	prog->n_nodes = 0;
}

/* The ESEARCH answer (RFC 4731 3.1): MIN, MAX and ALL only when something
 * matched; COUNT always. */
static void render_esearch(const struct imap_search_options *o,
                           const struct proto_store_search_result *r, const char *tag, int uid,
                           struct imap_out *out)
{
	imap_out_printf(out, "* ESEARCH");
	if (tag != NULL) {
		imap_out_printf(out, " (TAG ");
		imap_out_nstring(out, tag, strlen(tag));
		imap_out_printf(out, ")");
	}
	if (uid)
		imap_out_printf(out, " UID");
	if (o->ret_min && r->n_matches > 0)
		imap_out_printf(out, " MIN %u", r->matches[0]);
	if (o->ret_max && r->n_matches > 0)
		imap_out_printf(out, " MAX %u", r->matches[r->n_matches - 1]);
	if (o->ret_count)
		imap_out_printf(out, " COUNT %u", r->n_matches);
	if (o->ret_all && r->n_matches > 0) {
		char *set = seqset_format(r->matches, r->n_matches);
		imap_out_printf(out, " ALL %s", set);
		free(set);
	}
	if (o->modseq && r->n_matches > 0)
		imap_out_printf(out, " MODSEQ %llu", (unsigned long long)r->highestmodseq);
	imap_out_printf(out, "\r\n");
}

void imap_search_render(const struct imap_search_options *opts,
                        const struct proto_store_search_result *r, const char *tag, int uid,
                        struct imap_out *out)
{
	if (opts->esearch) {
		/* RFC 5182 2.1: SAVE alone answers no ESEARCH. */
		if (opts->ret_min || opts->ret_max || opts->ret_count || opts->ret_all)
			render_esearch(opts, r, tag, uid, out);
		return;
	}
	imap_out_printf(out, "* SEARCH");
	for (unsigned i = 0; i < r->n_matches; i++)
		imap_out_printf(out, " %u", r->matches[i]);
	/* RFC 7162 3.1.5: the highest modseq of the matches, when any matched. */
	if (opts->modseq && r->n_matches > 0)
		imap_out_printf(out, " (MODSEQ %llu)", (unsigned long long)r->highestmodseq);
	imap_out_printf(out, "\r\n");
}

char *imap_search_save_set(const struct imap_search_options *opts,
                           const struct proto_store_search_result *r)
{
	uint32_t v[2];
	unsigned n = 0;

	if (r->n_matches == 0)
		return xstrdup("");
	if ((opts->ret_min || opts->ret_max) && !opts->ret_count && !opts->ret_all) {
		if (opts->ret_min)
			v[n++] = r->matches[0];
		if (opts->ret_max && (n == 0 || r->matches[r->n_matches - 1] != v[0]))
			v[n++] = r->matches[r->n_matches - 1];
		return seqset_format(v, n);
	}
	return seqset_format(r->matches, r->n_matches);
}
