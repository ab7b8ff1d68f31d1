/*
 * fuzz_mailbox_index.c: libFuzzer harness for the folder index reader
 * (src/store/mailbox_index.c), no disk. The first byte picks what the rest
 * is: 0 an index file; 1 log records applied to a small valid image; 2 an
 * index (its length in the next two bytes) followed by log records applied
 * to it; 3 an index whose checksum the harness appends, and 4 log payloads
 * (each a length octet and that many octets) the harness frames with their
 * right lengths and checksums, so the checks behind the CRCs are reached
 * too. Whatever is accepted must be consistent: UIDs ascending below
 * uidnext, names valid, and the image written again must read back to the
 * very same bytes. Allocation stays bounded by the input (libFuzzer's
 * malloc limit catches a reader that believes a count).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "lib/crc32c.h"
#include "store/mailbox_index.h"

static void put_le32(struct mailbox_buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	mailbox_buf_put(b, x, 4);
}

/* A small valid image: three messages, one expunged UID. */
static void base_image(struct mailbox_image *img)
{
	static const char *const names[] = {"1.M1P1Q1.h,S=2,U=1,W=3:2,S",
	                                    "2.M1P1Q2.h,S=2,U=2,W=3:2,",
	                                    "4.M1P1Q4.h,S=2,U=4,W=3:2,FT"};
	static const uint32_t uids[] = {1, 2, 4};
	struct mailbox_msg m;
	unsigned i;

	memset(img, 0, sizeof(*img));
	img->uidvalidity = 1700000000;
	img->uidnext = 5;
	img->first_recent = 3;
	img->highestmodseq = 10;
	for (i = 0; i < 3; i++) {
		memset(&m, 0, sizeof(m));
		m.uid = uids[i];
		m.flags = i;
		m.modseq = 5 + i;
		m.size = 3;
		m.file_size = 2;
		m.keywords = i == 1 ? "$Junk" : "";
		m.file = names[i];
		mailbox_image_add(img, &m);
	}
	mailbox_image_remove(img, 2, 9);
	mailbox_image_compact(img);
}

/* The invariants of an image the reader accepted. */
static void check_image(const struct mailbox_image *img)
{
	uint32_t prev = 0;
	unsigned i;

	CHECK(img->count <= MAILBOX_MESSAGES_MAX);
	for (i = 0; i < img->count; i++) {
		const struct mailbox_msg *m = &img->msgs[i].msg;
		CHECK(!img->msgs[i].dead);
		CHECK(m->uid > prev && m->uid < img->uidnext);
		CHECK(mailbox_name_valid(m->file, strlen(m->file)));
		CHECK(strlen(m->keywords) < MAILBOX_KEYWORDS_MAX);
		CHECK((m->flags & ~MAILBOX_FLAGS_SETTABLE) == 0);
		CHECK(mailbox_image_find(img, m->uid) == (int)i);
		prev = m->uid;
	}
}

/* Writes IMG, reads it back, writes again: the same bytes. */
static void check_round_trip(const struct mailbox_image *img)
{
	struct mailbox_buf a = {NULL, 0, 0}, b = {NULL, 0, 0};
	struct mailbox_image again;
	const char *error;

	mailbox_index_encode(img, &a);
	memset(&again, 0, sizeof(again));
	CHECK(mailbox_index_parse(a.data, a.len, &again, &error) == 0);
	check_image(&again);
	mailbox_index_encode(&again, &b);
	CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	mailbox_image_free(&again);
	mailbox_buf_free(&a);
	mailbox_buf_free(&b);
}

static void fuzz_index(const uint8_t *data, size_t size)
{
	struct mailbox_image img;
	const char *error;

	memset(&img, 0, sizeof(img));
	if (mailbox_index_parse(data, size, &img, &error) == 0) {
		check_image(&img);
		check_round_trip(&img);
	}
	mailbox_image_free(&img);
}

static void fuzz_log(struct mailbox_image *img, const uint8_t *data, size_t size)
{
	size_t good = mailbox_log_apply(img, data, size);

	CHECK(good <= size);
	check_image(img);
	check_round_trip(img);
}

/* DATA with its CRC-32C appended, read as an index. */
static void fuzz_index_fixed(const uint8_t *data, size_t size)
{
	struct mailbox_buf b = {NULL, 0, 0};

	mailbox_buf_put(&b, data, size);
	put_le32(&b, crc32c(0, data, size));
	fuzz_index(b.data, b.len);
	mailbox_buf_free(&b);
}

/* DATA as (length octet, payload) pairs, framed as log records. */
static void fuzz_log_framed(const uint8_t *data, size_t size)
{
	struct mailbox_buf b = {NULL, 0, 0};
	struct mailbox_image img;
	size_t pos = 0;

	while (pos < size) {
		size_t n = data[pos++];
		if (n > size - pos)
			n = size - pos;
		put_le32(&b, (uint32_t)n);
		put_le32(&b, crc32c(0, data + pos, n));
		mailbox_buf_put(&b, data + pos, n);
		pos += n;
	}
	base_image(&img);
	fuzz_log(&img, b.data == NULL ? data : b.data, b.len);
	mailbox_image_free(&img);
	mailbox_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mailbox_image img;
	const char *error;
	size_t split;

	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		fuzz_index(data + 1, size - 1);
		break;
	case 1:
		base_image(&img);
		fuzz_log(&img, data + 1, size - 1);
		mailbox_image_free(&img);
		break;
	case 3:
		fuzz_index_fixed(data + 1, size - 1);
		break;
	case 4:
		fuzz_log_framed(data + 1, size - 1);
		break;
	default:
		if (size < 3)
			return 0;
		split = (size_t)(data[1] | data[2] << 8);
		if (split > size - 3)
			split = size - 3;
		memset(&img, 0, sizeof(img));
		if (mailbox_index_parse(data + 3, split, &img, &error) == 0)
			fuzz_log(&img, data + 3 + split, size - 3 - split);
		mailbox_image_free(&img);
		break;
	}
	return 0;
}
