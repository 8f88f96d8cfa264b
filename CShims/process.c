// Process lifetime: a child that must not outlive its parent.
#include "cshims.h"

#ifdef __linux__
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>

int cshims_set_parent_death_signal(int signal) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0, 0, 0) == 0 ? 0 : errno;
}
#endif
