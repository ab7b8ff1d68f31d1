/*
 * mta_policy.h: the view of the configuration that the outbound TLS policy
 * reads (struct outbound_policy, policy/policy.h), filled from the config
 * file's values (conf/config.h). It sits outside both folders because
 * policy may not know the config file and conf may not know policy. Used
 * by the delivery client (mta.c) and `sealmail policy explain` (main.c).
 */
#ifndef SEALMAIL_MTA_POLICY_H
#define SEALMAIL_MTA_POLICY_H

#include "policy/policy.h"

struct config;

/* Fills *VIEW from CFG. The view points into CFG, which must outlive it,
 * and owns two arrays: release it with mta_policy_view_free(). */
void mta_policy_view(const struct config *cfg, struct outbound_policy *view);
/* Frees what mta_policy_view() allocated and empties *VIEW. */
void mta_policy_view_free(struct outbound_policy *view);

#endif
