#include "cshims.h"

void cshims_do_nothing(void) {}

#ifdef __linux__
#ifndef _GNU_SOURCE
#error "_GNU_SOURCE must be defined (Package.swift cSettings)"
#endif
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

_Static_assert(sizeof(cshims_mallinfo2_t) == sizeof(struct mallinfo2), "mallinfo2 mirror out of date");
// The field-by-field layout too, not only the size: a reordered mirror would swap figures silently.
_Static_assert(offsetof(cshims_mallinfo2_t, arena) == offsetof(struct mallinfo2, arena), "mallinfo2.arena");
_Static_assert(offsetof(cshims_mallinfo2_t, hblkhd) == offsetof(struct mallinfo2, hblkhd), "mallinfo2.hblkhd");
_Static_assert(offsetof(cshims_mallinfo2_t, uordblks) == offsetof(struct mallinfo2, uordblks), "mallinfo2.uordblks");
_Static_assert(offsetof(cshims_mallinfo2_t, fordblks) == offsetof(struct mallinfo2, fordblks), "mallinfo2.fordblks");
_Static_assert(offsetof(cshims_mallinfo2_t, keepcost) == offsetof(struct mallinfo2, keepcost), "mallinfo2.keepcost");

size_t cshims_page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

int cshims_mmap_anonymous(size_t length, int noreserve, void **out) {
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | (noreserve ? MAP_NORESERVE : 0);
    void *p = mmap(NULL, length, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED) return errno;
    *out = p;
    return 0;
}

int cshims_munmap(void *addr, size_t length) { return munmap(addr, length) == 0 ? 0 : errno; }

int cshims_madvise(void *addr, size_t length, int advice) {
    return madvise(addr, length, advice) == 0 ? 0 : errno;
}

int cshims_mincore(void *addr, size_t length, unsigned char *vec) {
    return mincore(addr, length, vec) == 0 ? 0 : errno;
}

int cshims_malloc_trim(size_t pad) { return malloc_trim(pad); }

cshims_mallinfo2_t cshims_mallinfo2(void) {
    struct mallinfo2 m = mallinfo2();
    cshims_mallinfo2_t r;
    memcpy(&r, &m, sizeof r);
    return r;
}

size_t cshims_malloc_usable_size(void *ptr) { return malloc_usable_size(ptr); }

typedef int (*unw_backtrace_fn)(void **, int);
static unw_backtrace_fn cshims_unw_backtrace = NULL;

int cshims_unwind_load(void) {
    unw_backtrace_fn fn = __atomic_load_n(&cshims_unw_backtrace, __ATOMIC_ACQUIRE);
    if (fn) return 0;
    // RTLD_LOCAL: libunwind's _Unwind_* and weak backtrace stay out of the global symbol scope.
    void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (!h) return ENOENT;
    // unw_backtrace is a macro for _ULx86_64_... which 1.6.2 does not export; the exported name is unw_backtrace.
    fn = (unw_backtrace_fn)dlsym(h, "unw_backtrace");
    if (!fn) return ENOENT;
    __atomic_store_n(&cshims_unw_backtrace, fn, __ATOMIC_RELEASE);
    return 0;
}

int cshims_unwind_backtrace(void **buffer, int size) {
    unw_backtrace_fn fn = __atomic_load_n(&cshims_unw_backtrace, __ATOMIC_ACQUIRE);
    if (!fn) {
        int rc = cshims_unwind_load();
        if (rc) return -rc;
        fn = __atomic_load_n(&cshims_unw_backtrace, __ATOMIC_ACQUIRE);
    }
    if (size <= 0) return -EINVAL;
    return fn(buffer, size);
}

int cshims_unwinder_origin(char *path, size_t path_size) {
    void *sym = dlsym(RTLD_DEFAULT, "_Unwind_RaiseException");
    if (!sym) return ENOENT;
    Dl_info info;
    if (!dladdr(sym, &info) || !info.dli_fname) return ENOENT;
    strncpy(path, info.dli_fname, path_size - 1);
    path[path_size - 1] = 0;
    return 0;
}

#endif
