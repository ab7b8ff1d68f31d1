/*
 * fuzz_mail_header.c: libFuzzer harness for the header scanner and the
 * RFC 5322 address-list parser behind the submission From: check and
 * `sealmail send -t`. The first byte picks the split point and the list
 * flags; the rest is a message. The scanner must give the same fields fed
 * whole and cut in two, and octet by octet; every address the list parser
 * returns must be one line of printable text (tabs allowed inside quotes)
 * with an @ and within bounds;
 * a parse that fails must say why.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "mail/header_scan.h"
#include "mail/mail_header.h"
#include "mail/mailbox_list.h"

static const char *const names[] = {"From", "Sender", "Resent-From", "To"};

static void scan(const char *msg, size_t len, size_t step, size_t cut, unsigned flags,
                 struct header_scan *hs)
{
	size_t i;

	header_scan_init(hs, names, 4, flags);
	if (step == 0) {
		header_scan_feed(hs, msg, cut);
		header_scan_feed(hs, msg + cut, len - cut);
	} else {
		for (i = 0; i < len; i += step)
			header_scan_feed(hs, msg + i, len - i < step ? len - i : step);
	}
	header_scan_finish(hs);
}

static void same_scan(const struct header_scan *a, const struct header_scan *b)
{
	size_t i;

	CHECK((a->error == NULL) == (b->error == NULL));
	CHECK(a->error == NULL || strcmp(a->error, b->error) == 0);
	CHECK(a->error_which == b->error_which);
	CHECK(a->n_fields == b->n_fields);
	CHECK(a->length == b->length);
	for (i = 0; i < a->n_fields; i++) {
		CHECK(a->fields[i].which == b->fields[i].which);
		CHECK(a->fields[i].len == b->fields[i].len);
		CHECK(memcmp(a->fields[i].body, b->fields[i].body, a->fields[i].len) == 0);
	}
}

static void check_list(const char *v, size_t n, unsigned flags)
{
	struct mailbox_list l = {0};
	const char *why = NULL;
	size_t i, k;
	int r = mailbox_list_parse(v, n, flags, &l, &why);

	CHECK(r == 0 || (why != NULL && why[0] != '\0'));
	for (i = 0; i < l.n; i++) {
		size_t len = strlen(l.addrs[i]);
		CHECK(len > 0 && len < MAILBOX_ADDR_MAX);
		CHECK((flags & MAILBOX_LIST_BARE) || strchr(l.addrs[i], '@') != NULL);
		for (k = 0; k < len; k++)
			CHECK(((unsigned char)l.addrs[i][k] >= 0x20 || l.addrs[i][k] == '\t') &&
			      l.addrs[i][k] != 0x7f);
	}
	CHECK(r < 0 || !(flags & MAILBOX_LIST_SINGLE) || l.n == 1);
	mailbox_list_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct header_scan whole, cut, bytes;
	struct mailbox_list l = {0};
	const char *msg;
	unsigned flags, scan_flags;
	size_t len, i, at;
	char why[256];

	if (size < 1)
		return 0;
	flags = data[0] & (MAILBOX_LIST_GROUPS | MAILBOX_LIST_SINGLE);
	if (data[0] & 0x8)
		flags |= MAILBOX_LIST_BARE;
	scan_flags = (data[0] & 0x4) ? HEADER_SCAN_LAX_EOL : 0;
	msg = (const char *)data + 1;
	len = size - 1;
	at = len ? (size_t)(data[0] >> 3) * len / 31 : 0;
	if (at > len)
		at = len;
	scan(msg, len, len ? len : 1, 0, scan_flags, &whole);
	scan(msg, len, 0, at, scan_flags, &cut);
	scan(msg, len, 1, 0, scan_flags, &bytes);
	same_scan(&whole, &cut);
	same_scan(&whole, &bytes);
	CHECK(whole.length <= len);
	for (i = 0; i < whole.n_fields; i++) {
		CHECK(strlen(whole.fields[i].body) == whole.fields[i].len);
		check_list(whole.fields[i].body, whole.fields[i].len, flags);
	}
	header_scan_free(&whole);
	header_scan_free(&cut);
	header_scan_free(&bytes);
	/* the list parser on raw bytes too, NULs and line ends included */
	check_list(msg, len, flags);
	if (mail_header_addresses(msg, len, names, 4, 0, &l, why, sizeof(why)) < 0)
		CHECK(why[0] != '\0');
	mailbox_list_free(&l);
	return 0;
}
