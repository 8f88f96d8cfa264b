import MemProbeArena
import MemProbeMap
import MemProbeSystem
import Synchronization
import MemProbeTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Contents of a map as a Dictionary (checks on the way that no key appears twice).
func contents<K: Hashable, V>(of map: ArenaMap<K, V>, sourceLocation: SourceLocation = #_sourceLocation) -> [K: V] {
    var d: [K: V] = [:]
    var n = 0
    for (k, v) in map {
        #expect(d.updateValue(v, forKey: k) == nil, "key \(k) iterated twice", sourceLocation: sourceLocation)
        n += 1
    }
    #expect(n == map.count, "iterated \(n) entries, count says \(map.count)", sourceLocation: sourceLocation)
    return d
}

/// Serializes the tests that read the process's RSS/LazyFree, so they do not see each other's megabytes.
let processMemoryLock = Mutex(())
