/*
 * fuzz_ipc_input.h: how the role harnesses (fuzz_ipc_dispatcher.c,
 * fuzz_ipc_queue.c, fuzz_ipc_lookup.c) cut their input into messages, and
 * the scratch directory they share.
 *
 * The input is a sequence of records, all integers little-endian:
 *
 *   u8  op     bits 0-1: where the message goes (each harness says: which
 *                        peer's handler, or a client socket);
 *              bit 2:    a file descriptor rides along (/dev/null, or the
 *                        harness's own kind);
 *              bits 3-4: how ID is meant: 0 as it is; 1 a reference, the
 *                        (ID mod n)-th of what the harness remembers (live
 *                        session handles, task ids, ...); 2 as 1, and the
 *                        payload is prefixed with that thing's name as an
 *                        IPC string (a queue id, say); 3 as 0;
 *              bits 5-7: event loop turns to run afterwards.
 *   u32 type   any value, unknown ones included
 *   u64 id
 *   u16 len    then LEN payload octets (fewer if the input ends)
 *
 * A record cut short by the end of the input is still delivered, with
 * what is there; missing header fields read as zero.
 */
#ifndef SEALMAIL_FUZZ_IPC_INPUT_H
#define SEALMAIL_FUZZ_IPC_INPUT_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"

#define FUZZ_OP_TARGET(op) ((op)&3u)
#define FUZZ_OP_FD(op) (((op) >> 2) & 1u)
#define FUZZ_OP_IDMODE(op) (((op) >> 3) & 3u)
#define FUZZ_OP_TURNS(op) (((op) >> 5) & 7u)

enum { FUZZ_ID_RAW = 0, FUZZ_ID_REF = 1, FUZZ_ID_REF_NAMED = 2 };

struct fuzz_record {
	unsigned op;
	uint32_t type;
	uint64_t id;
	const uint8_t *payload;
	size_t len;
};

struct fuzz_input {
	const uint8_t *p;
	size_t left;
};

static inline uint64_t fuzz_take(struct fuzz_input *in, unsigned octets)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < octets && in->left > 0; i++, in->left--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

/* The next record, or 0 at the end of the input. */
static inline int fuzz_next_record(struct fuzz_input *in, struct fuzz_record *rec)
{
	size_t want;

	if (in->left == 0)
		return 0;
	rec->op = (unsigned)fuzz_take(in, 1);
	rec->type = (uint32_t)fuzz_take(in, 4);
	rec->id = fuzz_take(in, 8);
	want = (size_t)fuzz_take(in, 2);
	rec->len = want < in->left ? want : in->left;
	rec->payload = in->p;
	in->p += rec->len;
	in->left -= rec->len;
	return 1;
}

/* Removes everything under DIR (not DIR itself). */
static inline void fuzz_empty_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];
	struct stat st;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			fuzz_empty_dir(path);
			rmdir(path);
		} else {
			unlink(path);
		}
	}
	closedir(d);
}

static char fuzz_scratch[256];

static inline void fuzz_scratch_remove(void)
{
	fuzz_empty_dir(fuzz_scratch);
	rmdir(fuzz_scratch);
}

/* Moves into a scratch directory, empty, made at the first call (on tmpfs
 * when there is one: the queue syncs) and removed at exit. Returns the
 * directory to go back to with fuzz_scratch_leave(), so libFuzzer's
 * relative paths keep working. */
static inline int fuzz_scratch_enter(void)
{
	int back = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	CHECK(back >= 0);
	if (fuzz_scratch[0] == '\0') {
		snprintf(fuzz_scratch, sizeof(fuzz_scratch), "%s/sealmail-fuzz-XXXXXX",
		         access("/dev/shm", W_OK) == 0 ? "/dev/shm"
		         : getenv("TMPDIR") != NULL    ? getenv("TMPDIR")
		                                       : "/tmp");
		CHECK(mkdtemp(fuzz_scratch) != NULL && fuzz_scratch[0] == '/');
		atexit(fuzz_scratch_remove);
	}
	CHECK(chdir(fuzz_scratch) == 0);
	fuzz_empty_dir(".");
	return back;
}

static inline void fuzz_scratch_leave(int back)
{
	CHECK(fchdir(back) == 0);
	close(back);
}

#endif
