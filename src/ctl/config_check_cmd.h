/*
 * config_check_cmd.h: `sealmail config check [-c FILE]`.
 */
#ifndef SEALMAIL_CONFIG_CHECK_CMD_H
#define SEALMAIL_CONFIG_CHECK_CMD_H

/* ARGV[0] is "check". Exit status: 0 (warnings allowed), 1 (errors),
 * 2 (usage). */
int cmd_config_check(int argc, char **argv);

#endif
