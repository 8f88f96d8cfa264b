#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeArena
import MemProbeSystem
import Synchronization
import Testing
import MemProbeTestSupport

/// Runs `bodies` on POSIX threads at once and joins them (pthread_join returns after the thread's TLS
/// destructors, i.e. after its thread caches were flushed).
private func onThreads(_ bodies: [@Sendable () -> Void]) {
    final class Box: @unchecked Sendable { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
    var threads: [pthread_t] = []
    for body in bodies {
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, Unmanaged.passRetained(Box(body)).toOpaque())
        precondition(rc == 0)
        threads.append(t)
    }
    for t in threads { pthread_join(t, nil) }
}

/// A pthread-mutex lock (TSan does not see the happens-before edges of `Synchronization.Mutex`'s PI futex on
/// Linux, see `ArenaLock`).
private final class PthreadLocked<Value>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)  // must never move
    private var value: Value
    init(_ value: Value) { self.value = value; mutex.initialize(to: pthread_mutex_t()); pthread_mutex_init(mutex, nil) }
    deinit { pthread_mutex_destroy(mutex); mutex.deallocate() }
    func withLock<R>(_ body: (inout Value) -> R) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body(&value)
    }
}

/// Pointers handed between threads in tests.
private final class Pointers: @unchecked Sendable {
    var items: [(UnsafeMutableRawPointer, Int)] = []
}

@Suite struct ThreadCacheTests {
    static let sizes = [0, 1, 16, 20, 33, 48, 64, 100, 128, 129, 160, 200, 256]

    @Test func cachedBlocksAreExactInTheBooksAndComeBackOnRelease() throws {
        let arena = PageArena(strategy: .dontNeed, configuration: .init(threadCache: true))
        var live: [(UnsafeMutableRawPointer, Int)] = []
        var bytes = 0
        for i in 0..<3_000 {
            let size = Self.sizes[i % Self.sizes.count]
            let p = try arena.allocate(byteCount: size)
            if size > 0 { p.storeBytes(of: UInt8(truncatingIfNeeded: i), toByteOffset: size - 1, as: UInt8.self) }
            live.append((p, size))
            bytes += size
        }
        #expect(Set(live.map(\.0)).count == live.count, "no block handed out twice")
        var s = arena.stats
        expectInvariants(s)
        #expect(s.alloc == bytes, "Alloc counts exactly the requested bytes")
        // Free every other block: they go into the cache (or back to the core when a class is full).
        for (i, (p, size)) in live.enumerated() where i % 2 == 0 {
            if size > 0 { #expect(p.load(fromByteOffset: size - 1, as: UInt8.self) == UInt8(truncatingIfNeeded: i)) }
            arena.deallocate(p, byteCount: size)
            bytes -= size
        }
        s = arena.stats
        expectInvariants(s)
        #expect(s.alloc == bytes)
        #expect(arena.threadCachedBytes > 0, "freed blocks wait in this thread's cache")
        #expect(arena.threadCachedBytes <= 12 * 16384, "bounded: 16 KiB per cached class")
        for (i, (p, size)) in live.enumerated() where i % 2 == 1 { arena.deallocate(p, byteCount: size) }
        #expect(arena.stats.alloc == 0)
        try arena.release()
        #expect(arena.threadCachedBytes == 0, "release() flushes the calling thread's cache")
        s = arena.stats
        expectInvariants(s)
        #expect(s.alloc == 0 && s.heapInuse == 0, "every page back: \(s)")
        try expectResidencyInvariant(arena)
    }

    @Test func aThreadsCachedBlocksComeBackWhenItExits() throws {
        let arena = PageArena(strategy: .dontNeed, configuration: .init(threadCache: true))
        let handed = Pointers()
        let cachedWhileRunning = Atomic<Int>(0)
        onThreads([{
            var mine: [UnsafeMutableRawPointer] = []
            for _ in 0..<500 { mine.append(try! arena.allocate(byteCount: 64)) }
            for p in mine.dropLast(10) { arena.deallocate(p, byteCount: 64) }
            // 10 blocks stay allocated and outlive the thread; the 490 freed sit (partly) in its cache.
            handed.items = mine.suffix(10).map { ($0, 64) }
            cachedWhileRunning.store(arena.threadCachedBytes, ordering: .relaxed)
        }])
        #expect(cachedWhileRunning.load(ordering: .relaxed) > 0, "the thread's cache held blocks before it exited")
        #expect(arena.threadCachedBytes == 0, "thread exit flushed its cache")
        var s = arena.stats
        expectInvariants(s)
        #expect(s.alloc == 10 * 64, "the live blocks of an exited thread stay counted: \(s)")
        #expect(s.heapInuse <= 3 * pageSize, "the 490 cached blocks' pages went back (8 pages were used): \(s)")
        for (p, size) in handed.items { arena.deallocate(p, byteCount: size) }  // freed on another thread
        try arena.release()
        s = arena.stats
        expectInvariants(s)
        #expect(s.alloc == 0 && s.heapInuse == 0, "\(s)")
        try expectResidencyInvariant(arena)
    }

    @Test func eightThreadsCrossThreadFreesAndAStatsReader() throws {
        let arena = PageArena(strategy: .dontNeed, configuration: .init(regionSize: MiB, threadCache: true))
        let done = Atomic<Int>(0)
        let failures = Atomic<Int>(0)
        let exchange = PthreadLocked<[(UInt, Int)]>([])
        var bodies: [@Sendable () -> Void] = []
        for t in 0..<8 {
            bodies.append {
                defer { done.add(1, ordering: .releasing) }
                var rng = TestRandom(seed: UInt64(t + 1))
                var mine: [(UnsafeMutableRawPointer, Int, UInt8)] = []
                for i in 0..<4_000 {
                    if mine.count < 100 && (mine.isEmpty || rng.next() % 2 == 0) {
                        let size = Int(rng.next() % 300)
                        let alignment = rng.next() % 16 == 0 ? 64 : 16
                        let p = try! arena.allocate(byteCount: size, alignment: alignment)
                        if Int(bitPattern: p) % alignment != 0 { failures.add(1, ordering: .relaxed) }
                        let tag = UInt8(truncatingIfNeeded: t &* 31 &+ i)
                        if size > 0 { p.storeBytes(of: tag, toByteOffset: size - 1, as: UInt8.self) }
                        mine.append((p, size, tag))
                    } else {
                        let (p, size, tag) = mine.remove(at: Int(rng.next() % UInt64(mine.count)))
                        if size > 0 && p.load(fromByteOffset: size - 1, as: UInt8.self) != tag { failures.add(1, ordering: .relaxed) }
                        if size % 3 == 0 {
                            // Hand it to another thread to free (cross-thread free into that thread's cache).
                            exchange.withLock { $0.append((UInt(bitPattern: p), size)) }
                        } else {
                            arena.deallocate(p, byteCount: size)
                        }
                    }
                    if let (a, size) = exchange.withLock({ $0.popLast() }) {
                        arena.deallocate(UnsafeMutableRawPointer(bitPattern: a)!, byteCount: size)
                    }
                }
                for (p, size, _) in mine { arena.deallocate(p, byteCount: size) }
            }
        }
        bodies.append {
            var reads = 0
            while done.load(ordering: .acquiring) < 8 || reads == 0 {
                let s = arena.stats
                reads += 1
                if !(s.alloc >= 0 && s.alloc <= s.heapInuse && s.heapInuse + s.heapIdle == s.sys && s.heapReleased <= s.heapIdle) {
                    failures.add(1, ordering: .relaxed)
                }
            }
        }
        onThreads(bodies)
        for (a, size) in exchange.withLock({ $0 }) { arena.deallocate(UnsafeMutableRawPointer(bitPattern: a)!, byteCount: size) }
        #expect(failures.load(ordering: .relaxed) == 0)
        try arena.release()
        let s = arena.stats
        expectInvariants(s)
        #expect(s.alloc == 0 && s.heapInuse == 0, "\(s)")
        try expectResidencyInvariant(arena)
    }

    @Test func unusuallyAlignedSmallBlocksAreNotMixedIntoTheWrongClass() throws {
        let arena = PageArena(strategy: .retain, configuration: .init(threadCache: true))
        let a = try arena.allocate(byteCount: 48, alignment: 32)   // the 64 B class
        let b = try arena.allocate(byteCount: 100, alignment: 4096)  // no class fits: a page run
        let c = try arena.allocate(byteCount: 48)                  // the 48 B class, cached
        #expect(Int(bitPattern: a) % 32 == 0 && Int(bitPattern: b) % 4096 == 0)
        #expect(arena.stats.alloc == 196)
        arena.deallocate(a, byteCount: 48)
        arena.deallocate(b, byteCount: 100)
        arena.deallocate(c, byteCount: 48)
        #expect(arena.stats.alloc == 0)
        // The 64 B block went back to its own class: a 64 B allocation reuses it, a 48 B one does not get it.
        let d = try arena.allocate(byteCount: 48)
        #expect(d == c)
        arena.deallocate(d, byteCount: 48)
        try arena.release()
        #expect(arena.stats.heapInuse == 0)
    }

    @Test func arenasDyingWhileThreadsHoldCachesOfThem() throws {
        // The main test thread and a worker each cache blocks of many short-lived arenas.
        for _ in 0..<50 {
            let arena = PageArena(configuration: .init(threadCache: true))
            let p = try arena.allocate(byteCount: 32)
            arena.deallocate(p, byteCount: 32)
            #expect(arena.threadCachedBytes > 0, "the freed block and the rest of its refill stay cached")
        }
        let holder = Pointers()
        onThreads([{
            for _ in 0..<50 {
                let arena = PageArena(configuration: .init(threadCache: true))
                let p = try! arena.allocate(byteCount: 32)
                arena.deallocate(p, byteCount: 32)
            }
            holder.items = []
        }])
        let arena = PageArena(configuration: .init(threadCache: true))
        let p = try arena.allocate(byteCount: 32)
        #expect(arena.stats.alloc == 32)
        arena.deallocate(p, byteCount: 32)
        #expect(arena.stats.alloc == 0)
    }
}
