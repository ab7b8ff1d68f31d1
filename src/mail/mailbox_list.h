/*
 * mailbox_list.h: the address lists of RFC 5322 3.4 (From:, Sender:, To:,
 * Cc:, ...) parsed in full: display names made of atoms, quoted strings and
 * encoded words, comments (nested), quoted local parts, domain literals,
 * and, where asked for, groups. Pure and unbounded in the number of
 * addresses; a list that does not parse in full is an error, never a
 * shorter list, so a checker built on it cannot be fooled by what it
 * skipped.
 */
#ifndef SEALMAIL_MAIL_MAILBOX_LIST_H
#define SEALMAIL_MAIL_MAILBOX_LIST_H

#include <stddef.h>

/* RFC 5321 4.5.3.1: 64 octets of local part, @, 255 of domain. A quoted
 * local part keeps its quotes. */
#define MAILBOX_ADDR_MAX 322

/* Flags for mailbox_list_parse(). */
#define MAILBOX_LIST_GROUPS 0x1 /* accept "name: a@b, c@d;" (To:, Cc:) */
#define MAILBOX_LIST_SINGLE 0x2 /* exactly one mailbox (Sender:) */
/* a local part alone is an address ("To: root", as sendmail -t reads it);
 * it stays bare */
#define MAILBOX_LIST_BARE 0x4

struct mailbox_list {
	char **addrs; /* addr-specs, "local@domain", in order */
	size_t n;
	size_t cap;
};

/* Parses the unfolded field body V of N octets into *OUT (which the caller
 * has zeroed or freed). Every address is appended in canonical form: a
 * quoted local part that is a valid dot-atom loses its quotes, quoted-pairs
 * are resolved, comments and display names are dropped. Returns 0, or -1
 * with *ERROR_R naming the problem ("group syntax", "unclosed comment",
 * "text after the address", ...); *OUT then holds what was read so far and
 * must still be freed. An empty list is an error unless GROUPS allows an
 * empty group ("undisclosed-recipients:;"). */
int mailbox_list_parse(const char *v, size_t n, unsigned flags, struct mailbox_list *out,
                       const char **error_r);

/* Frees the addresses and zeroes *L. */
void mailbox_list_free(struct mailbox_list *l);

#endif
