import MemProbe
/// One line of the verdict section: a common claim about memory, tested on this run's figures.
///
/// Every verdict has the same shape, so a script can recompute it from the records:
/// `fraction = (figure at phase − figure at baseline) / (figure at peak − figure at baseline)` for one contender,
/// then `verdict` is `true`/`false`/`partly` by ``direction`` and the two thresholds. Nothing is hard-coded but
/// the claims and thresholds.
package struct CompareVerdict: Codable, Sendable, Hashable {
    package enum Value: String, Codable, Sendable, Hashable {
        case `true`, `false`, partly
    }
    /// Whether the claim holds for small fractions (`atMost`) or large ones (`atLeast`).
    package enum Direction: String, Codable, Sendable, Hashable {
        case atMost, atLeast
    }

    package var scenario: String
    package var claim: String
    package var contender: String
    /// The record key compared (`alloc`, `rss`, `effectiveRss`, `lazyFree`).
    package var figure: String
    package var baselinePhase: String
    package var peakPhase: String
    package var phase: String
    /// `figure(peak) − figure(baseline)`: the growth the claim is about.
    package var reference: Int
    /// `figure(phase) − figure(baseline)`: what is left of it.
    package var remaining: Int
    package var direction: Direction
    package var trueThreshold: Double
    package var falseThreshold: Double
    package var verdict: Value

    /// `remaining / reference`.
    package var fraction: Double { Double(remaining) / Double(reference) }

    /// The verdict the thresholds give for `fraction`.
    package static func classify(_ fraction: Double, direction: Direction, trueThreshold: Double, falseThreshold: Double) -> Value {
        switch direction {
        case .atMost: fraction <= trueThreshold ? .true : (fraction >= falseThreshold ? .false : .partly)
        case .atLeast: fraction >= trueThreshold ? .true : (fraction <= falseThreshold ? .false : .partly)
        }
    }

    /// One sentence with the numbers, e.g. "RSS: 1.9 GiB of 2.0 GiB still there after released (97 %)".
    package var measurement: String {
        let pct = Int((fraction * 100).rounded())
        return "\(CompareVerdict.label(figure)): \(ByteFormat.human(remaining)) of the \(ByteFormat.human(reference)) grown by \(peakPhase) left at \(phase) (\(pct) %)"
    }

    static func label(_ key: String) -> String {
        switch key {
        case "alloc": "Alloc"
        case "rss": "RSS"
        case "effectiveRss": "RSS − LazyFree"
        case "lazyFree": "LazyFree"
        default: key
        }
    }
}

/// A claim tested on the records, per contender where it applies.
struct CompareClaim {
    var claim: String
    var scenario: CompareScenario
    var contenders: [CompareContender]
    var figure: String
    var baseline: String
    var peak: String
    var phase: String
    var direction: CompareVerdict.Direction
    var trueThreshold: Double
    var falseThreshold: Double
}

package enum CompareVerdicts {
    /// Growth smaller than this (bytes) is noise: no verdict is drawn from it.
    package static let minimumReference = 1 << 20

    static let dictionaries: [CompareContender] = [.dictionary, .dictionaryTrim]
    static let boxed: [CompareContender] = [.dictionaryBoxed, .dictionaryBoxedTrim]
    static let arenas: [CompareContender] = CompareContender.allCases.filter(\.isArena)
    static let everyone = CompareContender.allCases

    /// The claims; for per-family claims (Alloc is the same for every member) only the first member present is used.
    static func claims(pressure: Bool) -> [(CompareClaim, perFamily: Bool)] {
        var c: [(CompareClaim, Bool)] = []
        for family in [dictionaries, boxed, arenas] {
            c.append((CompareClaim(
                claim: "Memory doesn't come back after delete (Alloc)", scenario: .seed, contenders: family,
                figure: "alloc", baseline: "start", peak: "inserted", phase: "removed", direction: .atLeast,
                trueThreshold: 0.5, falseThreshold: 0.05), true))
        }
        for family in [dictionaries, boxed, arenas] {
            c.append((CompareClaim(
                claim: "Dropping the map gives it back to the allocator (Alloc)", scenario: .seed, contenders: family,
                figure: "alloc", baseline: "start", peak: "inserted", phase: "dropped", direction: .atMost,
                trueThreshold: 0.05, falseThreshold: 0.5), true))
        }
        c.append((CompareClaim(
            claim: "RSS comes back by itself once the map is dropped (no forced release)", scenario: .seed,
            contenders: everyone, figure: "rss", baseline: "start", peak: "inserted", phase: "dropped", direction: .atMost,
            trueThreshold: 0.1, falseThreshold: 0.5), false))
        c.append((CompareClaim(
            claim: "RSS comes back after drop and forced release", scenario: .seed, contenders: everyone.filter { $0 != .arenaLazyFree },
            figure: "rss", baseline: "start", peak: "inserted", phase: "released", direction: .atMost,
            trueThreshold: 0.1, falseThreshold: 0.5), false))
        c.append((CompareClaim(
            claim: "MADV_FREE lowers RSS", scenario: .seed, contenders: [.arenaLazyFree],
            figure: "rss", baseline: "start", peak: "inserted", phase: "released", direction: .atMost,
            trueThreshold: 0.1, falseThreshold: 0.5), false))
        c.append((CompareClaim(
            claim: "MADV_FREE'd memory is reclaimable (RSS − LazyFree falls)", scenario: .seed, contenders: [.arenaLazyFree],
            figure: "effectiveRss", baseline: "start", peak: "inserted", phase: "released", direction: .atMost,
            trueThreshold: 0.1, falseThreshold: 0.5), false))
        c.append((CompareClaim(
            claim: "A forced release with the map alive gives memory back (RSS)", scenario: .keep, contenders: everyone,
            figure: "rss", baseline: "start", peak: "inserted", phase: "released", direction: .atMost,
            trueThreshold: 0.1, falseThreshold: 0.5), false))
        c.append((CompareClaim(
            claim: "Copying the survivors into a new map gives memory back (RSS)", scenario: .keep, contenders: everyone,
            figure: "rss", baseline: "start", peak: "inserted", phase: "copied", direction: .atMost,
            trueThreshold: 0.1, falseThreshold: 0.5), false))
        c.append((CompareClaim(
            claim: "Emptying and refilling makes memory grow (RSS)", scenario: .refill, contenders: everyone,
            figure: "rss", baseline: "start", peak: "inserted", phase: "refilled-\(CompareScenario.refillRounds)",
            direction: .atLeast, trueThreshold: 1.10, falseThreshold: 1.02), false))
        c.append((CompareClaim(
            claim: "A cache at steady size creeps (RSS)", scenario: .churn, contenders: everyone,
            figure: "rss", baseline: "start", peak: "filled", phase: "churn-100%",
            direction: .atLeast, trueThreshold: 1.10, falseThreshold: 1.02), false))
        if pressure {
            for s in CompareScenario.allCases {
                c.append((CompareClaim(
                    claim: "Under the memory limit the kernel takes lazily freed pages back (LazyFree)", scenario: s,
                    contenders: everyone, figure: "lazyFree", baseline: "start", peak: s.pressureAfter, phase: "pressure",
                    direction: .atMost, trueThreshold: 0.9, falseThreshold: 0.99), false))
            }
        }
        return c
    }

    /// The verdicts `records` support; claims without the needed ok records or with growth under
    /// ``minimumReference`` are left out.
    package static func compute(from records: [CompareRecord], pressure: Bool) -> [CompareVerdict] {
        var index: [String: CompareRecord] = [:]
        for r in records where r.outcome == .ok { index["\(r.scenario)|\(r.contender)|\(r.phase)"] = r }
        func figure(_ s: CompareScenario, _ c: CompareContender, _ p: String, _ key: String) -> Int? {
            index["\(s.rawValue)|\(c.rawValue)|\(p)"]?.numericFields.first { $0.0 == key }?.1 ?? nil
        }
        var verdicts: [CompareVerdict] = []
        for (claim, perFamily) in claims(pressure: pressure) {
            for c in claim.contenders {
                guard let base = figure(claim.scenario, c, claim.baseline, claim.figure),
                      let peak = figure(claim.scenario, c, claim.peak, claim.figure),
                      let at = figure(claim.scenario, c, claim.phase, claim.figure)
                else { continue }
                let reference = peak - base
                guard reference >= minimumReference else { continue }
                let remaining = at - base
                let fraction = Double(remaining) / Double(reference)
                verdicts.append(CompareVerdict(
                    scenario: claim.scenario.rawValue, claim: claim.claim, contender: c.rawValue, figure: claim.figure,
                    baselinePhase: claim.baseline, peakPhase: claim.peak, phase: claim.phase, reference: reference,
                    remaining: remaining, direction: claim.direction, trueThreshold: claim.trueThreshold,
                    falseThreshold: claim.falseThreshold,
                    verdict: CompareVerdict.classify(
                        fraction, direction: claim.direction, trueThreshold: claim.trueThreshold,
                        falseThreshold: claim.falseThreshold)))
                if perFamily { break }
            }
        }
        return verdicts
    }
}
