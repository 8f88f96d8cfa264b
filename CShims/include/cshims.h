// CShims: the few C calls Swift cannot make or see directly.
// Every symbol is prefixed `cshims_`. Functions return 0 or an errno value (never print, never set errno only).
// This header includes only <stddef.h>/<stdint.h>: <numa.h> and <libunwind.h> stay inside shims.c.
#ifndef CSHIMS_H
#define CSHIMS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Everything below but cshims_do_nothing exists on Linux only (like swift-nio's CNIOLinux): on another OS the
// module is empty and the Swift layers above do not compile their Linux parts.
#ifdef __linux__

// ---- Constants (constants.c) ----
// Values of the system headers, exported so Swift never carries a second, hand-copied number.
// madvise advice (MADV_COLLAPSE comes from the kernel UAPI header when glibc's <sys/mman.h> lacks it).
extern const int cshims_madv_normal;
extern const int cshims_madv_willneed;
extern const int cshims_madv_dontneed;
extern const int cshims_madv_free;
extern const int cshims_madv_hugepage;
extern const int cshims_madv_nohugepage;
extern const int cshims_madv_cold;
extern const int cshims_madv_pageout;
extern const int cshims_madv_populate_read;
extern const int cshims_madv_populate_write;
extern const int cshims_madv_dontneed_locked;
extern const int cshims_madv_collapse;
/// MPOL_BIND of <numaif.h>.
extern const int cshims_mpol_bind_mode;

/// Mirror of glibc's `struct mallinfo2` (all fields size_t). Pinned with _Static_assert in shims.c.
typedef struct {
    size_t arena;    ///< non-mmapped space allocated (bytes)
    size_t ordblks;  ///< number of free chunks
    size_t smblks;   ///< number of free fastbin blocks
    size_t hblks;    ///< number of mmapped regions
    size_t hblkhd;   ///< bytes in mmapped regions
    size_t usmblks;  ///< always 0
    size_t fsmblks;  ///< bytes in freed fastbin blocks
    size_t uordblks; ///< total allocated bytes
    size_t fordblks; ///< total free bytes
    size_t keepcost; ///< top-most releasable bytes
} cshims_mallinfo2_t;

/// The system page size in bytes.
size_t cshims_page_size(void);

/// Private anonymous mapping of `length` bytes, PROT_READ|PROT_WRITE.
/// `noreserve` adds MAP_NORESERVE. On success stores the address in `*out` and returns 0; else returns errno.
int cshims_mmap_anonymous(size_t length, int noreserve, void **out);
/// munmap; returns 0 or errno.
int cshims_munmap(void *addr, size_t length);
/// madvise; returns 0 or errno (EINVAL for advice this kernel does not know).
int cshims_madvise(void *addr, size_t length, int advice);
/// mincore; `vec` must hold one byte per page of the range. Returns 0 or errno.
int cshims_mincore(void *addr, size_t length, unsigned char *vec);

/// glibc malloc_trim(pad). Returns what glibc returns (1 = it called madvise; NOT bytes released).
int cshims_malloc_trim(size_t pad);
/// glibc mallinfo2().
cshims_mallinfo2_t cshims_mallinfo2(void);
/// glibc malloc_usable_size(ptr).
size_t cshims_malloc_usable_size(void *ptr);

/// libnuma: 1 when numa_available() succeeds, else 0.
int cshims_numa_available(void);
/// Highest node number, or -1 when NUMA is unavailable.
int cshims_numa_max_node(void);
/// Size and free bytes of `node`. Returns 0, or errno (EINVAL for an absent node, ENOSYS without NUMA).
int cshims_numa_node_size(int node, long long *size, long long *free_bytes);
/// Node of each page (numa_move_pages query, pid 0). `status[i]` gets a node number or a negative errno
/// (-ENOENT: page not populated). Returns 0 or errno.
int cshims_numa_page_nodes(void **pages, size_t count, int *status);
/// mbind(addr, len, mode, nodemask, maxnode, flags). Returns 0 or errno.
int cshims_mbind(void *addr, size_t length, int mode, const unsigned long *nodemask, unsigned long maxnode, unsigned flags);
/// MPOL_BIND, for callers that cannot see <numaif.h>.
int cshims_mpol_bind(void);

/// Loads libunwind.so.8 with dlopen(RTLD_NOW|RTLD_LOCAL) so it never interposes the process's own
/// unwinder (`_Unwind_*`, `backtrace`). Returns 0 when `unw_backtrace` is usable, else an errno (ENOENT).
int cshims_unwind_load(void);
/// Captures up to `size` return addresses with libunwind's unw_backtrace. Returns the count, or -errno.
int cshims_unwind_backtrace(void **buffer, int size);
/// Address of the `_Unwind_RaiseException` the process binds to, and the path of its object (for tests
/// proving libunwind did not replace libgcc_s). Returns 0 or errno.
int cshims_unwinder_origin(char *path, size_t path_size);

// ---- Process lifetime (process.c) ----
/// prctl(PR_SET_PDEATHSIG, signal): the kernel sends `signal` to the caller when its parent exits.
/// Returns 0 or errno.
int cshims_set_parent_death_signal(int signal);

#endif // __linux__

/// A no-op that keeps the module non-empty on non-Linux builds.
void cshims_do_nothing(void);

#ifdef __cplusplus
}
#endif
#endif
