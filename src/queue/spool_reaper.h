/*
 * spool_reaper.h: the last close of delivered spool files, in a thread of
 * the queue role, so that the role's event loop does not wait for it.
 *
 * A spool file is unlinked once its message is delivered; the close that
 * follows drops the inode's last reference, and the file system frees its
 * blocks then. On ext4 mounted with `discard` (and no journal to defer it)
 * that close waits for the device to discard them, a wait the loop paid
 * for every message while sessions waited for their 250. The unlink stays
 * where it is, so nothing changes for durability: a descriptor handed over
 * belongs to a file that is gone from every directory.
 *
 * One thread for the whole role, started by queue.c; the queue's other
 * files hand descriptors over with spool_reaper_close().
 */
#ifndef SEALMAIL_SPOOL_REAPER_H
#define SEALMAIL_SPOOL_REAPER_H

/* Descriptors waiting to be closed: each holds a file open, under the
 * role's descriptor limit beside the spool files of open sessions. */
#define SPOOL_REAPER_RING 64

/* Starts the thread. Returns 0, or -1 (then every close is done at once). */
int spool_reaper_start(void);
/* Closes FD in the thread; at once when it is not running or its ring is
 * full. */
void spool_reaper_close(int fd);
/* Closes what is left and stops the thread. */
void spool_reaper_stop(void);

#endif
