/*
 * fuzz_smtp_command.c: libFuzzer harness for smtp_command_parse() and
 * smtp_command_parse_len(); MAIL and RCPT arguments go on to
 * smtp_path_parse(), and a parsed path must survive smtp_path_format().
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_parse.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

/* Checks what a successful parse of LINE (LEN bytes) gave. */
static void check_command(const char *line, size_t len, const struct smtp_command *cmd)
{
	size_t n = strlen(cmd->verb_text);

	CHECK(n >= 1 && n <= 15);
	for (size_t i = 0; i < n; i++)
		CHECK(cmd->verb_text[i] >= 'A' && cmd->verb_text[i] <= 'Z');
	CHECK(cmd->arg >= line && cmd->arg <= line + len);
	CHECK(cmd->arg + strlen(cmd->arg) == line + len);
	for (size_t i = 0; i < len; i++)
		CHECK((unsigned char)line[i] >= 0x20 && line[i] != 0x7f);
	if (cmd->verb == SMTP_VERB_MAIL || cmd->verb == SMTP_VERB_RCPT)
		CHECK(cmd->arg[0] != ' ');
}

/* Parses a MAIL/RCPT argument; a path must format and parse back the same. */
static void check_path(const struct smtp_command *cmd)
{
	struct smtp_path path, again;
	struct smtp_param params[SMTP_MAX_PARAMS];
	unsigned n;
	const char *error = NULL;
	char text[600], arg[610];

	if (smtp_path_parse(cmd->arg, 1, 1, &path, params, &n, &error) < 0) {
		CHECK(error != NULL && error[0] != '\0');
		return;
	}
	CHECK(n <= SMTP_MAX_PARAMS);
	smtp_path_format(&path, text, sizeof(text));
	strcpy(arg, "<");
	strcat(arg, text);
	strcat(arg, ">");
	CHECK(smtp_path_parse(arg, 1, 1, &again, params, &n, &error) == 0);
	CHECK(strcmp(path.local, again.local) == 0 && strcmp(path.domain, again.domain) == 0);
	CHECK(path.null == again.null);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_command cmd, cmd2;
	const char *error = NULL, *error2 = NULL;
	char *line = malloc(size + 1);
	int ret;

	CHECK(line != NULL);
	memcpy(line, data, size);
	line[size] = '\0';
	ret = smtp_command_parse_len(line, size, &cmd, &error);
	if (ret == 0) {
		check_command(line, size, &cmd);
		if (cmd.verb == SMTP_VERB_MAIL || cmd.verb == SMTP_VERB_RCPT)
			check_path(&cmd);
	} else {
		CHECK(ret == -1 && error != NULL && error[0] != '\0' && cmd.arg[0] == '\0');
	}
	if (memchr(data, '\0', size) == NULL) {
		CHECK(smtp_command_parse(line, &cmd2, &error2) == ret);
		CHECK(cmd2.verb == cmd.verb && cmd2.arg == cmd.arg);
		CHECK(strcmp(cmd2.verb_text, cmd.verb_text) == 0);
	}
	free(line);
	return 0;
}
