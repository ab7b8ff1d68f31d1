/*
 * proto.h: the messages sealmail's roles exchange (see lib/ipc.h for the
 * framing). Each request carries an id chosen by the sender; the reply
 * carries the same id.
 */
#ifndef SEALMAIL_PROTO_H
#define SEALMAIL_PROTO_H

/* The status of IMSG_QUEUE_POOL_FILE and IMSG_QUEUE_COMMIT_RESULT; a
 * session answers a failure 451 4.3.0, or 452 4.3.1 when the spool's file
 * system is full (RFC 3463 X.3.1). */
enum queue_result {
	QUEUE_RESULT_FAILED = 0,
	QUEUE_RESULT_OK = 1,
	QUEUE_RESULT_NO_SPACE = 2, /* ENOSPC or EDQUOT */
};

/* The status of IMSG_LOOKUP_HOSTS_RESULT: the lookup role's DNS answer
 * (enum dns_status of lookup/dns.h, which lookup.c checks is the same). */
enum lookup_hosts_status {
	LOOKUP_HOSTS_OK,
	LOOKUP_HOSTS_NXDOMAIN, /* the domain does not exist: permanent */
	LOOKUP_HOSTS_NULL_MX,  /* RFC 7505: the domain accepts no mail: permanent */
	LOOKUP_HOSTS_TEMPFAIL, /* try again later */
};

enum imsg_type {
	/* dispatcher -> lookup: str address. Reply: u32 enum lookup_result,
	 * u32 n, n x str recipient (the address, or what its alias expands to). */
	IMSG_LOOKUP_RCPT = 1,
	IMSG_LOOKUP_RCPT_RESULT,
	/* dispatcher -> lookup: str user, u32 has_password, str password (a
	 * client certificate login has none). Reply: u32 ok, str canonical
	 * user, u32 n, n x str address the user may send as. */
	IMSG_AUTH_CHECK,
	IMSG_AUTH_RESULT,
	/* lookup -> dispatcher: the users or aliases changed; forget the
	 * recipients remembered from earlier answers. */
	IMSG_LOOKUP_FORGET,
	/* dispatcher -> lookup: str name, u32 mx_lookup. Reply: u32 enum
	 * lookup_hosts_status, str error, u32 secure, u32 n, n x (str host, u32
	 * preference, str address), in the order to try them. */
	IMSG_LOOKUP_HOSTS,
	IMSG_LOOKUP_HOSTS_RESULT,

	/* dispatcher -> queue: u32 count; spool files wanted in advance, so a
	 * session's DATA needs no round trip. The queue answers each with
	 * IMSG_QUEUE_POOL_FILE: u32 enum queue_result, str queue id (or the
	 * reason), and the empty file's fd. The dispatcher writes the message
	 * from offset 0. */
	IMSG_QUEUE_POOL,
	IMSG_QUEUE_POOL_FILE,
	/* dispatcher -> queue: str queue id, u64 octets written, u32 their
	 * CRC-32C, the envelope
	 * (envelope_encode). Reply: u32 enum queue_result, str text, only once
	 * the message is on stable storage. */
	IMSG_QUEUE_COMMIT,
	IMSG_QUEUE_COMMIT_RESULT,
	/* dispatcher -> queue: str queue id; the transaction was abandoned. */
	IMSG_QUEUE_ABORT,

	/* queue -> dispatcher: deliver one message to one domain's
	 * recipients (mta_task_encode), with the spool file's fd. Reply
	 * IMSG_MTA_RESULT (mta_result_encode) with the same id. */
	IMSG_MTA_DELIVER,
	IMSG_MTA_RESULT,
	/* dispatcher -> queue: this dispatcher is retiring; send it no task. */
	IMSG_DISPATCHER_RETIRING,

	/* parent -> queue, lookup: a socket to a new dispatcher (fd). */
	IMSG_CTL_ADD_CHANNEL,
	/* parent -> queue, lookup: the new struct config after a reload. */
	IMSG_CTL_CONFIG,
	/* parent -> lookup: the users file's text, whenever it changed; an
	 * empty payload with id 1 means it could not be read. */
	IMSG_CTL_USERS,
	/* parent -> lookup: the aliases file's text, as IMSG_CTL_USERS. */
	IMSG_CTL_ALIASES,
};

enum lookup_result {
	LOOKUP_OK,
	LOOKUP_UNKNOWN_USER, /* 550 5.1.1 */
	LOOKUP_NOT_LOCAL,    /* relaying; 554 5.7.1 */
	LOOKUP_TEMPFAIL,     /* 451 4.3.0 */
};

#endif
