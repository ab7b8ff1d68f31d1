/*
 * config_show_cmd.h: `sealmail config show [--all] [-c FILE]`, the
 * effective configuration as INI (conf/config_show.c): what differs from
 * the defaults, or with --all every key. Used by main.c.
 */
#ifndef SEALMAIL_CONFIG_SHOW_CMD_H
#define SEALMAIL_CONFIG_SHOW_CMD_H

/* ARGV[0] is "show". Returns the exit status: 0, 1 when the configuration
 * does not load (its errors on stderr), 2 on a usage error. */
int cmd_config_show(int argc, char **argv);

#endif
