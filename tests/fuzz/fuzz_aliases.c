/*
 * fuzz_aliases.c: libFuzzer harness for the aliases file
 * (lookup/aliases.c): aliases_parse() on the input as the file's text,
 * then aliases_expand(), aliases_expand_local() and aliases_owned_by() for
 * every alias and every target, with a fixed set of users and local
 * domains, and aliases_check_targets(), checking the bounds aliases.h
 * promises.
 */
#include <strings.h>

#include "fuzz_common.h"
#include "lookup/aliases.h"

static int is_user(const char *address, void *arg)
{
	return strncasecmp(address, "user", 4) == 0 || strcasecmp(address, "alice@local.test") == 0;
}

static int is_local(const char *address, void *arg)
{
	const char *at = strrchr(address, '@');

	return at != NULL && strcasecmp(at, "@local.test") == 0;
}

/* Expands ADDRESS with the local domains known: never more than without,
 * every target returned is a user, an alias's target or not local. */
static void check_expand_local(const struct aliases *a, const char *address)
{
	char **targets = (char **)1;
	unsigned n = 99;
	struct aliases_skipped sk;
	int r = aliases_expand_local(a, address, is_user, is_local, NULL, &targets, &n, &sk);

	CHECK(r >= -1 && r <= 1);
	CHECK(r == 0 || (targets == NULL && n == 0));
	CHECK(sk.n == 0 || (sk.target[0] != '\0' && sk.line >= 1));
	for (unsigned i = 0; r == 0 && i < n; i++) {
		CHECK(!is_local(targets[i], NULL) || is_user(targets[i], NULL));
		free(targets[i]);
	}
	if (r == 0)
		free(targets);
}

static void on_dead_target(const struct alias *al, const char *target, void *arg)
{
	CHECK(al->line >= 1 && is_local(target, NULL) && !is_user(target, NULL));
}

static void warn(unsigned line, const char *reason, void *arg)
{
	CHECK(line >= 1 && reason != NULL && reason[0] != '\0');
}

/* Expands ADDRESS and checks the result's shape. */
static void check_expand(const struct aliases *a, const char *address)
{
	char **targets = (char **)1, **owned = NULL;
	unsigned n = 99, n_owned;
	int r = aliases_expand(a, address, is_user, NULL, &targets, &n);

	CHECK(r >= -1 && r <= 1);
	if (r != 0) {
		CHECK(targets == NULL && n == 0);
	} else {
		CHECK(n <= ALIASES_MAX_TARGETS);
		for (unsigned i = 0; i < n; i++)
			for (unsigned j = 0; j < i; j++)
				CHECK(strcasecmp(targets[i], targets[j]) != 0);
	}
	for (unsigned i = 0; r == 0 && i < n; i++)
		free(targets[i]);
	if (r == 0)
		free(targets);
	check_expand_local(a, address);
	n_owned = aliases_owned_by(a, address, &owned);
	CHECK((n_owned == 0) == (owned == NULL));
	for (unsigned i = 1; i < n_owned; i++)
		CHECK(strcmp(owned[i - 1], owned[i]) < 0);
	for (unsigned i = 0; i < n_owned; i++)
		free(owned[i]);
	free(owned);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size);
	struct aliases a;
	unsigned checked = 0;

	CHECK(aliases_parse(&a, text, warn, NULL) == 0);
	for (size_t i = 0; i < a.n; i++) {
		CHECK(i == 0 || strcmp(a.entries[i - 1].address, a.entries[i].address) < 0);
		check_expand(&a, a.entries[i].address);
		for (unsigned j = 0; j < a.entries[i].n_targets && checked < 64; j++, checked++)
			check_expand(&a, a.entries[i].targets[j]);
	}
	check_expand(&a, "nobody@local.test");
	aliases_check_targets(&a, is_user, is_local, NULL, on_dead_target);
	aliases_free(&a);
	free(text);
	return 0;
}
