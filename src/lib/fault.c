/*
 * fault.c: see fault.h. Empty unless built with SEALMAIL_FAULTS.
 */
#include "lib/fault.h"

#ifdef SEALMAIL_FAULTS
#include <errno.h>
#include <stdint.h>

#define FIU_ENABLE 1
#include <fiu.h>

int fault_hit(const char *name)
{
	intptr_t info;

	if (!fiu_fail(name))
		return 0;
	info = (intptr_t)fiu_failinfo();
	errno = info > 0 ? (int)info : EIO;
	return 1;
}

void fault_init(void)
{
	fiu_init(0);
}
#else
/* ISO C wants a translation unit to hold something. */
typedef int fault_unused;
#endif
