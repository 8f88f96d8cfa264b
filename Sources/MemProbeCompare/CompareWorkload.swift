#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeArena
import MemProbeSystem

/// What goes wrong inside a `compare-worker` child.
package enum CompareWorkloadError: Error, CustomStringConvertible {
    case unsupportedValueSize(Int)
    case arenaUnavailable(String)
    case pressureFailed(bytes: Int, error: VirtualMemoryError)

    package var description: String {
        switch self {
        case .unsupportedValueSize(let n):
            "value size \(n) is not supported (1 B … 64 KiB; rounded up to \(CompareValueSize.supported.map(String.init).joined(separator: ", ")))"
        case .arenaUnavailable(let why): "arena contender unavailable: \(why)"
        case .pressureFailed(let n, let e): "could not map \(n) bytes of pressure memory: \(e)"
        }
    }
}

/// One contender running one scenario in the current process: the body of the `compare-worker` child.
///
/// Every phase does its work, then measures (allocator books, `/proc/self/smaps_rollup`, the cgroup) and hands a
/// ``CompareRecord`` to `emit` at once, so a parent still gets the phases before a crash or an OOM kill.
package struct CompareWorkload: Sendable {
    package var contender: CompareContender
    package var scenario: CompareScenario
    package var items: Int
    package var requestedValueSize: Int
    /// Entries kept by the `keep` scenario.
    package var keep: Int
    /// Bytes of fresh memory the `pressure` phase writes; nil: no pressure phase.
    package var pressureBytes: Int?
    /// The child's own memory cgroup, read at each phase; nil when it runs in none of its own.
    package var cgroup: MemoryCgroup?

    package init(
        contender: CompareContender, scenario: CompareScenario, items: Int, requestedValueSize: Int, keep: Int = 100,
        pressureBytes: Int? = nil, cgroup: MemoryCgroup? = nil
    ) {
        self.contender = contender
        self.scenario = scenario
        self.items = items
        self.requestedValueSize = requestedValueSize
        self.keep = keep
        self.pressureBytes = pressureBytes
        self.cgroup = cgroup
    }

    /// The bytes each value really occupies.
    package var storedValueSize: Int {
        contender.isBoxed ? requestedValueSize : (CompareValueSize.stored(forRequested: requestedValueSize) ?? requestedValueSize)
    }

    /// Runs every phase, calling `emit` with a "starting" message and then the record of each.
    package func run(emit: @escaping (CompareWorkerMessage) -> Void) throws {
        guard let size = CompareValueSize.stored(forRequested: requestedValueSize) else {
            throw CompareWorkloadError.unsupportedValueSize(requestedValueSize)
        }
        if contender.isBoxed {
            var store = BoxedDictionaryStore(valueSize: requestedValueSize, trims: contender.trims)
            try runScenario(&store, emit: emit)
        } else if let strategy = contender.arenaStrategy {
            try CompareValueSize.visit(size: size, ArenaVisitor(workload: self, strategy: strategy, emit: emit))
        } else {
            try CompareValueSize.visit(size: size, DictionaryVisitor(workload: self, emit: emit))
        }
    }

    private struct DictionaryVisitor: ComparePayloadVisitor {
        let workload: CompareWorkload
        let emit: (CompareWorkerMessage) -> Void
        func visit<P: ComparePayload>(_ type: P.Type) throws {
            var store = DictionaryStore<P>(trims: workload.contender.trims)
            try workload.runScenario(&store, emit: emit)
        }
    }

    private struct ArenaVisitor: ComparePayloadVisitor {
        let workload: CompareWorkload
        let strategy: ReleaseStrategy
        let emit: (CompareWorkerMessage) -> Void
        func visit<P: ComparePayload>(_ type: P.Type) throws {
            var store = try makeArenaStore(P.self, strategy: strategy)
            try workload.runScenario(&store, emit: emit)
        }
    }

    /// Runs the scenario's phases on `store`.
    func runScenario<S: CompareStore>(_ store: inout S, emit: (CompareWorkerMessage) -> Void) throws {
        let n = items
        var sink: UInt8 = 0
        func fill(_ key: Int) -> UInt8 { UInt8(truncatingIfNeeded: key &* 31 &+ 7) | 1 }

        func phase(_ name: String, _ body: (inout S) throws -> Int?) throws {
            emit(CompareWorkerMessage(starting: name))
            let start = monotonicNanoseconds()
            let forced = try body(&store)
            let ticked = store.tick()
            let releaseNanoseconds = forced == nil && ticked == nil ? nil : (forced ?? 0) + (ticked ?? 0)
            let elapsed = monotonicNanoseconds() - start
            var record = measure(name, store: store)
            record.phaseNanoseconds = elapsed
            record.releaseNanoseconds = releaseNanoseconds
            emit(CompareWorkerMessage(record: record))
            if name == scenario.pressureAfter, let bytes = pressureBytes { try pressurePhase(bytes, store: store, emit: emit) }
        }
        func insertAll(_ s: inout S) { for k in 0..<n { s.insert(key: k, fill: fill(k)) } }
        func removeAll(_ s: inout S) { for k in 0..<n { sink &+= s.remove(key: k) } }

        try phase("start") { _ in nil }
        switch scenario {
        case .seed:
            try phase("inserted") { insertAll(&$0); return nil }
            try phase("removed") { removeAll(&$0); return nil }
            try phase("dropped") { $0.drop(); return nil }
            try phase("released") { $0.forceRelease() }
        case .keep:
            // Survivors are spread evenly over the key (and allocation) order, as an eviction leaves them:
            // each pins its page, which is what makes glibc keep freed interior pages without malloc_trim.
            let kept = min(keep, n)
            let stride = max(1, n / max(kept, 1))
            func survives(_ k: Int) -> Bool { k % stride == 0 && k / stride < kept }
            try phase("inserted") { insertAll(&$0); return nil }
            try phase("removed") { s in
                for k in 0..<n where !survives(k) { sink &+= s.remove(key: k) }
                return nil
            }
            try phase("released") { $0.forceRelease() }
            try phase("copied") { $0.copySurvivors(); return nil }
        case .refill:
            try phase("inserted") { insertAll(&$0); return nil }
            for round in 1...CompareScenario.refillRounds {
                try phase("emptied-\(round)") { removeAll(&$0); return nil }
                try phase("refilled-\(round)") { insertAll(&$0); return nil }
            }
        case .churn:
            try phase("filled") { insertAll(&$0); return nil }
            var live = Array(0..<n)
            var next = n
            var rng = SplitMix64(seed: 0x6d656d70726f6265)
            let quarter = max(1, CompareScenario.churnOperationsPerItem * n / 4)
            for q in 1...4 {
                try phase("churn-\(q * 25)%") { s in
                    for _ in 0..<quarter {
                        let i = Int(rng.next() % UInt64(n))
                        sink &+= s.remove(key: live[i])
                        live[i] = next
                        s.insert(key: next, fill: fill(next))
                        next += 1
                    }
                    return nil
                }
            }
        }
        compareSink = sink
    }

    /// Writes `bytes` of fresh anonymous memory, measures with it held, then unmaps it.
    private func pressurePhase<S: CompareStore>(_ bytes: Int, store: S, emit: (CompareWorkerMessage) -> Void) throws {
        emit(CompareWorkerMessage(starting: "pressure"))
        let start = monotonicNanoseconds()
        // Through the system layer's choke point (mockable, errors typed), not a raw mmap. Not NORESERVE: the
        // pressure must be committed memory the cgroup charges as it is written.
        let p: UnsafeMutableRawPointer
        do {
            p = try VirtualMemory.map(byteCount: bytes, noReserve: false)
        } catch {
            throw CompareWorkloadError.pressureFailed(bytes: bytes, error: error)
        }
        memset(p, 0x5a, bytes)
        let elapsed = monotonicNanoseconds() - start
        var record = measure("pressure", store: store)
        record.phaseNanoseconds = elapsed
        emit(CompareWorkerMessage(record: record))
        try? VirtualMemory.unmap(p, byteCount: bytes)
    }

    private func measure<S: CompareStore>(_ phase: String, store: S) -> CompareRecord {
        var r = CompareRecord(
            contender: contender.rawValue, scenario: scenario.rawValue, phase: phase, items: store.count,
            valueSize: storedValueSize, requestedValueSize: requestedValueSize)
        store.allocatorFigures(into: &r)
        let kernel = try? SmapsRollup.read(pid: nil)
        r.rss = kernel?.rss
        r.anonymous = kernel?.anonymous
        r.lazyFree = kernel?.lazyFree
        if let rss = r.rss { r.effectiveRss = rss - (r.lazyFree ?? 0) }
        if let cgroup, let snap = try? cgroup.snapshot() {
            r.cgroupUsage = snap.usage
            r.cgroupWorkingSet = snap.workingSet
            r.cgroupLimit = snap.limit
        }
        return r
    }
}

/// Keeps the optimizer from discarding the bytes read back.
nonisolated(unsafe) var compareSink: UInt8 = 0

