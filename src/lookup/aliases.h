/*
 * aliases.h: the aliases file ([server] aliases). One alias per line:
 *
 *     info@local.test: alice@local.test, bob@local.test
 *     sales@local.test: carol@local.test dave@partner.example
 *     @other.test: postmaster@local.test
 *
 * Targets are separated by commas and/or spaces and must be addresses
 * local@domain. "@domain" is a catch-all: it takes every address of that
 * domain that is neither a user nor an alias of its own. '#' starts a
 * comment line; blank lines are ignored; a line starting with white space
 * (a continuation line elsewhere) is an error. Addresses compare
 * case-insensitively. Like the users file, the parent reads the file and
 * the lookup role parses it here.
 */
#ifndef SEALMAIL_ALIASES_H
#define SEALMAIL_ALIASES_H

#include <stddef.h>

#define ALIASES_MAX_DEPTH 8      /* aliases of aliases of ..., the first included */
#define ALIASES_MAX_TARGETS 1000 /* final recipients of one address */
#define ALIASES_MAX_STEPS 10000  /* targets looked at while expanding one address */

struct alias {
	char *address;  /* lower-cased; "@domain" for a catch-all */
	char **targets; /* as written */
	unsigned n_targets;
	unsigned line;
};

struct aliases {
	struct alias *entries; /* sorted by address */
	size_t n;
};

/* Parses TEXT into *a (which need not be initialised). Bad lines, and
 * later lines of an alias already given, are skipped and reported through
 * WARN(line_number, reason, ARG) when WARN is not NULL. Returns 0. */
int aliases_parse(struct aliases *a, const char *text,
                  void (*warn)(unsigned line, const char *reason, void *arg), void *arg);

/* Where mail for ADDRESS (any case) goes. The exact alias of ADDRESS is
 * used, else, when IS_USER(ADDRESS, ARG) says it is not a user, the
 * catch-all of its domain. Each target is expanded the same way in turn
 * (up to ALIASES_MAX_DEPTH levels); a target that is a user without an
 * alias of its own, or that is remote, stays as it is, and so does a user
 * met again inside its own expansion ("alice: alice, bob" keeps a copy).
 * Returns 0 with the final recipients, without duplicates, in *targets_r
 * (malloc'ed array of *n_r malloc'ed strings); 1 when ADDRESS is not an
 * alias; -1 on a loop, too many levels, or more than ALIASES_MAX_TARGETS
 * recipients. *targets_r is NULL and *n_r 0 unless 0 is returned. */
int aliases_expand(const struct aliases *a, const char *address,
                   int (*is_user)(const char *addr, void *arg), void *arg, char ***targets_r,
                   unsigned *n_r);

/* The first target aliases_expand_local() left out, and how many. */
struct aliases_skipped {
	unsigned n;
	char target[512]; /* as written */
	char alias[512];  /* the alias that names it ("@domain" for a catch-all) */
	unsigned line;    /* of that alias */
};

/* Like aliases_expand(), but a target that IS_LOCAL(target, ARG) says is in
 * a local domain, and that is neither a user nor an alias, cannot reach a
 * mailbox: it is left out (noted in *skipped_r when not NULL) instead of
 * being returned, or, when a catch-all's target would be caught by the
 * same catch-all again, instead of failing as a loop. Returns 0 with no
 * recipient when every target was left out. */
int aliases_expand_local(const struct aliases *a, const char *address,
                         int (*is_user)(const char *addr, void *arg),
                         int (*is_local)(const char *addr, void *arg), void *arg, char ***targets_r,
                         unsigned *n_r, struct aliases_skipped *skipped_r);

/* Calls WARN(alias, target, ARG) for each target, as written, that
 * aliases_expand_local() would leave out (see there), alias by alias
 * (sorted by address), each alias's targets in their order. */
void aliases_check_targets(const struct aliases *a, int (*is_user)(const char *addr, void *arg),
                           int (*is_local)(const char *addr, void *arg), void *arg,
                           void (*warn)(const struct alias *al, const char *target, void *arg));

/* The exact aliases (not catch-alls) whose expansion reaches USER, other
 * than USER itself: the addresses USER may send as besides its own.
 * Expanding, only USER is taken for a user, catch-alls are not followed,
 * and an address met again inside its own expansion is kept rather than
 * taken for a loop (another user keeping a copy looks the same).
 * Returns how many, lower-cased and sorted, in *addresses_r (malloc'ed like
 * aliases_expand's; NULL when none). */
unsigned aliases_owned_by(const struct aliases *a, const char *user, char ***addresses_r);

void aliases_free(struct aliases *a);

#endif
