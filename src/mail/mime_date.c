/*
 * mime_date.c: RFC 5322 3.3 date-time, read leniently as real mail needs:
 * comments and any amount of white space, no day of the week, full month
 * names, "-" between day, month and year, two- and three-digit years (4.3:
 * 00-49 are 20xx, 50-999 are 1900 + n), no seconds, the obsolete zones (UT,
 * GMT, Z, EST ... PDT; military letters and unknown names are -0000, as
 * 4.3 says) or no zone at all. For SENTON / SENTBEFORE / SENTSINCE and
 * sorting. Called by the store role.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mail/mime_private.h"

#define DATE_WORD_MAX 16 /* a month or zone name */

struct date_lexer {
	const char *s;
};

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec"};

static const struct {
	const char *name;
	int minutes;
} zones[] = {
    {"UT", 0},        {"UTC", 0},       {"GMT", 0},       {"Z", 0},
    {"EST", -5 * 60}, {"EDT", -4 * 60}, {"CST", -6 * 60}, {"CDT", -5 * 60},
    {"MST", -7 * 60}, {"MDT", -6 * 60}, {"PST", -8 * 60}, {"PDT", -7 * 60},
};

/* Skips blanks, comments and, with SEPS, the characters of SEPS. */
static void skip(struct date_lexer *lx, const char *seps)
{
	unsigned depth = 0;

	for (; *lx->s != '\0'; lx->s++) {
		char c = *lx->s;
		if (depth > 0 && c == '\\' && lx->s[1] != '\0')
			lx->s++;
		else if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (depth == 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n' &&
		         (seps == NULL || strchr(seps, c) == NULL))
			return;
	}
}

/* Up to MAX_DIGITS digits as a number; -1 when there is none. *N_R gets
 * how many digits were read. */
static long read_number(struct date_lexer *lx, int max_digits, int *n_r)
{
	long v = 0;
	int n = 0;

	while (n < max_digits && isdigit((unsigned char)*lx->s)) {
		v = v * 10 + (*lx->s++ - '0');
		n++;
	}
	*n_r = n;
	return n > 0 ? v : -1;
}

/* A run of letters into WORD (truncated to DATE_WORD_MAX - 1); its length. */
static size_t read_word(struct date_lexer *lx, char *word)
{
	size_t n = 0;

	while (isalpha((unsigned char)*lx->s)) {
		if (n < DATE_WORD_MAX - 1)
			word[n++] = *lx->s;
		lx->s++;
	}
	word[n] = '\0';
	return n;
}

/* The month (1-12) named by WORD (its first three letters), or -1. */
static int month_of(const char *word)
{
	int i;

	for (i = 0; i < 12; i++)
		if (strlen(word) >= 3 && strncasecmp(word, months[i], 3) == 0)
			return i + 1;
	return -1;
}

/* The zone at the lexer's position, in minutes east of UTC. */
static int read_zone(struct date_lexer *lx, int *tz_r)
{
	char word[DATE_WORD_MAX];
	unsigned i;
	int n;

	skip(lx, NULL);
	*tz_r = 0;
	if (*lx->s == '+' || *lx->s == '-') {
		int sign = *lx->s++ == '-' ? -1 : 1;
		long hhmm = read_number(lx, 4, &n);
		if (n != 4 || hhmm % 100 >= 60 || hhmm / 100 >= 24)
			return -1; /* not a zone any place has */
		*tz_r = sign * (int)(hhmm / 100 * 60 + hhmm % 100);
		return 0;
	}
	if (read_word(lx, word) == 0)
		return 0; /* no zone */
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		if (strcasecmp(word, zones[i].name) == 0)
			*tz_r = zones[i].minutes;
	return 0;
}

/* [day-of-week ","] day month year, into *D, *M, *Y. */
static int read_day(struct date_lexer *lx, long *d, int *m, long *y)
{
	char word[DATE_WORD_MAX];
	int n;

	skip(lx, NULL);
	if (isalpha((unsigned char)*lx->s)) {
		read_word(lx, word);
		skip(lx, ",");
	}
	*d = read_number(lx, 2, &n);
	skip(lx, "-");
	if (read_word(lx, word) == 0 || (*m = month_of(word)) < 0)
		return -1;
	skip(lx, "-");
	*y = read_number(lx, 4, &n);
	if (*y < 0 || *d < 1 || *d > 31)
		return -1;
	if (n == 2)
		*y += *y < 50 ? 2000 : 1900;
	else if (n == 3)
		*y += 1900;
	return 0;
}

int mime_date_parse(const char *text, int64_t *t_r, int *tz_minutes_r)
{
	struct date_lexer lx = {text};
	long d, y, hh, mm, ss = 0;
	int m, n, tz;
	struct tm tm;

	if (read_day(&lx, &d, &m, &y) < 0)
		return -1;
	skip(&lx, NULL);
	hh = read_number(&lx, 2, &n);
	skip(&lx, NULL);
	if (hh < 0 || *lx.s != ':')
		return -1;
	lx.s++;
	skip(&lx, NULL);
	mm = read_number(&lx, 2, &n);
	skip(&lx, NULL);
	if (*lx.s == ':') {
		lx.s++;
		skip(&lx, NULL);
		ss = read_number(&lx, 2, &n);
	}
	if (hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60 || read_zone(&lx, &tz) < 0)
		return -1;
	/* timegm() reads the fields as UTC in the proleptic Gregorian calendar
	 * (a day past the month's end rolls over); with a 64-bit time_t a
	 * four-digit year cannot overflow it. */
	tm = (struct tm){.tm_year = (int)y - 1900,
	                 .tm_mon = m - 1,
	                 .tm_mday = (int)d,
	                 .tm_hour = (int)hh,
	                 .tm_min = (int)mm,
	                 .tm_sec = (int)ss};
	*t_r = (int64_t)timegm(&tm) - (int64_t)tz * 60;
	*tz_minutes_r = tz;
	return 0;
}
