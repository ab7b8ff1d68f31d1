/*
 * pop3_retr.c: RETR and TOP (RFC 1939 5, 7): the store sends the message
 * file's descriptor (IMSG_STORE_FETCH with STORE_WANT_FILE, and
 * STORE_WANT_MARK_SEEN for RETR, as IMAP's BODY[] sets \Seen); the file
 * (LF line ends, as Maildir keeps it) is read in chunks of POP3_READ_CHUNK,
 * each line end sent as CRLF and a leading '.' doubled (mail/dotstuff.h),
 * and the next chunk read only when the output drained, so a large message
 * never sits in memory. TOP cuts after the header, the blank line and N
 * lines of the body. Called by pop3_command.c and pop3_session.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/io.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/util.h"
#include "pop3/pop3_session_private.h"
#include "proto/store.h"

void pop3_retr_start(struct pop3_session *s, unsigned index, long top_lines)
{
	struct proto_store_fetch *m = xcalloc(1, sizeof(*m));
	struct ipc_writer w;

	memset(&s->top, 0, sizeof(s->top));
	s->top.active = top_lines >= 0;
	s->top.at_line_start = 1;
	s->top.lines_left = top_lines >= 0 ? (unsigned)top_lines : 0;
	s->cur = index;
	s->got_item = 0;
	m->uid = 1;
	snprintf(m->set, sizeof(m->set), "%u", s->msgs[index].uid);
	m->want = STORE_WANT_FILE | STORE_WANT_SIZE | (s->top.active ? 0 : STORE_WANT_MARK_SEEN);
	m->max = 1;
	ipc_writer_init(&w);
	proto_store_fetch_encode(m, &w);
	free(m);
	s->wait = POP3_WAIT_MESSAGE;
	pop3_store_send(s, IMSG_STORE_FETCH, &w);
}

void pop3_retr_release(struct pop3_session *s)
{
	if (s->retr_fd >= 0)
		close(s->retr_fd);
	s->retr_fd = -1;
}

void pop3_retr_item(struct pop3_session *s, const void *data, size_t len, int fd)
{
	struct proto_store_item m;
	const char *why = "an unexpected message";

	if (proto_store_item_decode(&m, data, len, &why) < 0 || fd < 0 || s->got_item ||
	    m.uid != s->msgs[s->cur].uid) {
		if (fd >= 0)
			close(fd);
		else
			why = "a message without its file";
		proto_store_item_free(&m); /* zeroed when the decode failed */
		pop3_store_failed(s, why);
		return;
	}
	s->got_item = 1;
	s->retr_fd = fd;
	s->msgs[s->cur].size = m.size;
	proto_store_item_free(&m);
}

void pop3_retr_done(struct pop3_session *s, const void *data, size_t len)
{
	struct proto_store_fetch_done m;
	const char *why;

	if (proto_store_fetch_done_decode(&m, data, len, &why) < 0) {
		pop3_store_failed(s, why);
		return;
	}
	s->wait = POP3_WAIT_NONE;
	if (m.status != PROTO_STORE_OK || !s->got_item) {
		pop3_retr_release(s);
		if (m.status == PROTO_STORE_OK)
			pop3_reply(s, "-ERR Message %u is gone", s->cur + 1);
		else
			pop3_reply(s, "-ERR [SYS/TEMP] Cannot read message %u", s->cur + 1);
	} else {
		if (s->top.active)
			pop3_reply(s, "+OK Top of message follows");
		else
			pop3_reply(s, "+OK %llu octets", (unsigned long long)s->msgs[s->cur].size);
		smtp_dotstuff_init(&s->stuff);
		s->wait = POP3_WAIT_SEND;
		pop3_retr_continue(s);
	}
	proto_store_fetch_done_free(&m);
}

/* How many of the LEN octets of BUF belong to TOP's cut: the header, its
 * blank line, then T->lines_left lines; sets T->done where the cut ends. */
static size_t pop3_top_cut(struct pop3_top *t, const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (t->in_body) {
			if (c == '\n' && --t->lines_left == 0) {
				t->done = 1;
				return i + 1;
			}
			continue;
		}
		if (c == '\n' && t->at_line_start) {
			t->in_body = 1;
			if (t->lines_left == 0) {
				t->done = 1;
				return i + 1;
			}
		} else if (c == '\n') {
			t->at_line_start = 1;
		} else if (c != '\r') {
			t->at_line_start = 0;
		}
	}
	return len;
}

/* The message is out: the terminating line, and commands again. */
static void pop3_retr_finish(struct pop3_session *s)
{
	char end[8];

	io_write(s->io, end, smtp_dotstuff_finish(&s->stuff, end));
	pop3_retr_release(s);
	if (!s->top.active)
		s->retrieved++;
	s->wait = POP3_WAIT_NONE;
}

void pop3_retr_continue(struct pop3_session *s)
{
	char in[POP3_READ_CHUNK], out[2 * POP3_READ_CHUNK + 2];
	ssize_t n;
	size_t take;

	while (s->wait == POP3_WAIT_SEND && !io_output_full(s->io)) {
		n = read(s->retr_fd, in, sizeof(in));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* the +OK is out: the client can only be told by the end of
			 * the connection, without the terminating line */
			log_warn("event=pop3-read-error session=%s message=%u error=\"%s\"", s->id,
			         s->cur + 1, strerror(errno));
			pop3_retr_release(s);
			s->wait = POP3_WAIT_NONE;
			pop3_close_after_reply(s);
			return;
		}
		take = s->top.active ? pop3_top_cut(&s->top, in, (size_t)n) : (size_t)n;
		io_write(s->io, out, smtp_dotstuff_feed(&s->stuff, in, take, out));
		if (n == 0 || s->top.done)
			pop3_retr_finish(s);
	}
}
