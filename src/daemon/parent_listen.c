/*
 * parent_listen.c: see parent_listen.h.
 */
#include "daemon/parent_listen.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

static int parent_bind_one(const struct config_listener *l, const char **error_r)
{
	int fd = socket(l->address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l->address.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&l->address, l->address_len) < 0 ||
	    listen(fd, 1024) < 0) {
		*error_r = strerror(errno);
		close(fd);
		return -1;
	}
	return fd;
}

/* Binds every listener of CFG into FDS, reusing a socket of OLD_CFG/OLD_FDS
 * with the same address. Returns 0, or -1 after closing what it bound. */
int parent_bind_all(const struct config *cfg, int *fds, const struct config *old_cfg,
                    const int *old_fds)
{
	unsigned i, j;

	for (i = 0; i < cfg->n_listeners; i++) {
		const struct config_listener *l = &cfg->listeners[i];
		const char *why;

		fds[i] = -1;
		for (j = 0; old_cfg != NULL && j < old_cfg->n_listeners; j++)
			if (old_cfg->listeners[j].address_len == l->address_len &&
			    memcmp(&old_cfg->listeners[j].address, &l->address, l->address_len) ==
			        0)
				fds[i] = old_fds[j];
		if (fds[i] >= 0)
			continue;
		fds[i] = parent_bind_one(l, &why);
		if (fds[i] < 0) {
			log_error("event=listen-error listener=%s address=%s reason=\"%s\"",
			          l->name, l->address_text, why);
			for (j = 0; j < i; j++) {
				int reused = 0, k;
				for (k = 0; old_cfg != NULL && k < (int)old_cfg->n_listeners; k++)
					reused |= old_fds[k] == fds[j];
				if (!reused)
					close(fds[j]);
			}
			return -1;
		}
	}
	return 0;
}

/* The local submission socket (`sealmail send`): any local user may
 * connect; the dispatcher learns who from the kernel. Returns the socket or
 * -1 (logged: local injection is then unavailable, the server runs on). */
int parent_bind_local(const struct config *cfg, int root)
{
	struct sockaddr_un sun;
	char dir[sizeof(sun.sun_path)], *slash;
	mode_t mask;
	int fd, bound;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	config_submit_socket(cfg, root, sun.sun_path, sizeof(sun.sun_path));
	strlcpy_checked(dir, sun.sun_path, sizeof(dir));
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir_p(dir, 0755) < 0)
			log_warn("event=listen-error listener=local path=%s reason=\"%s\"", dir,
			         strerror(errno));
	}
	/* Another server's live socket is left alone; a stale one replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		close(fd);
		log_warn("event=listen-error listener=local path=%s reason=\"another server is "
		         "listening there; local injection goes to it\"",
		         sun.sun_path);
		return -1;
	}
	if (fd >= 0)
		close(fd);
	unlink(sun.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	/* mode 0666 from bind() itself: a chmod() by name after it would
	 * follow what a user of that directory put there meanwhile (a link
	 * to /etc/shadow) */
	mask = umask(0111);
	bound = fd >= 0 && bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	umask(mask);
	if (!bound || listen(fd, 128) < 0) {
		log_warn("event=listen-error listener=local path=%s reason=\"%s\"", sun.sun_path,
		         strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	log_info("event=listening listener=local address=%s", sun.sun_path);
	return fd;
}
