/*
 * sts_fetch.c: see sts_fetch.h. A fetch is a job in two steps: our resolver
 * finds mta-sts.DOMAIN's addresses, then a libcurl easy handle on the
 * fetcher's multi handle GETs the policy. libcurl tells us which sockets and
 * which timeout it waits for (CURLMOPT_SOCKETFUNCTION, TIMERFUNCTION) and
 * the libevent loop calls it back (curl_multi_socket_action), so a fetch
 * never blocks the lookup role.
 */
#include "dns/sts_fetch.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns.h"
#include "lib/util.h"

#define STS_FETCH_PORT 443 /* RFC 8461 3.3: the policy host's HTTPS port */
#define STS_FETCH_PATH "/.well-known/mta-sts.txt"
#define STS_FETCH_HOST_MAX 264 /* "mta-sts." + a domain name */

struct sts_fetch_job {
	struct sts_fetcher *f; /* NULL when the fetcher went while DNS was pending */
	struct sts_fetch_job *prev, *next;
	char host[STS_FETCH_HOST_MAX];
	char *ca_file;
	CURL *easy;
	struct curl_slist *resolve;
	char *body;
	size_t len;
	int too_big;
	char curl_error[CURL_ERROR_SIZE];
	sts_fetch_done_fn *done;
	void *arg;
};

struct sts_fetcher {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	struct sts_fetch_job *jobs;
	unsigned n_jobs;
	struct sts_fetch_socket *sockets; /* curl_multi_cleanup() may leave some */
};

/* libcurl's interest in one socket, as a libevent event. */
struct sts_fetch_socket {
	struct sts_fetch_socket *prev, *next;
	struct event *ev;
};

/* ---- the job list ------------------------------------------------------ */

static void sts_fetch_unlink(struct sts_fetch_job *job)
{
	struct sts_fetcher *f = job->f;

	if (f == NULL)
		return;
	if (job->prev != NULL)
		job->prev->next = job->next;
	else
		f->jobs = job->next;
	if (job->next != NULL)
		job->next->prev = job->prev;
	f->n_jobs--;
	job->f = NULL;
}

static void sts_fetch_job_free(struct sts_fetch_job *job)
{
	sts_fetch_unlink(job);
	if (job->easy != NULL)
		curl_easy_cleanup(job->easy);
	curl_slist_free_all(job->resolve);
	free(job->ca_file);
	free(job->body);
	free(job);
}

/* Answers the job with RESULT (which may point into the job's body) and
 * frees it. Out of the fetcher's list first: the callback may start
 * another fetch. */
static void sts_fetch_answer(struct sts_fetch_job *job, struct sts_fetch_result *result)
{
	sts_fetch_unlink(job);
	job->done(job->arg, result);
	sts_fetch_job_free(job);
}

/* Fails JOB with "WHY" or, with a host, "HOST: WHY". */
static void sts_fetch_fail(struct sts_fetch_job *job, const char *host, const char *why)
{
	struct sts_fetch_result r = {.ok = 0};

	snprintf(r.error, sizeof(r.error), "%s%s%s", host ? host : "", host ? ": " : "", why);
	sts_fetch_answer(job, &r);
}

/* ---- the HTTP answer --------------------------------------------------- */

int sts_fetch_type_ok(const char *content_type)
{
	static const char want[] = "text/plain";
	const char *p = content_type;

	if (p == NULL)
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, want, sizeof(want) - 1) != 0)
		return 0;
	p += sizeof(want) - 1;
	return *p == '\0' || *p == ';' || *p == ' ' || *p == '\t';
}

static size_t sts_fetch_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct sts_fetch_job *job = arg;
	size_t len = size * n;

	/* RFC 8461 3.3: a policy body is at most 64 KiB */
	if (len > STS_FETCH_BODY_MAX - job->len) {
		job->too_big = 1;
		return 0; /* aborts the transfer */
	}
	if (job->body == NULL)
		job->body = xmalloc(STS_FETCH_BODY_MAX + 1);
	memcpy(job->body + job->len, data, len);
	job->len += len;
	return len;
}

/* Why transfer result CODE of JOB failed, into BUF. */
static void sts_fetch_transfer_error(struct sts_fetch_job *job, CURLcode code, char *buf,
                                     size_t size)
{
	const char *detail = job->curl_error[0] ? job->curl_error : curl_easy_strerror(code);

	if (job->too_big || code == CURLE_FILESIZE_EXCEEDED)
		snprintf(buf, size, "the policy at %s is larger than %d bytes (RFC 8461 3.3)",
		         job->host, STS_FETCH_BODY_MAX);
	else if (code == CURLE_OPERATION_TIMEDOUT)
		snprintf(buf, size, "no policy from %s within %d seconds", job->host,
		         STS_FETCH_TIMEOUT_SECONDS);
	else if (code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE)
		snprintf(buf, size, "the certificate of %s is not valid: %s", job->host, detail);
	else
		snprintf(buf, size, "%s: %s", job->host, detail);
}

/* The transfer of JOB ended with CODE: answers it. */
static void sts_fetch_transfer_done(struct sts_fetch_job *job, CURLcode code)
{
	struct sts_fetch_result r = {.ok = 0};
	char *type = NULL;
	long status = 0;

	curl_easy_getinfo(job->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(job->easy, CURLINFO_CONTENT_TYPE, &type);
	if (code != CURLE_OK)
		sts_fetch_transfer_error(job, code, r.error, sizeof(r.error));
	else if (status >= 300 && status < 400)
		/* RFC 8461 3.3: redirects MUST NOT be followed */
		snprintf(r.error, sizeof(r.error),
		         "%s answered HTTP %ld, a redirect, which is not followed (RFC 8461 3.3)",
		         job->host, status);
	else if (status != 200)
		snprintf(r.error, sizeof(r.error), "%s answered HTTP %ld", job->host, status);
	else if (!sts_fetch_type_ok(type))
		snprintf(r.error, sizeof(r.error), "%s sent Content-Type %.80s, not text/plain",
		         job->host, type ? type : "(none)");
	else
		r.ok = 1;
	if (r.ok) {
		if (job->body == NULL)
			job->body = xmalloc(1);
		job->body[job->len] = '\0';
		r.body = job->body;
		r.len = job->len;
	}
	sts_fetch_answer(job, &r);
}

/* Answers every transfer libcurl has finished. */
static void sts_fetch_collect(struct sts_fetcher *f)
{
	struct sts_fetch_job *job;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(f->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		job = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&job);
		curl_multi_remove_handle(f->multi, msg->easy_handle);
		if (job != NULL)
			sts_fetch_transfer_done(job, msg->data.result);
	}
}

/* ---- libcurl on the event loop ----------------------------------------- */

static void sts_fetch_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sts_fetcher *f = arg;
	int flags = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
	            ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	int running;

	curl_multi_socket_action(f->multi, fd, flags, &running);
	sts_fetch_collect(f);
}

static void sts_fetch_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sts_fetcher *f = arg;
	int running;

	curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	sts_fetch_collect(f);
}

static void sts_fetch_socket_free(struct sts_fetcher *f, struct sts_fetch_socket *fs)
{
	if (fs->prev != NULL)
		fs->prev->next = fs->next;
	else
		f->sockets = fs->next;
	if (fs->next != NULL)
		fs->next->prev = fs->prev;
	event_free(fs->ev);
	free(fs);
}

/* CURLMOPT_SOCKETFUNCTION: libcurl waits for WHAT on socket S. */
static int sts_fetch_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct sts_fetcher *f = userp;
	struct sts_fetch_socket *fs = socketp;
	short kind = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (fs != NULL)
			sts_fetch_socket_free(f, fs);
		curl_multi_assign(f->multi, s, NULL);
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		kind |= EV_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		kind |= EV_WRITE;
	if (fs == NULL) {
		fs = xcalloc(1, sizeof(*fs));
		fs->next = f->sockets;
		if (fs->next != NULL)
			fs->next->prev = fs;
		f->sockets = fs;
		curl_multi_assign(f->multi, s, fs);
	} else {
		event_free(fs->ev);
	}
	fs->ev = event_new(f->base, s, kind, sts_fetch_event_cb, f);
	event_add(fs->ev, NULL);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: libcurl wants to be called in MS milliseconds
 * (-1: not at all). Never called back from here: from the loop. */
static int sts_fetch_timer_set_cb(CURLM *multi, long ms, void *userp)
{
	struct sts_fetcher *f = userp;
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	if (ms < 0)
		evtimer_del(f->timer);
	else
		evtimer_add(f->timer, &tv);
	return 0;
}

/* ---- starting a fetch -------------------------------------------------- */

/* The easy handle's options: every promise of RFC 8461 3.3 is here. */
static void sts_fetch_set_options(struct sts_fetch_job *job, const char *url)
{
	CURL *e = job->easy;

	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* redirects are not followed */
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L); /* valid for mta-sts.DOMAIN */
	curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (job->ca_file[0] != '\0')
		curl_easy_setopt(e, CURLOPT_CAINFO, job->ca_file);
	curl_easy_setopt(e, CURLOPT_RESOLVE, job->resolve); /* our resolver's answer */
	curl_easy_setopt(e, CURLOPT_PROXY, "");             /* no proxy from the environment */
	curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)STS_FETCH_TIMEOUT_SECONDS);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)STS_FETCH_CONNECT_SECONDS);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)STS_FETCH_BODY_MAX);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sts_fetch_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, job);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, job->curl_error);
	curl_easy_setopt(e, CURLOPT_PRIVATE, job);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "sealmail");
}

/* "HOST:443:ADDR,ADDR" for CURLOPT_RESOLVE from the resolver's answer A. */
static int sts_fetch_resolve_entry(struct sts_fetch_job *job, const struct dns_answer *a)
{
	char entry[STS_FETCH_HOST_MAX + 16 + STS_FETCH_ADDRS_MAX * 72];
	size_t o;
	unsigned i;

	o = (size_t)snprintf(entry, sizeof(entry), "%s:%d:", job->host, STS_FETCH_PORT);
	for (i = 0; i < a->n_hosts && i < STS_FETCH_ADDRS_MAX; i++)
		o += (size_t)snprintf(entry + o, sizeof(entry) - o,
		                      strchr(a->hosts[i].addr, ':') ? "%s[%s]" : "%s%s",
		                      i ? "," : "", a->hosts[i].addr);
	job->resolve = curl_slist_append(NULL, entry);
	return job->resolve != NULL ? 0 : -1;
}

/* dns_resolve()'s answer for mta-sts.DOMAIN: starts the transfer. */
static void sts_fetch_resolved(void *arg, const struct dns_answer *a)
{
	struct sts_fetch_job *job = arg;
	char url[STS_FETCH_HOST_MAX + 64];

	if (job->f == NULL) { /* the fetcher is gone */
		sts_fetch_job_free(job);
		return;
	}
	if (a->status != DNS_OK || a->n_hosts == 0) {
		sts_fetch_fail(job, job->host, a->error[0] ? a->error : "no address");
		return;
	}
	job->easy = curl_easy_init();
	if (job->easy == NULL || sts_fetch_resolve_entry(job, a) < 0) {
		sts_fetch_fail(job, job->host, "cannot start the fetch");
		return;
	}
	snprintf(url, sizeof(url), "https://%s%s", job->host, STS_FETCH_PATH);
	sts_fetch_set_options(job, url);
	if (curl_multi_add_handle(job->f->multi, job->easy) != CURLM_OK)
		sts_fetch_fail(job, job->host, "cannot start the fetch");
}

void sts_fetch(struct sts_fetcher *f, struct dns_resolver *dns, const char *domain,
               const char *ca_file, sts_fetch_done_fn *done, void *arg)
{
	struct sts_fetch_job *job = xcalloc(1, sizeof(*job));

	job->done = done;
	job->arg = arg;
	job->ca_file = xstrdup(ca_file);
	snprintf(job->host, sizeof(job->host), "mta-sts.%s", domain);
	if (f->n_jobs >= STS_FETCH_PARALLEL_MAX) {
		sts_fetch_fail(job, NULL, "too many policy fetches at once");
		return;
	}
	if (dns == NULL) {
		sts_fetch_fail(job, NULL, "no resolver");
		return;
	}
	job->f = f;
	job->next = f->jobs;
	if (f->jobs != NULL)
		f->jobs->prev = job;
	f->jobs = job;
	f->n_jobs++;
	/* our resolver, never the system's: libcurl gets the addresses */
	dns_resolve(dns, job->host, 0, sts_fetch_resolved, job);
}

/* ---- the fetcher ------------------------------------------------------- */

struct sts_fetcher *sts_fetcher_new(struct event_base *base)
{
	static int curl_ready;
	struct sts_fetcher *f;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return NULL;
		curl_ready = 1;
	}
	f = xcalloc(1, sizeof(*f));
	f->base = base;
	f->multi = curl_multi_init();
	if (f->multi == NULL) {
		free(f);
		return NULL;
	}
	f->timer = evtimer_new(base, sts_fetch_timer_cb, f);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, sts_fetch_socket_cb);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, sts_fetch_timer_set_cb);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
	return f;
}

void sts_fetcher_free(struct sts_fetcher **fp)
{
	struct sts_fetcher *f = *fp;

	if (f == NULL)
		return;
	*fp = NULL;
	while (f->jobs != NULL) {
		struct sts_fetch_job *job = f->jobs;
		if (job->easy == NULL) { /* its DNS answer frees it */
			sts_fetch_unlink(job);
			continue;
		}
		curl_multi_remove_handle(f->multi, job->easy);
		sts_fetch_job_free(job);
	}
	curl_multi_cleanup(f->multi);
	while (f->sockets != NULL)
		sts_fetch_socket_free(f, f->sockets);
	event_free(f->timer);
	free(f);
}
