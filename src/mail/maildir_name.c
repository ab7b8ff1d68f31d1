/*
 * maildir_name.c: see maildir_name.h.
 */
#include "mail/maildir_name.h"

#include <string.h>

int maildir_name_ok(const char *s, size_t len)
{
	return len > 0 && len < 256 && s[0] != '.' && memchr(s, '/', len) == NULL &&
	       memchr(s, '\0', len) == NULL;
}

const char *maildir_address_problem(const char *address)
{
	const char *at = strrchr(address, '@');

	if (at == NULL)
		return "the address has no @";
	if (!maildir_name_ok(address, (size_t)(at - address)))
		return "its local part cannot name a mailbox directory (empty, '/', or a "
		       "leading '.')";
	if (!maildir_name_ok(at + 1, strlen(at + 1)))
		return "its domain cannot name a mailbox directory";
	return NULL;
}
