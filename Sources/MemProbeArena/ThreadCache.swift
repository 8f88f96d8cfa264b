#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Synchronization

/// One thread's cache of free small blocks for one arena (`Configuration.threadCache`).
///
/// Lives in malloc'ed memory and is touched without a lock only by its thread; the arena's lock is taken only to
/// refill an empty class or flush a full one, half a class at a time. Blocks in a cache are *in use* for the arena
/// core (their slab bits are set, their pages count in HeapInuse) and not in Alloc. Alloc is kept exact by two
/// monotonic counters per cache — requested bytes handed out from the cache (`popped`) and freed into it
/// (`pushed`) — that `PageArena.stats` adds to the core's figure (see `PageArena+ThreadCache.swift` for why the
/// sum never exceeds HeapInuse).
struct ThreadCache {
    /// Blocks of classes up to this size are cached (the 16–256 B range of the issue; larger blocks are rarer and
    /// their lock cost is a smaller share of their use).
    static let maxBlockSize = 256
    /// Bytes of blocks one class may hold; the count is clamped to 64…512 blocks (64: a batch of 64 live blocks,
    /// as in `memprobe-bench arena threads`, cycles within the cache).
    static let bytesPerClass = 16 << 10

    /// The arena's unique id (never reused, so a stale table entry can never match a newer arena).
    let arenaID: Int
    /// The owning arena, unretained: the registry's lock orders thread exit against the arena's deinit.
    let arena: Unmanaged<PageArena>
    /// Blocks held per class.
    let counts: UnsafeMutablePointer<Int>
    /// Each class's stack of block addresses starts at `offsets[c]` in `slots`.
    let slots: UnsafeMutablePointer<UInt>
    /// Shared constant tables: per class capacity, slot offset and block size; class of `(byteCount + 15) >> 4`.
    let layout: UnsafePointer<Int>
    /// `popped`, `pushed`, `cachedBytes` (block bytes held), `dead` (the arena is gone: 1).
    let counters: UnsafeMutablePointer<Atomic<Int>>
    /// ``ThreadCacheLayout/classCount``, kept here so the fast path reads no global (a `static let` costs a
    /// `swift_once` check per access).
    let classCount: Int

    static let popped = 0, pushed = 1, cachedBytes = 2, dead = 3

    @inline(__always) func capacity(_ c: Int) -> Int { layout[c] }
    @inline(__always) func offset(_ c: Int) -> Int { layout[classCount + c] }
    @inline(__always) func blockSize(_ c: Int) -> Int { layout[2 * classCount + c] }
    /// The class of an alignment-16 request of `byteCount` ≤ `maxBlockSize` bytes.
    @inline(__always) func sizeClass(_ byteCount: Int) -> Int {
        layout[3 * classCount + ((byteCount + 15) >> 4)]
    }

    static func create(arenaID: Int, arena: PageArena) -> UnsafeMutablePointer<ThreadCache> {
        let l = ThreadCacheLayout.shared
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: ThreadCacheLayout.classCount)
        counts.initialize(repeating: 0, count: ThreadCacheLayout.classCount)
        let slots = UnsafeMutablePointer<UInt>.allocate(capacity: max(l.totalSlots, 1))
        let counters = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 4)
        for i in 0..<4 { (counters + i).initialize(to: Atomic(0)) }
        let p = UnsafeMutablePointer<ThreadCache>.allocate(capacity: 1)
        p.initialize(to: ThreadCache(
            arenaID: arenaID, arena: Unmanaged.passUnretained(arena), counts: counts, slots: slots,
            layout: UnsafePointer(l.table), counters: counters, classCount: ThreadCacheLayout.classCount))
        return p
    }

    /// Frees the cache's memory (its blocks must have been flushed, or its arena be gone).
    static func destroy(_ p: UnsafeMutablePointer<ThreadCache>) {
        let c = p.pointee
        c.counts.deallocate()
        c.slots.deallocate()
        c.counters.deinitialize(count: 4)
        c.counters.deallocate()
        p.deinitialize(count: 1)
        p.deallocate()
    }
}

/// The per-class constants of every cache, computed once from ``SizeClasses``.
final class ThreadCacheLayout: Sendable {
    /// Cached classes: those of at most ``ThreadCache/maxBlockSize`` bytes.
    static let classCount = SizeClasses.sizes.prefix { $0 <= ThreadCache.maxBlockSize }.count
    static let shared = ThreadCacheLayout()

    /// capacity[classCount], offset[classCount], size[classCount], class of step[maxBlockSize/16 + 1].
    nonisolated(unsafe) let table: UnsafeMutablePointer<Int>
    let totalSlots: Int

    private init() {
        let n = Self.classCount
        let steps = ThreadCache.maxBlockSize / 16 + 1
        table = .allocate(capacity: 3 * n + steps)
        var offset = 0
        for c in 0..<n {
            let size = SizeClasses.sizes[c]
            let cap = min(512, max(64, ThreadCache.bytesPerClass / size))
            table[c] = cap
            table[n + c] = offset
            table[2 * n + c] = size
            offset += cap
        }
        totalSlots = offset
        for step in 0..<steps {
            table[3 * n + step] = SizeClasses.classIndex(byteCount: step * 16, alignment: 16)!
        }
    }
}

/// The calling thread's caches, one per arena it used (a pthread-specific value, so thread exit flushes them).
struct ThreadCacheTable {
    /// The arena used last and its cache: the common case is one arena used many times in a row.
    var lastID: Int = -1
    var last: UnsafeMutablePointer<ThreadCache>? = nil
    var entries: [UnsafeMutablePointer<ThreadCache>] = []
}

/// Process-wide bookkeeping of thread caches: the pthread key whose destructor flushes a thread's caches when it
/// exits, and which caches belong to which arena (so `stats` can add their counters and a dying arena can
/// disown them). One lock orders thread exit, cache creation, arena deinit and stats reads of cached arenas.
enum ThreadCacheRegistry {
    struct State {
        var byArena: [Int: [UnsafeMutablePointer<ThreadCache>]] = [:]
        var nextArenaID = 1
    }

    static let lock = ArenaLock(State())

    static let key: pthread_key_t = {
        var k = pthread_key_t()
        let rc = pthread_key_create(&k) { raw in
            // Called on the exiting thread with its table (glibc has already cleared the slot).
            guard let raw else { return }
            let table = raw.assumingMemoryBound(to: ThreadCacheTable.self)
            ThreadCacheRegistry.threadExited(table)
        }
        precondition(rc == 0, "pthread_key_create: \(rc)")
        return k
    }()

    static func newArenaID() -> Int {
        lock.withLock { s in
            defer { s.nextArenaID += 1 }
            return s.nextArenaID
        }
    }

    /// The calling thread's table, created on first use.
    @inline(__always)
    static func table(key: pthread_key_t) -> UnsafeMutablePointer<ThreadCacheTable> {
        if let raw = pthread_getspecific(key) { return raw.assumingMemoryBound(to: ThreadCacheTable.self) }
        let t = UnsafeMutablePointer<ThreadCacheTable>.allocate(capacity: 1)
        t.initialize(to: ThreadCacheTable())
        pthread_setspecific(key, t)
        return t
    }

    /// Registers a new cache of `arena` for the calling thread.
    static func register(_ cache: UnsafeMutablePointer<ThreadCache>) {
        lock.withLock { $0.byArena[cache.pointee.arenaID, default: []].append(cache) }
    }

    /// Thread exit: every cache whose arena is alive is flushed into it, its counters folded into the arena's
    /// books, and it leaves the registry; caches of dead arenas are just freed.
    static func threadExited(_ table: UnsafeMutablePointer<ThreadCacheTable>) {
        lock.withLock { s in
            for cache in table.pointee.entries {
                let id = cache.pointee.arenaID
                if cache.pointee.counters[ThreadCache.dead].load(ordering: .acquiring) == 0 {
                    // The arena's deinit, if it has begun, waits for this lock: its memory is still valid.
                    cache.pointee.arena._withUnsafeGuaranteedRef { $0.retireThreadCache(cache) }
                    s.byArena[id]?.removeAll { $0 == cache }
                    if s.byArena[id]?.isEmpty == true { s.byArena[id] = nil }
                }
                ThreadCache.destroy(cache)
            }
        }
        table.deinitialize(count: 1)
        table.deallocate()
    }

    /// Arena deinit: its caches are disowned (their blocks die with the arena's mappings); each owning thread
    /// frees the cache's memory when it next looks for another arena's cache, or when it exits.
    static func arenaDied(_ id: Int) {
        lock.withLock { s in
            for cache in s.byArena[id] ?? [] {
                cache.pointee.counters[ThreadCache.dead].store(1, ordering: .releasing)
            }
            s.byArena[id] = nil
        }
    }
}
