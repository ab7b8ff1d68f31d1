/*
 * fuzz_sts_txt.c: libFuzzer harness for sts_txt_parse() and
 * sts_txt_select(). The input is one TXT record; split at LF, it is also
 * an RRset of up to 8 records for the selection.
 */
#include "fuzz_common.h"

#include "policy/sts.h"

#define RRSET_MAX 8

/* What a record that parsed must be: visible ASCII and WSP only, "v=STSv1"
 * first, an id of 1-32 letters and digits that it holds as "id=ID". */
static void check_parsed(const char *txt, const char *id)
{
	char again[STS_TXT_ID_MAX + 1], rec[64];
	const char *error = NULL;
	size_t n = strlen(id);

	CHECK(strncmp(txt, "v=STSv1", 7) == 0);
	for (const char *p = txt; *p != '\0'; p++)
		CHECK((*p >= 0x20 && *p < 0x7f) || *p == '\t');
	CHECK(n >= 1 && n <= STS_TXT_ID_MAX);
	for (size_t i = 0; i < n; i++)
		CHECK((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9'));
	snprintf(rec, sizeof(rec), "id=%s", id);
	CHECK(strstr(txt, rec) != NULL);
	snprintf(rec, sizeof(rec), "v=STSv1; id=%s;", id);
	CHECK(sts_txt_parse(rec, again, sizeof(again), &error) == 0 && strcmp(again, id) == 0);
}

static void check_select(char *s)
{
	const char *txts[RRSET_MAX];
	size_t n = 0, count = 0;
	const char *error = NULL;
	int i;

	for (char *line = s; line != NULL && n < RRSET_MAX; n++) {
		char *lf = strchr(line, '\n');

		txts[n] = line;
		if (lf != NULL)
			*lf = '\0';
		line = lf != NULL ? lf + 1 : NULL;
	}
	for (size_t j = 0; j < n; j++)
		count += strncmp(txts[j], "v=STSv1", 7) == 0 && strchr("; \t", txts[j][7]) != NULL;
	i = sts_txt_select(txts, n, &error);
	if (i >= 0) {
		CHECK(count == 1 && (size_t)i < n && strncmp(txts[i], "v=STSv1", 7) == 0);
	} else {
		CHECK(count != 1 && error != NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size);
	char id[STS_TXT_ID_MAX + 1];
	const char *error = NULL;

	if (sts_txt_parse(s, id, sizeof(id), &error) == 0)
		check_parsed(s, id);
	else
		CHECK(error != NULL && error[0] != '\0' && id[0] == '\0');
	check_select(s);
	free(s);
	return 0;
}
