/*
 * fuzz_imap_fetch.c: libFuzzer harness for the FETCH and SEARCH argument
 * parsers. The input is an IMAP command stream: each command imap_parse
 * gives back has its arguments (after the sequence set, or after UID's
 * FETCH / SEARCH word) parsed as FETCH items in every mode and as a SEARCH
 * program. Accepted FETCH requests are rendered against a small multipart
 * message, accepted programs answered with a made-up result, so the
 * renderers see every item the parser lets through.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "imap/imap_fetch.h"
#include "imap/imap_parse.h"
#include "imap/imap_search.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static const char message[] = "From: a@example.org\nSubject: s\n"
			      "Content-Type: multipart/mixed; boundary=b\n\n"
			      "--b\nContent-Type: text/plain\n\nHello\n"
			      "--b\nContent-Type: message/rfc822\n\nSubject: inner\n\nbody\n"
			      "--b\nContent-Transfer-Encoding: base64\n\nAAEC\n"
			      "--b\nContent-Transfer-Encoding: quoted-printable\n\na=3Db=\nc\n"
			      "--b--\n";

/* The message file, made once. */
static int message_fd(void)
{
	static int fd = -1;

	if (fd < 0) {
		fd = memfd_create("fuzz_imap_fetch", 0);
		CHECK(fd >= 0);
		CHECK(write(fd, message, sizeof(message) - 1) == (ssize_t)(sizeof(message) - 1));
	}
	return fd;
}

/* FETCH in each mode; what parses is rendered. */
static void try_fetch(const struct imap_arg *args, unsigned n)
{
	struct proto_store_item item = {.seq = 2, .uid = 9, .flags = STORE_FLAG_SEEN, .modseq = 5,
	                                .size = sizeof(message), .envelope = "", .bodystructure = "",
	                                .body = "", .headers = "Subject: x\r\n\r\n"};

	for (unsigned mode = 0; mode < 4; mode++) {
		struct imap_fetch_request req;
		struct imap_out out = {0};
		const char *error = NULL;

		if (imap_fetch_parse(args, n, mode, &req, &error) == 0) {
			CHECK(req.n_items > 0 && req.n_items <= IMAP_FETCH_ITEMS_MAX);
			item.headers = mode & 1 ? "Subject: x\r\n\r\n" : "";
			if (imap_fetch_render(&req, &item, message_fd(), mode, &out) == 0)
				CHECK(out.len >= 2 && memcmp(out.buf + out.len - 2, "\r\n", 2) == 0);
			else
				CHECK(out.len == 0);
			free(out.buf);
		} else {
			CHECK(error != NULL);
		}
		imap_fetch_request_free(&req);
	}
}

/* SEARCH; what parses is answered with three matches. */
static void try_search(const struct imap_arg *args, unsigned n)
{
	uint32_t matches[] = {1, 2, 4};
	struct proto_store_search_result r = {.matches = matches, .n_matches = 3};
	struct imap_search_options opts;
	struct proto_store_search prog;
	struct imap_out out = {0};
	const char *error = NULL;
	char *saved;
	int rc;

	rc = imap_search_parse(args, n, &prog, &opts, "1:3", &error);
	if (rc == 0) {
		CHECK(prog.n_nodes > 0 && prog.n_nodes <= PROTO_STORE_SEARCH_NODES);
		imap_search_render(&opts, &r, "A1", 1, &out);
		saved = imap_search_save_set(&opts, &r);
		free(saved);
		free(out.buf);
	} else {
		CHECK(error != NULL && prog.n_nodes == 0);
		CHECK(rc == IMAP_SEARCH_ERROR || rc == IMAP_SEARCH_BADCHARSET);
	}
	imap_search_program_free(&prog);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_limits limits = {64 * 1024, 4096};
	struct imap_parser *p = imap_parser_new(&limits);
	const char *in = (const char *)data;

	while (size > 0) {
		struct imap_command *cmd = NULL;
		const char *error = NULL;
		size_t used = 0;
		enum imap_parse_result r = imap_parser_feed(p, in, size, &used, &cmd, &error);

		CHECK(used <= size);
		in += used;
		size -= used;
		if (r == IMAP_PARSE_FATAL || (r == IMAP_PARSE_MORE && used == 0))
			break;
		if (r != IMAP_PARSE_COMMAND)
			continue;
		unsigned skip = strcmp(cmd->name, "UID") == 0 ? 2 : 1;
		if (cmd->n_args >= skip) {
			try_fetch(cmd->args + skip, cmd->n_args - skip);
			try_search(cmd->args + skip - 1, cmd->n_args - skip + 1);
		}
	}
	imap_parser_free(&p);
	return 0;
}
