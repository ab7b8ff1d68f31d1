/*
 * delivery.c: delivery statuses and the SMTP client's task; see delivery.h.
 * How a task and its result travel is proto/queue.c's.
 */
#include "mail/delivery.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"

void delivery_status_set(struct delivery_status *st, const char *enhanced, unsigned reply_code,
                         const char *text)
{
	memset(st, 0, sizeof(*st));
	if (delivery_enhanced_valid(enhanced))
		strlcpy_checked(st->enhanced, enhanced, sizeof(st->enhanced));
	st->reply_code = reply_code;
	/* a text that does not fit is cut, not refused */
	(void)strlcpy_checked(st->text, text, sizeof(st->text));
}

int delivery_enhanced_valid(const char *s)
{
	size_t n;

	if (s == NULL || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	s += 2;
	for (int part = 0; part < 2; part++) {
		for (n = 0; n < 3 && s[n] >= '0' && s[n] <= '9'; n++)
			;
		if (n == 0 || s[n] != (part == 0 ? '.' : '\0'))
			return 0;
		s += n + 1;
	}
	return 1;
}

int delivery_reply_code_valid(unsigned code)
{
	return code == 0 || (code >= 200 && code <= 599);
}

void mta_task_free(struct mta_task *task)
{
	if (task == NULL)
		return;
	if (task->fd >= 0)
		close(task->fd);
	free(task->rcpts);
	free(task);
}
