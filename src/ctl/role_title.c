/*
 * role_title.c: see role_title.h.
 */
#include "ctl/role_title.h"

/* the NetBSD strnvis() order; only strvisx() is used */
#define LIBBSD_NETBSD_VIS
#include <bsd/vis.h>
#include <stdio.h>
#include <string.h>

#define ROLE_TITLE_PREFIX "sealmail: "
#define ROLE_TITLE_SLOT_DIGITS 3

/* the metrics keeper is the parent's child, the role is the keeper's */
static const char *const role_title_roles[] = {"queue", "lookup", "store", "metrics keeper",
                                               "metrics"};

/* Whether the N bytes S are "dispatcher " and a slot number: decimal,
 * no leading zero, at most ROLE_TITLE_SLOT_DIGITS digits. */
static int role_title_dispatcher(const char *s, size_t n)
{
	static const char word[] = "dispatcher ";
	size_t i, w = sizeof(word) - 1;

	if (n <= w || n > w + ROLE_TITLE_SLOT_DIGITS || memcmp(s, word, w) != 0)
		return 0;
	if (s[w] == '0' && n > w + 1)
		return 0;
	for (i = w; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* The N bytes S (the title without its prefix) are a role's own title. */
static int role_title_known(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(role_title_roles) / sizeof(role_title_roles[0]); i++)
		if (n == strlen(role_title_roles[i]) && memcmp(s, role_title_roles[i], n) == 0)
			return 1;
	return role_title_dispatcher(s, n);
}

int role_title_name(const char *cmdline, size_t len, char *out, size_t size)
{
	const char *nul = memchr(cmdline, '\0', len);
	size_t n = nul != NULL ? (size_t)(nul - cmdline) : len, p = sizeof(ROLE_TITLE_PREFIX) - 1;
	char shown[4 * ROLE_TITLE_SHOWN + 1];

	if (n > p && memcmp(cmdline, ROLE_TITLE_PREFIX, p) == 0) {
		if (n - p == 6 && memcmp(cmdline + p, "parent", 6) == 0) {
			snprintf(out, size, "(starting)");
			return 0;
		}
		if (role_title_known(cmdline + p, n - p)) {
			snprintf(out, size, "%.*s", (int)(n - p), cmdline + p);
			return 0;
		}
	}
	/* without VIS_SAFE: a backspace or a carriage return is encoded too */
	strvisx(shown, cmdline, n < ROLE_TITLE_SHOWN ? n : ROLE_TITLE_SHOWN,
	        VIS_OCTAL | VIS_TAB | VIS_NL | VIS_DQ);
	snprintf(out, size, "(unknown) \"%s\"%s", shown, n > ROLE_TITLE_SHOWN ? "..." : "");
	return -1;
}
