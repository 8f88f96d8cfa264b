import MemProbeArena
import MemProbeSystem

/// Heap profiles of this process in pprof's format, from the allocations its ``PageArena``s sampled.
///
/// Every arena samples by default (one allocation per 512 KiB on average, see ``HeapProfileRate``). A profile
/// has pprof's four sample types — `alloc_objects`, `alloc_space`, `inuse_objects`, `inuse_space` (the default) —
/// each an unbiased estimate of the true totals, with stacks symbolised to demangled Swift names, mappings from
/// `/proc/self/maps` and ELF build ids. `go tool pprof -top FILE` reads it, as does `memprobe profile FILE`.
///
/// ```swift
/// try HeapProfile.write(toPath: "/tmp/heap.pb.gz")
/// ```
public enum HeapProfile {
    /// The gzip'ed profile of every arena alive in the process.
    /// - Throws: ``HeapProfileError/notSampling(_:)`` when no arena samples (profiling off or libunwind missing).
    public static func currentProcess() throws(HeapProfileError) -> [UInt8] {
        let samplers = HeapSamplerRegistry.all()
        if samplers.isEmpty {
            if !Backtrace.isAvailable {
                throw .notSampling("libunwind.so.8 could not be loaded: install libunwind8 (apt-get install libunwind8)")
            }
            if HeapProfileRate.processDefault == 0 {
                throw .notSampling("heap profiling is off (MEMPROBE_PROFILE_RATE=0)")
            }
        }
        return Gzip.compress(build(samplers: samplers).encoded())
    }

    /// Writes ``currentProcess()`` to `path`: into a temporary file in the same directory, renamed over `path` only
    /// once every write, the flush and the close succeeded.
    /// - Throws: ``HeapProfileError/file(_:)`` naming the failed call and its errno (e.g. `write(…)` with `ENOSPC` on
    ///   a full disk); the temporary file is then removed and nothing is left under `path`.
    public static func write(toPath path: String) throws(HeapProfileError) {
        let bytes = try currentProcess()
        do { try ProfileFile.writeAtomically(bytes, to: path) } catch { throw .file(error) }
    }

    /// The gzip'ed profile of the given arenas only.
    /// - Throws: ``HeapProfileError/notSampling(_:)`` when none of them samples.
    public static func profile(of arenas: [PageArena]) throws(HeapProfileError) -> [UInt8] {
        let samplers = arenas.compactMap(\.heapSampler)
        if samplers.isEmpty, let first = arenas.first {
            throw .notSampling("the arena does not sample: \(first.heapProfileStatus)")
        }
        return Gzip.compress(build(samplers: samplers).encoded())
    }

    /// The profile of `samplers`, symbolised against this process's mappings now.
    package static func build(samplers: [HeapSampler], mapsText: String? = nil) -> PprofProfile {
        var stacks: [HeapSampleStack] = []
        for s in samplers { stacks += s.stacks() }
        let period = samplers.first?.meanInterval ?? HeapProfileRate.processDefault
        let maps = mapsText ?? ((try? ProcFile.read(pid: nil, "maps")) ?? "")
        var builder = PprofBuilder(symbolizer: Symbolizer(mapsText: maps))
        return builder.build(stacks: stacks, period: period)
    }
}

/// Why a heap profile could not be produced.
public enum HeapProfileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Nothing samples allocations in this process (the reason says why).
    case notSampling(String)
    /// The profile file could not be written.
    case file(ProfileFileError)

    public var description: String {
        switch self {
        case .notSampling(let why): "no heap profile: \(why)"
        case .file(let e): e.description
        }
    }
}

/// Assembles a ``PprofProfile`` from sampled stacks: one location per distinct return address, one function per
/// distinct symbol, one mapping per file that holds a location.
struct PprofBuilder {
    let symbolizer: Symbolizer
    private var locationIDs: [UInt: UInt64] = [:]
    private var functionIDs: [String: UInt64] = [:]
    private var mappingIDs: [Int: UInt64] = [:]
    private var profile = PprofProfile()
    /// Function of each location id (index id - 1), for trimming the sampler's own frames.
    private var locationFunction: [String] = []
    /// File and line of each call address, from DWARF where the files have it.
    private var positions: [UInt64: DWARFLineTable.Position] = [:]

    init(symbolizer: Symbolizer) { self.symbolizer = symbolizer }

    /// Innermost frames that belong to the sampler and the arena's entry point, not to the caller.
    static func isSamplerFrame(_ name: String) -> Bool {
        name.hasPrefix("cshims_") || name.contains("HeapSampler") || name.hasPrefix("MemProbeArena.PageArena.allocate(")
            || name.hasPrefix("MemProbeArena.PageArena.allocateZeroed(")
            || name.hasPrefix("_ULx86_64_") || name.hasPrefix("unw_") || name.isEmpty
    }

    mutating func build(stacks: [HeapSampleStack], period: Int) -> PprofProfile {
        profile.sampleTypes = [
            .init(type: "alloc_objects", unit: "count"), .init(type: "alloc_space", unit: "bytes"),
            .init(type: "inuse_objects", unit: "count"), .init(type: "inuse_space", unit: "bytes"),
        ]
        profile.periodType = .init(type: "space", unit: "bytes")
        profile.period = Int64(period)
        profile.defaultSampleType = "inuse_space"
        profile.timeNanos = Int64(realtimeNanoseconds())
        profile.comments = [
            "memprobe heap profile: PageArena allocations sampled every \(period) bytes on average (Poisson); "
                + "each sample of s bytes weighted 1/(1-exp(-s/\(period)))"
        ]
        var calls = Set<UInt64>()
        for s in stacks { for a in s.frames { calls.insert(UInt64(a) &- 1) } }
        positions = symbolizer.lines(for: Array(calls))
        var merged: [[UInt64]: [Double]] = [:]
        var order: [[UInt64]] = []
        for s in stacks {
            var ids = s.frames.map { location(for: $0) }
            // Drop the sampler's own innermost frames (unw_backtrace, the C shim, HeapSampler, PageArena.allocate).
            while let first = ids.first, ids.count > 1, Self.isSamplerFrame(locationFunction[Int(first) - 1]) {
                ids.removeFirst()
            }
            let v = [s.allocObjects, s.allocBytes, s.inuseObjects, s.inuseBytes]
            if let old = merged[ids] {
                merged[ids] = zip(old, v).map { $0 + $1 }
            } else {
                merged[ids] = v
                order.append(ids)
            }
        }
        for ids in order {
            let v = merged[ids]!
            profile.samples.append(.init(locationIDs: ids, values: v.map { Int64($0.rounded()) }))
        }
        return profile
    }

    private mutating func location(for returnAddress: UInt) -> UInt64 {
        if let id = locationIDs[returnAddress] { return id }
        let id = UInt64(profile.locations.count + 1)
        locationIDs[returnAddress] = id
        // A return address follows its call: the call instruction is the byte before it.
        let pc = UInt64(returnAddress) &- 1
        var mappingID: UInt64 = 0
        var lines: [PprofProfile.Line] = []
        var functionName = ""
        if let mi = symbolizer.mappingIndex(containing: pc) {
            let mapping = symbolizer.mappings[mi]
            mappingID = self.mapping(mi)
            if let fn = symbolizer.function(at: pc, in: mapping) {
                functionName = fn.name
                let position = positions[pc]
                lines = [.init(functionID: function(fn.name, systemName: fn.systemName, file: position?.file ?? ""),
                               line: position?.line ?? 0)]
                profile.mappings[Int(mappingID) - 1].hasFunctions = true
                if position != nil {
                    profile.mappings[Int(mappingID) - 1].hasFilenames = true
                    profile.mappings[Int(mappingID) - 1].hasLineNumbers = true
                }
            }
        }
        profile.locations.append(.init(id: id, mappingID: mappingID, address: pc, lines: lines))
        locationFunction.append(functionName)
        return id
    }

    private mutating func function(_ name: String, systemName: String, file: String) -> UInt64 {
        if let id = functionIDs[systemName] { return id }
        let id = UInt64(profile.functions.count + 1)
        functionIDs[systemName] = id
        profile.functions.append(.init(id: id, name: name, systemName: systemName, filename: file, startLine: 0))
        return id
    }

    private mutating func mapping(_ index: Int) -> UInt64 {
        if let id = mappingIDs[index] { return id }
        let m = symbolizer.mappings[index]
        let id = UInt64(profile.mappings.count + 1)
        mappingIDs[index] = id
        profile.mappings.append(.init(
            id: id, memoryStart: m.start, memoryLimit: m.end, fileOffset: m.fileOffset, filename: m.path,
            buildID: symbolizer.buildID(m.path)))
        return id
    }
}

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Wall-clock time for the profile's `time_nanos`.
private func realtimeNanoseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}
