/*
 * fuzz_users.c: libFuzzer harness for the users file, as both of its
 * readers see it: the lookup role's parser (users_db_parse, lookup/users.c)
 * and the "sealmail user" editor's line reader and edits
 * (auth/userfile.c, included here for its static functions). The input is
 * the file's text.
 */
#include "fuzz_common.h"

#include "../../src/auth/userfile.c"
#include "lookup/users.h"

static void warn(unsigned line, const char *reason, void *arg)
{
	unsigned *lines = arg;

	CHECK(line >= 1 && line <= *lines && reason != NULL && reason[0] != '\0');
}

/* Every address the parser kept is found again, in any case, with a hash. */
static void check_db(const char *text, size_t size)
{
	struct users_db db;
	unsigned lines = 1;

	for (size_t i = 0; i < size; i++)
		lines += text[i] == '\n';
	CHECK(users_db_parse(&db, text, warn, &lines) == 0);
	for (size_t i = 0; i < db.n; i++) {
		const char *a = db.addresses[i];
		char upper[600];
		CHECK(i == 0 || strcmp(db.addresses[i - 1], a) < 0);
		CHECK(users_db_contains(&db, a) && users_db_hash(&db, a) != NULL);
		if (strlcpy_checked(upper, a, sizeof(upper)) == 0) {
			for (char *p = upper; *p; p++)
				if (*p >= 'a' && *p <= 'z')
					*p = (char)(*p - 'a' + 'A');
			CHECK(users_db_contains(&db, upper));
		}
	}
	users_db_free(&db);
}

/* Applies an edit of ADDRESS to TEXT; returns the new text (malloc'ed). */
static char *edit(enum userfile_op op, const char *address, const char *data, size_t len,
                  unsigned *matches_r, size_t *len_r)
{
	struct userfile_text text = {.data = (char *)data, .len = len, .exists = 1};
	struct userfile_edit e;
	struct sbuf out = {0};

	CHECK(edit_init(&e, op, address, op == USERFILE_DELETE ? NULL : "$6$x$y", NULL) == 0);
	apply_edit(&e, &text, &out);
	*matches_r = e.matches;
	*len_r = out.len;
	return out.p != NULL ? out.p : fuzz_strndup((const uint8_t *)"", 0);
}

/* Lines of ADDRESS in TEXT, as the editor reads them. */
static unsigned count_lines(const char *address, const char *data, size_t len)
{
	const char *p = data;
	struct user_line l;
	unsigned n = 0;

	while (next_line(&p, data + len, &l)) {
		CHECK(l.start >= data && l.start + l.len <= data + len && l.content <= l.len);
		CHECK(l.address <= l.content);
		if (l.address > 0) {
			size_t hash_len;
			const char *hash = line_hash(&l, &hash_len);
			CHECK(hash >= l.start && hash + hash_len <= l.start + l.content);
		}
		n += line_is_for(&l, address);
	}
	return n;
}

/* The editor's edits do what they say, to any text. */
static void check_edits(const char *data, size_t size)
{
	static const char *const who[] = {"new@fuzz.test", "alice@local.test"};
	unsigned matches;
	size_t len;
	char *out;

	for (size_t i = 0; i < 2; i++) {
		unsigned before = count_lines(who[i], data, size);
		out = edit(USERFILE_ADD, who[i], data, size, &matches, &len);
		CHECK(matches == before);
		CHECK(count_lines(who[i], out, len) == (before ? before : 1));
		free(out);
		out = edit(USERFILE_DELETE, who[i], data, size, &matches, &len);
		CHECK(count_lines(who[i], out, len) == 0 && len <= size);
		free(out);
		out = edit(USERFILE_SET_HASH, who[i], data, size, &matches, &len);
		CHECK(count_lines(who[i], out, len) == before);
		free(out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size);

	check_db(text, strlen(text));
	check_edits(text, size);
	free(text);
	return 0;
}
