/*
 * policy_cmd.h: `sealmail policy explain DOMAIN [--offline] [-c FILE]`:
 * which TLS policy applies to DOMAIN and why, with the live evidence (MX
 * and TLSA records with their DNSSEC status, MTA-STS, TLS-RPT, downgrade
 * memory) merged by the same decision the SMTP client takes
 * (policy/decide.h). With --offline, or when DNS fails, the configuration's
 * part alone. Called by main.c.
 */
#ifndef SEALMAIL_POLICY_CMD_H
#define SEALMAIL_POLICY_CMD_H

/* ARGV[0] is "explain". Returns the exit status. */
int cmd_policy_explain(int argc, char **argv);

#endif
