/*
 * fuzz_queue_state.c: libFuzzer harness for the queue's state files
 * (queue_state_read in queue/queue_deliver.c): the input is written as
 * queue/state/ID in a scratch directory and read back into a message.
 * What is read must be within bounds; and what queue_state_write writes
 * for it must read back the same.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "queue/queue_private.h"

static char dir[] = "/tmp/sealmail-fuzz-state.XXXXXX";

static void cleanup(void)
{
	unlink("queue/state/FUZZ");
	unlink("queue/state/FUZZ.tmp");
	rmdir("queue/state");
	rmdir("queue");
	if (chdir("/") == 0)
		rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	CHECK(mkdtemp(dir) != NULL && chdir(dir) == 0);
	CHECK(mkdir("queue", 0700) == 0 && mkdir("queue/state", 0700) == 0);
	atexit(cleanup);
	fuzz_quiet_logs();
	return 0;
}

static void read_state(struct queue_msg *m)
{
	memset(m, 0, sizeof(*m));
	strcpy(m->id, "FUZZ");
	m->fd = -1;
	queue_state_read(m);
	CHECK(m->n_rcpts <= ENVELOPE_MAX_RCPTS);
	for (unsigned i = 0; i < m->n_rcpts; i++) {
		CHECK(m->rcpts[i].status <= RCPT_FAILED && m->rcpts[i].reported <= 1);
		CHECK(memchr(m->rcpts[i].last_error, '\0', sizeof(m->rcpts[i].last_error)));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_msg m, again;
	FILE *f = fopen("queue/state/FUZZ", "w");

	CHECK(f != NULL);
	CHECK(fwrite(data, 1, size, f) == size || size == 0);
	CHECK(fclose(f) == 0);
	read_state(&m);
	queue_state_write(&m);
	read_state(&again);
	CHECK(again.n_rcpts == m.n_rcpts && again.attempts == m.attempts);
	CHECK(again.warned == m.warned && again.held == m.held);
	CHECK(again.not_before == m.not_before);
	for (unsigned i = 0; i < m.n_rcpts; i++) {
		CHECK(again.rcpts[i].status == m.rcpts[i].status);
		CHECK(again.rcpts[i].reported == m.rcpts[i].reported);
	}
	free(m.rcpts);
	free(again.rcpts);
	return 0;
}
