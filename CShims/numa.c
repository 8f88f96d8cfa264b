// NUMA through libnuma loaded at run time (dlopen "libnuma.so.1", RTLD_NOW|RTLD_LOCAL), as libunwind is:
// services that link memprobe need no libnuma1 at run time, and the build needs no libnuma-dev.
// The policy modes come from the kernel's UAPI header, not <numaif.h>.
#include "cshims.h"

#ifdef __linux__
#ifndef _GNU_SOURCE
#error "_GNU_SOURCE must be defined (Package.swift cSettings)"
#endif
#include <dlfcn.h>
#include <errno.h>
#include <linux/mempolicy.h>
#include <pthread.h>
#include <string.h>

_Static_assert(CSHIMS_MPOL_DEFAULT == MPOL_DEFAULT, "MPOL_DEFAULT");
_Static_assert(CSHIMS_MPOL_PREFERRED == MPOL_PREFERRED, "MPOL_PREFERRED");
_Static_assert(CSHIMS_MPOL_BIND == MPOL_BIND, "MPOL_BIND");
_Static_assert(CSHIMS_MPOL_INTERLEAVE == MPOL_INTERLEAVE, "MPOL_INTERLEAVE");

// The libnuma entry points used, with their libnuma 2.0 signatures.
static struct {
    int (*available)(void);
    int (*max_node)(void);
    long long (*node_size64)(int, long long *);
    int (*move_pages)(int, unsigned long, void **, const int *, int *, int);
    long (*mbind)(void *, unsigned long, int, const unsigned long *, unsigned long, unsigned);
} numa_fns;

static pthread_once_t numa_once = PTHREAD_ONCE_INIT;
static int numa_load_status = ENOENT;
static char numa_load_message[256] = "libnuma.so.1 was not loaded";

static void numa_load_once(void) {
    void *h = dlopen("libnuma.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        strncpy(numa_load_message, e ? e : "dlopen(libnuma.so.1) failed", sizeof numa_load_message - 1);
        numa_load_status = ENOENT;
        return;
    }
    numa_fns.available = (int (*)(void))dlsym(h, "numa_available");
    numa_fns.max_node = (int (*)(void))dlsym(h, "numa_max_node");
    numa_fns.node_size64 = (long long (*)(int, long long *))dlsym(h, "numa_node_size64");
    numa_fns.move_pages = (int (*)(int, unsigned long, void **, const int *, int *, int))dlsym(h, "numa_move_pages");
    numa_fns.mbind = (long (*)(void *, unsigned long, int, const unsigned long *, unsigned long, unsigned))dlsym(h, "mbind");
    if (!numa_fns.available || !numa_fns.max_node || !numa_fns.node_size64 || !numa_fns.move_pages || !numa_fns.mbind) {
        strncpy(numa_load_message, "libnuma.so.1 lacks numa_available/numa_max_node/numa_node_size64/numa_move_pages/mbind",
                sizeof numa_load_message - 1);
        numa_load_status = ENOENT;
        return;
    }
    if (numa_fns.available() < 0) {
        strncpy(numa_load_message, "the kernel has no NUMA support (numa_available() < 0)", sizeof numa_load_message - 1);
        numa_load_status = ENOSYS;
        return;
    }
    numa_load_message[0] = 0;
    numa_load_status = 0;
}

int cshims_numa_load(void) {
    pthread_once(&numa_once, numa_load_once);
    return numa_load_status;
}

const char *cshims_numa_load_message(void) {
    pthread_once(&numa_once, numa_load_once);
    return numa_load_message;
}

int cshims_numa_available(void) { return cshims_numa_load() == 0 ? 1 : 0; }

int cshims_numa_max_node(void) { return cshims_numa_load() == 0 ? numa_fns.max_node() : -1; }

int cshims_numa_node_size(int node, long long *size, long long *free_bytes) {
    int rc = cshims_numa_load();
    if (rc) return rc == ENOSYS ? ENOSYS : ENOENT;
    if (node < 0 || node > numa_fns.max_node()) return EINVAL;
    long long f = 0;
    long long s = numa_fns.node_size64(node, &f);
    if (s < 0) return EINVAL;
    *size = s;
    *free_bytes = f;
    return 0;
}

int cshims_numa_page_nodes(void **pages, size_t count, int *status) {
    int rc = cshims_numa_load();
    if (rc) return rc;
    return numa_fns.move_pages(0, (unsigned long)count, pages, NULL, status, 0) == 0 ? 0 : errno;
}

int cshims_mbind(void *addr, size_t length, int mode, const unsigned long *nodemask, unsigned long maxnode, unsigned flags) {
    int rc = cshims_numa_load();
    if (rc) return rc;
    return numa_fns.mbind(addr, length, mode, nodemask, maxnode, flags) == 0 ? 0 : errno;
}

int cshims_mpol_bind(void) { return MPOL_BIND; }

int cshims_numa_probe_library(const char *name, char *message, size_t message_size) {
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        if (message_size) {
            strncpy(message, e ? e : "dlopen failed", message_size - 1);
            message[message_size - 1] = 0;
        }
        return ENOENT;
    }
    int ok = dlsym(h, "numa_available") != NULL;
    dlclose(h);
    if (!ok && message_size) {
        strncpy(message, "no numa_available symbol", message_size - 1);
        message[message_size - 1] = 0;
    }
    return ok ? 0 : ENOENT;
}

#endif
