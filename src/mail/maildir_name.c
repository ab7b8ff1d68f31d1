/*
 * maildir_name.c: see maildir_name.h.
 */
#include "mail/maildir_name.h"

#include <stdio.h>
#include <string.h>

#include "lib/util.h"

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

int maildir_path_for(const char *address, char *buf, size_t size)
{
	const char *at = strrchr(address, '@');
	size_t llen;
	int n;

	if (at == NULL)
		return -1;
	llen = (size_t)(at - address);
	if (!maildir_name_ok(address, llen) || !maildir_name_ok(at + 1, strlen(at + 1)))
		return -1;
	n = snprintf(buf, size, "mail/%s/%.*s", at + 1, (int)llen, address);
	if (n < 0 || (size_t)n >= size)
		return -1;
	str_lower(buf);
	return 0;
}
