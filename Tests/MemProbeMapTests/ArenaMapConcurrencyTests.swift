import MemProbeArena
@testable import MemProbeMap
import MemProbeTestSupport
import Testing

/// Many maps, one arena, several threads: each map is used by one thread at a time, the arena is shared.
@Suite("ArenaMap maps sharing one arena across threads")
struct ArenaMapConcurrencyTests {
    @Test func manyMapsOneArena() async {
        let arena = PageArena(strategy: .dontNeed)
        let workers = 4
        await withTaskGroup(of: Bool.self) { group in
            for w in 0..<workers {
                group.addTask {
                    var ok = true
                    var rng = TestRandom(seed: UInt64(w + 1))
                    // Several small and one larger map per worker, all growing and shrinking at once.
                    var maps = (0..<6).map { _ in ArenaMap<Int, Int>(arena: arena) }
                    var mirrors = Array(repeating: [Int: Int](), count: maps.count)
                    for _ in 0..<6000 {
                        let r = rng.next()
                        let m = Int(r % 6)
                        let k = Int((r >> 8) % (m == 0 ? 4000 : 300))
                        if (r >> 40) % 3 == 0 {
                            ok = ok && maps[m].removeValue(forKey: k) == mirrors[m].removeValue(forKey: k)
                        } else {
                            maps[m][k] = Int(r >> 20)
                            mirrors[m][k] = Int(r >> 20)
                        }
                    }
                    for m in maps.indices {
                        ok = ok && maps[m].count == mirrors[m].count
                        for (k, v) in mirrors[m] { ok = ok && maps[m][k] == v }
                        maps[m]._checkInvariants()
                    }
                    return ok
                }
            }
            for await ok in group { #expect(ok) }
        }
        #expect(arena.stats.alloc == 0, "every map returned its pages")
        expectArenaInvariants(arena)
    }

    @Test func mapHandedFromTaskToTask() async {
        // A map moves between tasks (and so threads); only one uses it at a time.
        let arena = PageArena(strategy: .dontNeed)
        var map = ArenaMap<Int, String>(arena: arena)
        for round in 0..<8 {
            map = await Task.detached { [map] in
                var m = map
                for i in (round * 500)..<((round + 1) * 500) { m[i] = "r\(round)" }
                for i in stride(from: round * 500, to: (round + 1) * 500, by: 5) { m[i] = nil }
                return m
            }.value
        }
        #expect(map.count == 8 * 400)
        map._checkInvariants()
    }
}

/// A tiny deterministic generator (splitmix64), so a failing worker repeats.
