/// The figures of one phase of one contender in one scenario: one JSON record of `memprobe compare`.
///
/// Byte figures are integers; a figure a contender does not have (e.g. `heapInuse` of a `Dictionary`, whose
/// allocator is glibc malloc) or that could not be read is `nil` and encoded as JSON `null`, never left out.
/// The schema is documented in `docs/compare.md`.
package struct CompareRecord: Codable, Sendable, Hashable {
    package var contender: String
    package var scenario: String
    package var phase: String
    package var outcome: CompareOutcome
    /// Live entries in the map after the phase.
    package var items: Int?
    /// Bytes of one value as stored (the requested size rounded up to a supported inline size).
    package var valueSize: Int
    /// Bytes of one value as requested with `--value-size`.
    package var requestedValueSize: Int

    /// Allocator figures: the arena's books (`arena:*`) or mallinfo2 (`dictionary*`: alloc = uordblks + hblkhd,
    /// sys = arena + hblkhd; heapInuse/heapIdle/heapReleased are nil: malloc does not know them).
    package var alloc: Int?
    package var heapInuse: Int?
    package var heapIdle: Int?
    package var sys: Int?
    package var heapReleased: Int?
    package var heapReleasedLazy: Int?
    package var heapReleasedDiscarded: Int?
    /// Resident bytes of the arena's regions by `mincore` (counts lazily freed pages as resident).
    package var arenaResident: Int?

    /// Kernel figures of the child process, from `/proc/self/smaps_rollup`.
    package var rss: Int?
    package var anonymous: Int?
    package var lazyFree: Int?
    /// `rss − lazyFree`: what the process would keep if the kernel needed memory now.
    package var effectiveRss: Int?

    /// The child's own memory cgroup (with `--memory-limit` only): usage and working set (usage − inactive_file).
    package var cgroupUsage: Int?
    package var cgroupWorkingSet: Int?
    package var cgroupLimit: Int?

    /// Wall time of the phase's work (not of its measurement), and of its release call when it made one.
    package var phaseNanoseconds: Int?
    package var releaseNanoseconds: Int?

    package init(
        contender: String, scenario: String, phase: String, outcome: CompareOutcome = .ok, items: Int? = nil,
        valueSize: Int, requestedValueSize: Int
    ) {
        self.contender = contender
        self.scenario = scenario
        self.phase = phase
        self.outcome = outcome
        self.items = items
        self.valueSize = valueSize
        self.requestedValueSize = requestedValueSize
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case contender, scenario, phase, outcome, items, valueSize, requestedValueSize
        case alloc, heapInuse, heapIdle, sys, heapReleased, heapReleasedLazy, heapReleasedDiscarded, arenaResident
        case rss, anonymous, lazyFree, effectiveRss, cgroupUsage, cgroupWorkingSet, cgroupLimit
        case phaseNanoseconds, releaseNanoseconds
    }

    /// Every key of a record, in schema order (the CSV header).
    package static let keys: [String] = CodingKeys.allCases.map(\.stringValue)

    /// The one map from a figure's key to its property (every optional numeric figure). The schema order is
    /// ``CodingKeys``'s; ``numericFields``, ``set(_:_:)``, the encoder and ``median(of:)`` all derive from these
    /// two, so a new figure is one `case` and one entry here (a test checks every key is covered).
    static let optionalFigures: [CodingKeys: WritableKeyPath<CompareRecord, Int?> & Sendable] = [
        .items: \.items, .alloc: \.alloc, .heapInuse: \.heapInuse, .heapIdle: \.heapIdle, .sys: \.sys,
        .heapReleased: \.heapReleased, .heapReleasedLazy: \.heapReleasedLazy,
        .heapReleasedDiscarded: \.heapReleasedDiscarded, .arenaResident: \.arenaResident, .rss: \.rss,
        .anonymous: \.anonymous, .lazyFree: \.lazyFree, .effectiveRss: \.effectiveRss, .cgroupUsage: \.cgroupUsage,
        .cgroupWorkingSet: \.cgroupWorkingSet, .cgroupLimit: \.cgroupLimit, .phaseNanoseconds: \.phaseNanoseconds,
        .releaseNanoseconds: \.releaseNanoseconds,
    ]
    /// The identifying keys (strings and the outcome), encoded before the figures.
    static let identityKeys: [CodingKeys] = [.contender, .scenario, .phase, .outcome]

    /// The numeric keys in schema order: every key but the identifying ones.
    static let numericKeys: [CodingKeys] = CodingKeys.allCases.filter { !identityKeys.contains($0) }

    /// The byte/number figures by key (nil where absent), in schema order, after the identifying keys.
    package var numericFields: [(String, Int?)] {
        Self.numericKeys.map { key in
            switch key {
            case .valueSize: (key.stringValue, valueSize)
            case .requestedValueSize: (key.stringValue, requestedValueSize)
            default: (key.stringValue, Self.optionalFigures[key].flatMap { self[keyPath: $0] })
            }
        }
    }

    /// Sets an optional numeric figure by key (used to build medians); the value sizes are fixed per run.
    package mutating func set(_ key: String, _ value: Int?) {
        guard let k = CodingKeys(rawValue: key), let path = Self.optionalFigures[k] else { return }
        self[keyPath: path] = value
    }

    // Explicit encoding: absent figures are `null`, not missing keys (synthesized Codable would drop them).
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(contender, forKey: .contender)
        try c.encode(scenario, forKey: .scenario)
        try c.encode(phase, forKey: .phase)
        try c.encode(outcome, forKey: .outcome)
        for (key, value) in numericFields {
            try c.encode(value, forKey: CodingKeys(rawValue: key)!)
        }
    }

    /// The median of each figure over repeated runs of the same phase (outcome and identity from the first).
    package static func median(of runs: [CompareRecord]) -> CompareRecord {
        precondition(!runs.isEmpty)
        guard runs.count > 1 else { return runs[0] }
        var result = runs[0]
        for (key, _) in result.numericFields where key != "valueSize" && key != "requestedValueSize" {
            let values = runs.compactMap { r in r.numericFields.first { $0.0 == key }?.1 }.sorted()
            result.set(key, values.isEmpty ? nil : values[(values.count - 1) / 2])
        }
        return result
    }
}

/// A line the `compare-worker` child writes on its standard output: a phase is starting, or its record.
package struct CompareWorkerMessage: Codable, Sendable, Hashable {
    /// The phase now running (for progress), when this line announces one.
    package var starting: String?
    /// The measured record, when this line carries one.
    package var record: CompareRecord?

    package init(starting: String? = nil, record: CompareRecord? = nil) {
        self.starting = starting
        self.record = record
    }
}
