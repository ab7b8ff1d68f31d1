/*
 * fuzz_metrics_render.c: libFuzzer harness for the metrics page
 * (metrics_render, metrics/metrics_render.c) from shared blocks holding
 * any bytes, as a compromised role could write them: the input fills the
 * header, then a block, then (repeated) a second one. Every line of the
 * page is printable ASCII, a comment or NAME{LABELS} VALUE with labels
 * quoted and escaped as the text format asks, and the page ends with a
 * newline.
 */
#include "fuzz_common.h"
#include "metrics/metrics_render.h"

/* One sample line: sealmail_NAME, optional {k="v",...}, a space, digits
 * (a '.' in sums of seconds). */
static void check_sample(const char *s, const char *end)
{
	CHECK(strncmp(s, "sealmail_", 9) == 0);
	while (s < end && (*s == '_' || (*s >= 'a' && *s <= 'z')))
		s++;
	if (s < end && *s == '{') {
		do {
			s++;
			while (s < end && *s >= 'a' && *s <= 'z')
				s++;
			CHECK(s + 1 < end && s[0] == '=' && s[1] == '"');
			for (s += 2; s < end && *s != '"'; s++)
				if (*s == '\\') {
					CHECK(s + 1 < end &&
					      (s[1] == '\\' || s[1] == '"' || s[1] == 'n'));
					s++;
				}
			CHECK(s < end);
			s++;
		} while (s < end && *s == ',');
		CHECK(s < end && *s == '}');
		s++;
	}
	CHECK(s < end && *s == ' ');
	for (s++; s < end; s++)
		CHECK((*s >= '0' && *s <= '9') || *s == '.');
}

static void fill(void *dst, size_t n, const uint8_t *data, size_t size)
{
	memset(dst, 0, n);
	for (size_t i = 0; size > 0 && i < n; i++)
		((uint8_t *)dst)[i] = data[i % size];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct metrics_header *h = malloc(sizeof(*h));
	struct metrics_block *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	const struct metrics_block *blocks[] = {a, b};
	size_t hn = size < sizeof(*h) ? size : sizeof(*h), len;
	struct metrics_view v = {.header = h,
	                         .blocks = blocks,
	                         .n_blocks = 2,
	                         .queue = b,
	                         .now = 1700000000,
	                         .version = "fuzz"};
	char *page;

	CHECK(h != NULL && a != NULL && b != NULL);
	memset(h, 0, sizeof(*h));
	memcpy(h, data, hn);
	memset(a, 0, sizeof(*a));
	if (size > hn)
		memcpy(a, data + hn, size - hn < sizeof(*a) ? size - hn : sizeof(*a));
	fill(b, sizeof(*b), data, size);
	page = metrics_render(&v, &len);
	CHECK(page != NULL && len > 0 && page[len - 1] == '\n' && strlen(page) == len);
	for (const char *line = page, *nl; line < page + len; line = nl + 1) {
		nl = strchr(line, '\n');
		CHECK(nl != NULL);
		for (const char *c = line; c < nl; c++)
			CHECK(*c >= 0x20 && *c < 0x7f);
		if (line[0] == '#')
			CHECK(strncmp(line, "# HELP sealmail_", 16) == 0 ||
			      strncmp(line, "# TYPE sealmail_", 16) == 0);
		else
			check_sample(line, nl);
	}
	free(page);
	free(h);
	free(a);
	free(b);
	return 0;
}
