/*
 * fault.h: named fault points for tests.
 *
 * FAULT("queue/commit/sync") is 0 in a normal build. Built with
 * -DSEALMAIL_FAULTS=ON it asks libfiu whether the point is enabled; a test
 * enables points from outside with libfiu's own runner, for example
 *
 *   fiu-run -f "" -c 'enable name=sealmail/queue/commit/sync,failinfo=28,onetime' \
 *       sealmail serve ...
 *
 * A point that fires sets errno to its failinfo (EIO when none was given),
 * so the code under test takes exactly the path a failing system call
 * would. Names are "sealmail/ROLE/STEP/CALL"; the README lists them.
 */
#ifndef SEALMAIL_FAULT_H
#define SEALMAIL_FAULT_H

#ifdef SEALMAIL_FAULTS
/* 1 (with errno set) when the fault point NAME fires, else 0. */
int fault_hit(const char *name);
/* Readies libfiu; called once at start-up, before any fork. */
void fault_init(void);
#define FAULT(name) fault_hit("sealmail/" name)
#else
#define FAULT(name) 0
static inline void fault_init(void)
{
}
#endif

#endif
