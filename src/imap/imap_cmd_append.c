/*
 * imap_cmd_append.c: APPEND (RFC 9051 6.3.12) with flags, a date-time and
 * the message as a literal, bounded by APPENDLIMIT (RFC 7889: the parser
 * refuses larger literals after login; NO [TOOBIG] here as well). The
 * message is written to an anonymous memory file whose fd goes to the
 * store (IMSG_STORE_APPEND), so the store reads it without a copy through
 * IPC; the answer carries APPENDUID (RFC 4315).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "conf/config.h"
#include "imap/imap_parse.h"
#include "imap/imap_session_private.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/util.h"
#include "proto/proto.h"
#include "proto/store.h"

/* An IMAP date-time (RFC 9051 9): "dd-Mon-yyyy hh:mm:ss +zzzz", the day
 * perhaps space-padded. 0 with *T_R (Unix time) and *TZ_R (minutes), or
 * -1. */
static int imap_date_time_parse(const char *text, int64_t *t_r, int32_t *tz_r)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char mon[4], sign;
	int day, year, hh, mm, ss, zone, used = 0;
	const char *m;
	struct tm tm;

	if (sscanf(text, "%2d-%3c-%4d %2d:%2d:%2d %c%4d%n", &day, mon, &year, &hh, &mm, &ss, &sign,
	           &zone, &used) != 8 ||
	    text[used] != '\0')
		return -1;
	mon[3] = '\0';
	m = strcasestr(months, mon);
	/* %d takes a sign: "-1:-5:-9" or "+-123" are no date-time; every field
	 * has its fixed width (26 octets in all) */
	if (m == NULL || (m - months) % 3 != 0 || day < 1 || day > 31 || year < 1900 || hh < 0 ||
	    hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60 || (sign != '+' && sign != '-') ||
	    zone < 0 || zone % 100 > 59 || zone > 2359 || used != 26)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = day;
	tm.tm_mon = (int)(m - months) / 3;
	tm.tm_year = year - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*tz_r = (int32_t)((zone / 100) * 60 + zone % 100) * (sign == '-' ? -1 : 1);
	*t_r = (int64_t)timegm(&tm) - (int64_t)*tz_r * 60;
	return 0;
}

/* The message in an anonymous file, at offset 0; -1 on failure. */
static int imap_append_file(const char *data, size_t len)
{
	int fd = memfd_create("imap-append", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (write_all(fd, data, len) < 0 || lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void imap_append_reply(struct imap_session *s, uint32_t type, const void *data, size_t len,
                              int fd)
{
	struct imap_reply r = imap_reply_from_store_result(type, data, len, fd, "APPEND completed");

	imap_command_done(s, &r);
}

/* The optional flags and date-time between the mailbox and the message. */
static int imap_append_options(const struct imap_arg *args, unsigned n,
                               struct proto_store_append *m, const char **error_r)
{
	unsigned i = 0;

	if (i < n && args[i].type == IMAP_ARG_LIST) {
		if (imap_flags_parse(&args[i], &m->flags, m->keywords, sizeof(m->keywords),
		                     error_r) < 0)
			return -1;
		i++;
	}
	if (i < n && args[i].type == IMAP_ARG_STRING) {
		if (imap_date_time_parse(args[i].str, &m->internaldate, &m->tz_minutes) < 0) {
			*error_r = "Invalid date-time";
			return -1;
		}
		i++;
	}
	if (i != n) {
		*error_r = "Expected APPEND mailbox [(flags)] [date-time] literal";
		return -1;
	}
	return 0;
}

struct imap_reply imap_cmd_append(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	const struct imap_arg *msg = n > 0 ? &args[n - 1] : NULL;
	struct proto_store_append m;
	struct ipc_writer w;
	const char *why = "Expected APPEND mailbox [(flags)] [date-time] literal";
	int fd;

	memset(&m, 0, sizeof(m));
	if (n < 2 || msg->type != IMAP_ARG_LITERAL ||
	    imap_mailbox_arg(s, &args[0], m.mailbox, sizeof(m.mailbox), &why) < 0 ||
	    imap_append_options(args + 1, n - 2, &m, &why) < 0)
		return imap_reply_make(IMAP_BAD, "", "%s", why);
	if (msg->len > s->env->cfg->imap.append_limit)
		return imap_reply_make(IMAP_NO, "TOOBIG", "Message larger than APPENDLIMIT=%zu",
		                       (size_t)s->env->cfg->imap.append_limit);
	if (msg->len == 0)
		return imap_reply_make(IMAP_NO, "CANNOT", "Empty message");
	fd = imap_append_file(msg->str, msg->len);
	if (fd < 0) {
		log_warn("event=imap-append-error session=%s reason=memfd", s->id);
		return imap_reply_make(IMAP_NO, "SERVERBUG", "Cannot hold the message");
	}
	m.size = msg->len;
	ipc_writer_init(&w);
	proto_store_append_encode(&m, &w);
	imap_store_request(s, IMSG_STORE_APPEND, &w, fd, imap_append_reply);
	return imap_pending();
}
