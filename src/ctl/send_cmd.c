/*
 * send_cmd.c: `sealmail send` and `sendmail`, the local injector. It reads
 * a message on stdin and hands it to the running server over the local
 * submission socket, speaking SMTP there; the server knows the local user
 * from the kernel. Options follow sendmail's: -f/-r SENDER, -t, -i, -oi;
 * the others sendmail programs pass (-F, -o..., -B, -N, -R, -V, -v, -bm)
 * are accepted and ignored; -bp lists the queue, -bi does nothing, the
 * other -b modes are refused. A message without Date: or Message-ID: gets
 * them, as with sendmail and Postfix. A bare name ("root") as sender or
 * recipient is qualified with [server] hostname in the envelope only, as
 * Postfix's sendmail does with $myorigin (append_at_myorigin): cron, apt and
 * smartd mail "root".
 */
#include "ctl/send_cmd.h"

#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "conf/config.h"
#include "ctl/ctl_client.h"
#include "ctl/mailq_cmd.h"
#include "lib/util.h"
#include "lookup/aliases.h"
#include "mail/dotstuff.h"
#include "mail/mail_header.h"
#include "smtp/smtp_parse.h"
#include "smtp/smtp_reply.h"

#define SEND_MAX_RCPTS 1000

struct send_opts {
	const char *config;
	const char *sender;
	int from_headers; /* -t */
	int dot_ends;     /* without -i: a line "." ends the input */
	char mode;        /* -bX: 'm' (the default) reads a message, 'p' lists the
	                     queue, 'i' (newaliases) has nothing to do */
	const char *rcpts[SEND_MAX_RCPTS];
	unsigned n_rcpts;
};

/* Called as `sendmail` (ARGV0's last name), the usage names that and the
 * options sendmail's callers know. */
static void send_usage(FILE *f, const char *argv0)
{
	const char *slash = strrchr(argv0, '/');

	if (strcmp(slash != NULL ? slash + 1 : argv0, "sendmail") != 0) {
		fprintf(f, "usage: sealmail send [-c FILE] [-f SENDER] [-t] [-i] RCPT...\n");
		return;
	}
	fprintf(f, "usage: sendmail [-c FILE] [-f SENDER | -r SENDER] [-t] [-i | -oi]\n"
	           "                [-bm | -bp | -bi] [option...] [RCPT...]\n"
	           "Reads one message on stdin and hands it to the running server over the\n"
	           "local submission socket; the same as `sealmail send`. -t adds the To:,\n"
	           "Cc: and Bcc: recipients and removes Bcc:; with -i (-oi) a line \".\" does\n"
	           "not end the input. -bp lists the queue as mailq does, -bi does nothing.\n"
	           "-F, -B, -N, -R, -V, -O (each with a value), -o... and -v... are accepted\n"
	           "and ignored.\n"
	           "Default FILE: $SEALMAIL_CONFIG, else " CONFIG_DEFAULT_PATH "\n");
}

/* Takes an option's value, given glued ("-fx") or as the next word. */
static const char *send_optarg(int argc, char **argv, int *i)
{
	if (argv[*i][2] != '\0')
		return argv[*i] + 2;
	if (*i + 1 < argc)
		return argv[++*i];
	return NULL;
}

/* sendmail's -bX modes: -bm (and -b alone) read a message, -bp lists the
 * queue as mailq does, -bi (newaliases) has nothing to do, the server
 * reading the aliases file by itself. Every other mode (-bs an SMTP session
 * on stdin, -bv verifying addresses, -bd a daemon, ...) is refused: read as
 * a message, its input would be sent as mail. */
static int send_parse_mode(const char *a, struct send_opts *o)
{
	if (a[2] == '\0' || strcmp(a, "-bm") == 0)
		o->mode = 'm';
	else if (strcmp(a, "-bp") == 0 || strcmp(a, "-bi") == 0)
		o->mode = a[2];
	else {
		fprintf(stderr,
		        "sealmail send: %s is not supported: only -bm (read a message), "
		        "-bp (list the queue) and -bi (nothing to do)\n",
		        a);
		return -1;
	}
	return 0;
}

/* Returns 0, -1 on a usage error, or 1 for --help as the first argument
 * (as sendmail: as `sealmail send`, main.c answers it). */
static int send_parse(int argc, char **argv, struct send_opts *o)
{
	int i;

	if (argc >= 2 && strcmp(argv[1], "--help") == 0)
		return 1;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || strcmp(a, "-") == 0) {
			if (o->n_rcpts == SEND_MAX_RCPTS)
				return -1;
			o->rcpts[o->n_rcpts++] = a;
		} else if (strcmp(a, "-t") == 0) {
			o->from_headers = 1;
		} else if (strcmp(a, "-i") == 0 || strcmp(a, "-oi") == 0) {
			o->dot_ends = 0;
		} else if (a[1] == 'c' || a[1] == 'f' || a[1] == 'r') {
			const char *v = send_optarg(argc, argv, &i);
			if (v == NULL)
				return -1;
			if (a[1] == 'c')
				o->config = v;
			else
				o->sender = v;
		} else if (strchr("FBNRVO", a[1]) != NULL && a[2] == '\0') {
			i++; /* an ignored option with a separate value */
		} else if (a[1] == 'b') {
			if (send_parse_mode(a, o) < 0)
				return -1;
		} else if (a[1] != 'o' && a[1] != 'v' && strchr("FBNRV", a[1]) == NULL) {
			return -1;
		}
	}
	return 0;
}

/* Reads stdin: to EOF, or (without -i) up to a line holding only ".".
 * Lines of any length and NUL bytes come through whole (getline). */
static char *send_read_message(const struct send_opts *o, size_t max, size_t *len_r)
{
	size_t cap = 65536, len = 0, line_cap = 0;
	char *buf = xmalloc(cap), *line = NULL;
	ssize_t n;

	while ((n = getline(&line, &line_cap, stdin)) > 0) {
		if (o->dot_ends && ((n == 2 && memcmp(line, ".\n", 2) == 0) ||
		                    (n == 3 && memcmp(line, ".\r\n", 3) == 0)))
			break;
		if (len + (size_t)n > max) {
			free(line);
			free(buf);
			return NULL;
		}
		if (len + (size_t)n > cap) {
			cap = (len + (size_t)n) * 2;
			buf = xrealloc(buf, cap);
		}
		memcpy(buf + len, line, (size_t)n);
		len += (size_t)n;
	}
	free(line);
	*len_r = len;
	return buf;
}

/* Removes Bcc: fields (with their continuation lines) from the header. */
static size_t send_strip_bcc(char *msg, size_t len)
{
	size_t hlen = mail_header_length(msg, len), i = 0;

	while (i < hlen) {
		char *nl = memchr(msg + i, '\n', hlen - i);
		size_t end = nl ? (size_t)(nl - msg) + 1 : hlen;
		/* the rule the recipients were read with: "Bcc :" is a Bcc too */
		if (mail_header_line_is(msg + i, end - i, "Bcc")) {
			while (end < hlen && (msg[end] == ' ' || msg[end] == '\t')) {
				nl = memchr(msg + end, '\n', hlen - end);
				end = nl ? (size_t)(nl - msg) + 1 : hlen;
			}
			memmove(msg + i, msg + end, len - end);
			len -= end - i;
			hlen -= end - i;
			continue;
		}
		i = end;
	}
	return len;
}

/* 1 when LINE (LEN octets, its line end included) is a header field's
 * first line, "name:" with a name of printable characters (RFC 5322 2.2;
 * white space before the colon as the obsolete syntax of RFC 5322 4.5
 * allowed it, as mail_header_line_is() reads it), or continues one. */
static int send_header_line(const char *line, size_t len, int in_field)
{
	size_t i;

	if (len > 0 && (line[0] == ' ' || line[0] == '\t'))
		return in_field && len > 1 && line[1] != '\n' && line[1] != '\r';
	for (i = 0; i < len && line[i] > ' ' && line[i] < 0x7f && line[i] != ':'; i++)
		;
	if (i == 0)
		return 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < len && line[i] == ':';
}

/* Date: and Message-ID: for a message given without them, as sendmail
 * and Postfix's cleanup add them (RFC 5322 3.6: an origination date is
 * required, a Message-ID should be there): at the end of the header, with
 * the header's own line ends, an empty line after them when the message
 * had no header or no empty line before its body. The Message-ID is the
 * time and 64 random bits at the host name. Returns MSG, or a new copy
 * (MSG freed); *LEN is updated. */
static char *send_add_missing_fields(const struct config *cfg, char *msg, size_t *len)
{
	size_t at = 0, n = *len, add = 0;
	int in_field = 0, has_date = 0, has_id = 0;
	const char *eol = "\n";
	char fields[1024], date[64], stamp[32];
	uint64_t rnd = 0;
	time_t now = time(NULL);
	struct tm tm;
	char *out;

	while (at < n) {
		const char *nl = memchr(msg + at, '\n', n - at);
		size_t line = nl ? (size_t)(nl - (msg + at)) + 1 : n - at;
		if (!send_header_line(msg + at, line, in_field))
			break;
		if (at == 0 && line >= 2 && msg[line - 2] == '\r')
			eol = "\r\n";
		has_date |= mail_header_line_is(msg + at, line, "Date");
		has_id |= mail_header_line_is(msg + at, line, "Message-ID");
		in_field = 1;
		at += line;
	}
	if (has_date && has_id)
		return msg;
	if (at > 0 && msg[at - 1] != '\n') /* the last header line had no end */
		add += (size_t)snprintf(fields, sizeof(fields), "%s", eol);
	if (!has_date) {
		rfc5322_date(now, date, sizeof(date));
		add += (size_t)snprintf(fields + add, sizeof(fields) - add, "Date: %s%s", date, eol);
	}
	if (!has_id) {
		if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			rnd = (uint64_t)getpid() << 32 ^ (uint64_t)now;
		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
		add += (size_t)snprintf(fields + add, sizeof(fields) - add,
		                        "Message-ID: <%s.%016" PRIx64 "@%s>%s", stamp, rnd,
		                        cfg->hostname, eol);
	}
	if (at < n && msg[at] != '\n' && msg[at] != '\r') /* a body with no header before */
		add += (size_t)snprintf(fields + add, sizeof(fields) - add, "%s", eol);
	out = xmalloc(n + add);
	memcpy(out, msg, at);
	memcpy(out + at, fields, add);
	memcpy(out + at + add, msg + at, n - at);
	free(msg);
	*len = n + add;
	return out;
}

/* ---- the SMTP dialog ------------------------------------------------------- */

struct send_conn {
	int fd;
	struct smtp_reply_parser parser;
	char buf[4096];
	size_t len, off;
	struct smtp_reply reply;
};

/* Reads one reply; returns its code, or -1 when the connection failed. */
static int send_reply(struct send_conn *c)
{
	for (;;) {
		size_t consumed;
		const char *why;
		enum smtp_reply_status st;

		if (c->off == c->len) {
			ssize_t n = read(c->fd, c->buf, sizeof(c->buf));
			if (n <= 0)
				return -1;
			c->len = (size_t)n;
			c->off = 0;
		}
		st = smtp_reply_feed(&c->parser, c->buf + c->off, c->len - c->off, &consumed,
		                     &c->reply, &why);
		c->off += consumed;
		if (st == SMTP_REPLY_ERROR)
			return -1;
		if (st == SMTP_REPLY_OK)
			return (int)c->reply.code;
	}
}

/* Sends VERB ARG ">" (ARG NULL: VERB alone) and checks the reply's class;
 * prints the reply when it is not the expected one. */
static int send_command(struct send_conn *c, unsigned expect, const char *verb, const char *arg)
{
	char line[1200];
	int code;

	size_t n;

	snprintf(line, sizeof(line), "%s%s%s\r\n", verb, arg ? arg : "", arg ? ">" : "");
	n = strlen(line);
	if (write_all(c->fd, line, n) < 0 || (code = send_reply(c)) < 0) {
		fprintf(stderr, "sealmail send: the server closed the connection\n");
		return -1;
	}
	if ((unsigned)code / 100 != expect) {
		/* the command as one line, then the server's whole answer */
		fprintf(stderr, "sealmail send: %.*s: %d%s%s %s\n", (int)(n - 2), line, code,
		        c->reply.enhanced[0] ? " " : "", c->reply.enhanced, c->reply.text);
		return -1;
	}
	return 0;
}

/* The message, dot-stuffed with CRLF line ends, then the final dot. */
static int send_body(struct send_conn *c, const char *msg, size_t len)
{
	struct smtp_dotstuff d;
	char *out = xmalloc(2 * len + 16);
	size_t n;
	int r;

	smtp_dotstuff_init(&d);
	n = smtp_dotstuff_feed(&d, msg, len, out);
	n += smtp_dotstuff_finish(&d, out + n);
	r = write_all(c->fd, out, n);
	free(out);
	if (r < 0 || send_reply(c) < 0) {
		fprintf(stderr, "sealmail send: the server closed the connection\n");
		return -1;
	}
	if (c->reply.code / 100 != 2) {
		fprintf(stderr, "sealmail send: message refused: %u %s\n", c->reply.code,
		        c->reply.text);
		return -1;
	}
	return 0;
}

/* Connects to the server's local submission socket: [server] submit_socket
 * when set, else the two defaults in turn, data_dir/submit.sock (a server
 * not started as root) before /run/sealmail/submit.sock (one started as
 * root), so that this configuration's own server is reached first even when
 * another one, started as root, runs on the same machine. */
static int send_connect(const struct config *cfg)
{
	char paths[2][sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sockaddr_un sun;
	int fd, tries, n, err[2] = {0, 0};

	n = cfg->submit_socket[0] != '\0' ? 1 : 2;
	config_submit_socket(cfg, 0, paths[0], sizeof(paths[0]));
	config_submit_socket(cfg, 1, paths[1], sizeof(paths[1]));
	for (tries = 0; tries < n; tries++) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", paths[tries]);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return fd;
		err[tries] = errno;
		if (fd >= 0)
			close(fd);
	}
	if (n == 1)
		fprintf(stderr, "sealmail send: cannot reach the server at %s: %s\n", paths[0],
		        strerror(err[0]));
	else
		fprintf(stderr, "sealmail send: cannot reach the server at %s: %s, nor at %s: %s\n",
		        paths[0], strerror(err[0]), paths[1], strerror(err[1]));
	return -1;
}

/* ADDR as the envelope names it: a bare name (no '@') gets "@hostname",
 * the empty sender stays empty. Written to BUF (SIZE octets); returns BUF,
 * or NULL (said) when it does not fit: a cut address would reach someone
 * else. */
static const char *send_qualify(const struct config *cfg, const char *addr, char *buf, size_t size)
{
	int n;

	/* an address goes into one SMTP command line: a line end or another
	 * control octet in it would start a second command */
	for (const unsigned char *p = (const unsigned char *)addr; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			fprintf(stderr, "sealmail send: a control character in the address %.40s\n",
			        addr);
			return NULL;
		}
	if (addr[0] == '\0' || strchr(addr, '@') != NULL)
		n = snprintf(buf, size, "%s", addr);
	else
		n = snprintf(buf, size, "%s@%s", addr, cfg->hostname);
	if (n < 0 || (size_t)n >= size) {
		fprintf(stderr, "sealmail send: address longer than %zu octets: %.40s...\n",
		        size - 1, addr);
		return NULL;
	}
	return buf;
}

static int send_not_a_user(const char *addr, void *arg)
{
	(void)addr;
	(void)arg;
	return 0; /* the server said no target is one */
}

static int send_is_local(const char *addr, void *arg)
{
	const char *at = strrchr(addr, '@');

	return at != NULL && config_is_local_domain(arg, at + 1);
}

/* Says what to add for ADDR, a local address the server refused as
 * unknown (550 5.1.1): the user, or, when the aliases file (world-readable,
 * as /etc/aliases) names ADDR, the user its target must be. */
static void send_explain_unknown(const struct config *cfg, const char *addr)
{
	struct aliases al = {0};
	struct aliases_skipped skipped = {0};
	char **targets = NULL, *text = NULL;
	unsigned n = 0;
	size_t len;

	if (cfg->aliases[0] != '\0' && (text = read_file(cfg->aliases, 1 << 24, &len)) != NULL)
		aliases_parse(&al, text, NULL, NULL);
	if (aliases_expand_local(&al, addr, send_not_a_user, send_is_local, (void *)cfg, &targets,
	                         &n, &skipped) == 0 &&
	    skipped.n > 0)
		fprintf(stderr,
		        "sealmail send: %s is an alias (%s, line %u) of %s, which is not a user: "
		        "add it with `sealmail user add %s`, or point the alias elsewhere\n",
		        addr, cfg->aliases, skipped.line, skipped.target, skipped.target);
	else
		fprintf(stderr,
		        "sealmail send: no user or alias %s: add the user (`sealmail user add %s`) "
		        "or a line \"%s: ADDRESS\" to the aliases file (%s)\n",
		        addr, addr, addr,
		        cfg->aliases[0] ? cfg->aliases : "[server] aliases, unset");
	for (unsigned i = 0; i < n; i++)
		free(targets[i]);
	free(targets);
	aliases_free(&al);
	free(text);
}

/* RCPT TO for ADDR, qualified; a local address the server does not know
 * is explained, since system mail to "root" otherwise fails with the
 * server's words only. */
static int send_rcpt(struct send_conn *c, const struct config *cfg, const char *addr)
{
	char q[600];
	const char *at;

	if (send_qualify(cfg, addr, q, sizeof(q)) == NULL)
		return -1;
	if (send_command(c, 2, "RCPT TO:<", q) == 0)
		return 0;
	at = strrchr(q, '@');
	if (c->reply.code == 550 && strcmp(c->reply.enhanced, "5.1.1") == 0 && at != NULL &&
	    config_is_local_domain(cfg, at + 1))
		send_explain_unknown(cfg, q);
	return -1;
}

static int send_transaction(const struct config *cfg, const struct send_opts *o,
                            char *const *hdr_rcpts, size_t n_hdr,
                            const char *msg, size_t len)
{
	struct send_conn c;
	char sender[600];
	unsigned i;
	int r = -1;

	memset(&c, 0, sizeof(c));
	smtp_reply_parser_init(&c.parser);
	if (send_qualify(cfg, o->sender, sender, sizeof(sender)) == NULL)
		return -1;
	if ((c.fd = send_connect(cfg)) < 0)
		return -1;
	if (send_reply(&c) / 100 != 2 || send_command(&c, 2, "EHLO localhost", NULL) < 0 ||
	    send_command(&c, 2, "MAIL FROM:<", sender) < 0)
		goto out;
	for (i = 0; i < o->n_rcpts; i++)
		if (send_rcpt(&c, cfg, o->rcpts[i]) < 0)
			goto out;
	for (i = 0; i < n_hdr; i++)
		if (send_rcpt(&c, cfg, hdr_rcpts[i]) < 0)
			goto out;
	if (send_command(&c, 3, "DATA", NULL) < 0 || send_body(&c, msg, len) < 0)
		goto out;
	(void)send_command(&c, 2, "QUIT", NULL);
	r = 0;
out:
	close(c.fd);
	return r;
}

int cmd_send(int argc, char **argv)
{
	struct send_opts o = {.dot_ends = 1, .mode = 'm'};
	char sender[600], *msg;
	struct mailbox_list hdr = {0};
	struct config *cfg;
	size_t len;
	int r;

	o.config = config_default_path();
	if ((r = send_parse(argc, argv, &o)) != 0) {
		send_usage(r > 0 ? stdout : stderr, argv[0]);
		return r > 0 ? 0 : 2;
	}
	if (o.mode == 'i')
		return 0;
	if (o.mode == 'p') {
		char *mailq_argv[] = {"mailq", "-c", (char *)o.config, NULL};
		return cmd_mailq(3, mailq_argv);
	}
	if ((cfg = ctl_config_load(o.config)) == NULL)
		return 1;
	if (o.sender == NULL) {
		struct passwd *pw = getpwuid(getuid());
		snprintf(sender, sizeof(sender), "%s@%s", pw ? pw->pw_name : "nobody",
		         cfg->hostname);
		o.sender = sender;
	}
	msg = send_read_message(&o, cfg->limits.message_size, &len);
	if (msg == NULL) {
		fprintf(stderr, "sealmail send: message larger than %zu octets\n",
		        cfg->limits.message_size);
		return 1;
	}
	if (o.from_headers) {
		static const char *const fields[] = {"To", "Cc", "Bcc"};
		char why[256];
		if (mail_header_addresses(msg, len, fields, 3, MAILBOX_LIST_BARE, &hdr, why,
		                          sizeof(why)) < 0) {
			fprintf(stderr, "sealmail send: -t: cannot read the recipients: %s\n", why);
			return 1;
		}
		if (o.n_rcpts + hdr.n > SEND_MAX_RCPTS) {
			fprintf(stderr, "sealmail send: more than %d recipients\n", SEND_MAX_RCPTS);
			return 1;
		}
		len = send_strip_bcc(msg, len);
	}
	if (o.n_rcpts + hdr.n == 0) {
		fprintf(stderr, "sealmail send: no recipients\n");
		return 1;
	}
	msg = send_add_missing_fields(cfg, msg, &len);
	r = send_transaction(cfg, &o, hdr.addrs, hdr.n, msg, len);
	mailbox_list_free(&hdr);
	free(msg);
	free(cfg);
	return r < 0 ? 1 : 0;
}
