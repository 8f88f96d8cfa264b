// CShims: the few C calls Swift cannot make or see directly.
// Every symbol is prefixed `cshims_`. Functions return 0 or an errno value (never print, never set errno only).
// This header includes only <stddef.h>/<stdint.h>; libnuma and libunwind are dlopen'ed (numa.c, shims.c).
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
// NUMA policy modes: CSHIMS_MPOL_* below, each pinned to <linux/mempolicy.h> with _Static_assert in numa.c.

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

// ---- NUMA (CShims/numa.c) ---------------------------------------------------------------------------------
// libnuma is NOT linked: numa.c loads libnuma.so.1 with dlopen(RTLD_NOW|RTLD_LOCAL) on first use, so services
// that link memprobe run without libnuma1 installed and the build needs no libnuma-dev. Every function below
// returns ENOENT (or -1 / 0) when libnuma is missing and ENOSYS when the kernel has no NUMA.

/// mbind/set_mempolicy modes, as the Linux UAPI (<linux/mempolicy.h>) defines them (pinned in numa.c).
#define CSHIMS_MPOL_DEFAULT 0
#define CSHIMS_MPOL_PREFERRED 1
#define CSHIMS_MPOL_BIND 2
#define CSHIMS_MPOL_INTERLEAVE 3

/// Loads libnuma once. 0 when NUMA calls can be made; ENOENT when libnuma.so.1 (or a symbol) is missing;
/// ENOSYS when the kernel has no NUMA support.
int cshims_numa_load(void);
/// Why the load failed (dlerror text or a sentence), or "" after a successful load. Static storage.
const char *cshims_numa_load_message(void);
/// 1 when libnuma is loaded and numa_available() succeeds, else 0.
int cshims_numa_available(void);
/// Highest node number, or -1 when NUMA is unavailable.
int cshims_numa_max_node(void);
/// Size and free bytes of `node`. Returns 0, or errno (EINVAL for an absent node, ENOSYS without NUMA, ENOENT without libnuma).
int cshims_numa_node_size(int node, long long *size, long long *free_bytes);
/// Node of each page (numa_move_pages query, pid 0). `status[i]` gets a node number or a negative errno
/// (-ENOENT: page not populated). Returns 0 or errno.
int cshims_numa_page_nodes(void **pages, size_t count, int *status);
/// mbind(addr, len, mode, nodemask, maxnode, flags) through libnuma. Returns 0 or errno.
int cshims_mbind(void *addr, size_t length, int mode, const unsigned long *nodemask, unsigned long maxnode, unsigned flags);
/// MPOL_BIND (kept for existing callers; CSHIMS_MPOL_BIND is the same number).
int cshims_mpol_bind(void);
/// Tries dlopen(name) the way cshims_numa_load does, without keeping it: 0 if it loads and exports libnuma's
/// entry points, else ENOENT with the loader's message in `message` (for tests and diagnostics).
int cshims_numa_probe_library(const char *name, char *message, size_t message_size);
// ---- end NUMA -----------------------------------------------------------------------------------------------

/// Loads libunwind.so.8 with dlopen(RTLD_NOW|RTLD_LOCAL) so it never interposes the process's own
/// unwinder (`_Unwind_*`, `backtrace`). Returns 0 when `unw_backtrace` is usable, else an errno (ENOENT).
int cshims_unwind_load(void);
/// Captures up to `size` return addresses with libunwind's unw_backtrace. Returns the count, or -errno.
int cshims_unwind_backtrace(void **buffer, int size);
/// Address of the `_Unwind_RaiseException` the process binds to, and the path of its object (for tests
/// proving libunwind did not replace libgcc_s). Returns 0 or errno.
int cshims_unwinder_origin(char *path, size_t path_size);

// ---- Heap profile (CShims/heapprofile.c; issue 10) -------------------------------------------------------------
// Sampling countdown per thread, stack capture for sampled allocations, glibc backtrace (benchmark baseline),
// gzip via zlib (linked: -lz, Debian zlib1g-dev).

/// Deepest stack a heap sample records (frames beyond are dropped).
#define CSHIMS_HEAP_SAMPLE_MAX_FRAMES 64
/// Consumes `cost` (an allocation's bytes divided by its arena's mean sampling interval) from this thread's
/// exponentially distributed budget. Returns 1 when this allocation is to be sampled (a new budget is drawn),
/// else 0. No lock, no allocation.
int cshims_heap_sample_tick(double cost);
/// This thread's budget (read and written only by this thread; `cshims_heap_sample_tick_inline` below).
extern __thread double cshims_heap_sample_budget;
/// The slow path of the tick: first use on this thread, or the budget ran out.
int cshims_heap_sample_refill(double cost);
/// `cshims_heap_sample_tick` inlined into the caller (the arena's allocate path): one thread-local subtraction.
static inline int cshims_heap_sample_tick_inline(double cost) {
    double b = cshims_heap_sample_budget - cost;
    if (__builtin_expect(b > 0.0, 1)) {
        cshims_heap_sample_budget = b;
        return 0;
    }
    return cshims_heap_sample_refill(cost);
}
/// Seeds this thread's sampling random state (benchmarks, tests) and draws a new budget.
void cshims_heap_sample_seed_thread(uint64_t seed);
/// One Exp(1) draw from this thread's random state.
double cshims_heap_sample_exponential(void);
/// Captures the calling thread's stack with unw_backtrace into a per-thread buffer of
/// CSHIMS_HEAP_SAMPLE_MAX_FRAMES entries; stores the buffer in `*frames`. Returns the count, or -errno.
int cshims_heap_sample_stack(void ***frames);
/// Relaxed atomic load / add on a 32-bit counter (the heap sampler's "may be sampled" filter, read without its lock).
static inline uint32_t cshims_atomic_load_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
void cshims_atomic_add_u32(uint32_t *p, int32_t delta);
/// glibc backtrace(3) (the process's own, never libunwind's: libunwind is loaded RTLD_LOCAL).
int cshims_glibc_backtrace(void **buffer, int size);
/// Output room `cshims_gzip` needs for `length` input bytes.
size_t cshims_gzip_bound(size_t length);
/// gzip-compresses `input` into `output`. Returns 0, ENOSPC (output too small), EFBIG (> 4 GiB) or ENOMEM.
int cshims_gzip(const uint8_t *input, size_t length, int level, uint8_t *output, size_t capacity, size_t *written);
/// Inflates a gzip (or zlib) stream. Returns 0 (`*written` bytes out, `*consumed` bytes of input used),
/// ENOSPC when `capacity` is too small (retry with more), EINVAL for corrupt or truncated input, EFBIG, ENOMEM.
int cshims_gunzip(const uint8_t *input, size_t length, uint8_t *output, size_t capacity, size_t *written, size_t *consumed);
// ---- end heap profile -------------------------------------------------------------------------------------------

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
