// The system's constants, exported as values (see the "Constants" section of cshims.h).
#include "cshims.h"

#ifdef __linux__
#include <sys/mman.h>
#ifndef MADV_COLLAPSE
#include <asm-generic/mman-common.h>  // glibc 2.36 (Debian 12) lacks MADV_COLLAPSE; the kernel UAPI has it
#endif

const int cshims_madv_normal = MADV_NORMAL;
const int cshims_madv_willneed = MADV_WILLNEED;
const int cshims_madv_dontneed = MADV_DONTNEED;
const int cshims_madv_free = MADV_FREE;
const int cshims_madv_hugepage = MADV_HUGEPAGE;
const int cshims_madv_nohugepage = MADV_NOHUGEPAGE;
const int cshims_madv_cold = MADV_COLD;
const int cshims_madv_pageout = MADV_PAGEOUT;
const int cshims_madv_populate_read = MADV_POPULATE_READ;
const int cshims_madv_populate_write = MADV_POPULATE_WRITE;
const int cshims_madv_dontneed_locked = MADV_DONTNEED_LOCKED;
const int cshims_madv_collapse = MADV_COLLAPSE;
#endif
