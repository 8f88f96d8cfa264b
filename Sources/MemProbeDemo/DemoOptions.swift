import MemProbe

/// `memprobe-demo`'s command line (parsed by hand: the demo links only MemProbe, no ArgumentParser).
struct DemoOptions: Sendable {
    var items = 262_144
    var valueSize = 1024
    var keep = 0
    var strategy: ReleaseStrategy = .decay(delay: .milliseconds(500))
    var governor = true
    var memoryLimit: MemoryLimitSetting?
    var hold: Double = 5
    var thenAllocate = 0
    var help = false

    static let usage = """
        usage: memprobe-demo [--items N] [--value-size SIZE] [--keep K] [--strategy S] [--governor on|off]
                             [--memory-limit SIZE] [--hold SECONDS] [--then-allocate SIZE]
          --items N            values to insert (default 262144)
          --value-size SIZE    bytes per value (e.g. 1024, 4k), stored inline, rounded up to a power of two
                               8 B…64 KiB (default 1024)
          --keep K             values kept after the removal phase (default 0)
          --strategy S         the arena's release strategy: retain, lazyFree, dontNeed, unmap, decay[:DELAY],
                               freeThenPageOut[:DELAY] (default decay:500ms)
          --governor on|off    run a MemoryGovernor in the ServiceGroup (default on)
          --memory-limit SIZE  the governor's soft limit (e.g. 800MiB, 90%, off); default MEMPROBE_MEMORY_LIMIT,
                               else 90 % of the memory cgroup limit
          --hold SECONDS       idle time after the last phase, up to 365 days (default 5)
          --then-allocate SIZE after emptying, malloc SIZE (up to 1 TiB) in 4 MiB steps 50 ms apart and hold it
                               (default 0)
        Prints its pid first ({"pid":N}), then one JSON line per phase. SIGTERM ends it gracefully. Exit 64 on bad usage
        (a malformed, too small or too large number: the reason is named).
        """

    init(parsing args: [String]) throws(DemoUsageError) {
        var i = 0
        func value(_ name: String) throws(DemoUsageError) -> String {
            i += 1
            guard i < args.count else { throw DemoUsageError("\(name) needs a value") }
            return args[i]
        }
        // Counts of values: up to 2^40 (1 TiB of the smallest values; the product with the value size is checked below).
        func count(_ name: String, _ text: String) throws(DemoUsageError) -> Int {
            try DemoOptions.wholeNumber(name, text, 0...(1 << 40))
        }
        while i < args.count {
            let arg = args[i]
            switch arg {
            case "--items": items = try count(arg, try value(arg))
            case "--value-size": valueSize = try DemoOptions.size(arg, try value(arg), 1...65536)
            case "--keep": keep = try count(arg, try value(arg))
            case "--strategy":
                let v = try value(arg)
                do { strategy = try ReleaseStrategy(parsing: v) } catch { throw DemoUsageError("--strategy: \(error)") }
            case "--governor":
                switch try value(arg) {
                case "on": governor = true
                case "off": governor = false
                case let v: throw DemoUsageError("--governor: '\(v)' is not on or off")
                }
            case "--memory-limit":
                do { memoryLimit = try MemoryLimitSetting(parsing: try value(arg)) } catch let e as MemoryLimitError {
                    throw DemoUsageError("--memory-limit: \(e)")
                } catch let e as DemoUsageError { throw e } catch { throw DemoUsageError("\(error)") }
            case "--hold":
                let v = try value(arg)
                guard let s = Double(v), s.isFinite, s >= 0 else {
                    throw DemoUsageError("--hold: '\(v)' is not a number of seconds ≥ 0")
                }
                guard s <= Self.maximumHold else { throw DemoUsageError("--hold: '\(v)' is more than 365 days (\(Int(Self.maximumHold)) s)") }
                hold = s
            case "--then-allocate": thenAllocate = try DemoOptions.size(arg, try value(arg), 0...(1 << 40))
            case "-h", "--help": help = true
            default: throw DemoUsageError("unknown argument '\(arg)'")
            }
            i += 1
        }
        guard keep <= items else { throw DemoUsageError("--keep \(keep) is more than --items \(items)") }
        let (total, overflow) = items.multipliedReportingOverflow(by: storedValueSize)
        guard !overflow, total <= 1 << 40 else {
            throw DemoUsageError("--items \(items) × \(storedValueSize) B values is more than 1 TiB")
        }
    }

    /// The longest `--hold`: 365 days.
    static let maximumHold: Double = 365 * 86_400

    /// `text` as a whole number in `range`, or a usage error that says what is wrong with it: not a whole number,
    /// too small, or too large (also when it does not fit in 64 bits: never a trap or a wrapped value).
    static func wholeNumber(_ name: String, _ text: String, _ range: ClosedRange<Int>) throws(DemoUsageError) -> Int {
        let digits = text.hasPrefix("-") || text.hasPrefix("+") ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw DemoUsageError("\(name): '\(text)' is not a whole number")
        }
        guard let n = Int(text) else {
            throw DemoUsageError("\(name): '\(text)' is too \(text.hasPrefix("-") ? "small" : "large") (\(bounds(range)))")
        }
        guard range.contains(n) else {
            throw DemoUsageError("\(name): \(n) is too \(n < range.lowerBound ? "small" : "large") (\(bounds(range)))")
        }
        return n
    }

    /// `text` as a byte size (e.g. 4096, 4k, 256MiB) in `range`, or a usage error that says what is wrong with it.
    static func size(_ name: String, _ text: String, _ range: ClosedRange<Int>) throws(DemoUsageError) -> Int {
        guard let bytes = ByteFormat.parse(text) else {
            // A well-formed number with a known unit that ByteFormat.parse still refuses is beyond 64 bits: too large.
            let number = text.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            if !number.isEmpty, Double(number) != nil, ByteFormat.parse("1" + text.dropFirst(number.count)) != nil {
                throw DemoUsageError("\(name): '\(text)' is too large (at most \(ByteFormat.human(range.upperBound)))")
            }
            throw DemoUsageError("\(name): '\(text)' is not a size (e.g. 4096, 4k, 256MiB)")
        }
        guard range.contains(bytes) else {
            throw DemoUsageError("\(name): '\(text)' is too \(bytes < range.lowerBound ? "small" : "large") (\(bounds(range, bytes: true)))")
        }
        return bytes
    }

    private static func bounds(_ range: ClosedRange<Int>, bytes: Bool = false) -> String {
        let show: (Int) -> String = { bytes ? ByteFormat.human($0) : String($0) }
        return "\(show(range.lowerBound)) to \(show(range.upperBound))"
    }

    /// The inline size the values really take.
    var storedValueSize: Int { DemoValueSize.supported.first { $0 >= valueSize } ?? Int.max }
}

struct DemoUsageError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A fixed-size inline value.
protocol DemoPayload: Sendable {
    init(fill: UInt8)
}

extension InlineArray: DemoPayload where Element == UInt8 {
    init(fill: UInt8) { self.init(repeating: fill) }
}

protocol DemoValueVisitor: Sendable {
    func visit<P: DemoPayload>(_ type: P.Type) async throws
}

enum DemoValueSize {
    static let supported: [Int] = (3...16).map { 1 << $0 }

    static func run<V: DemoValueVisitor>(size: Int, _ v: V) async throws {
        switch size {
        case 8: try await v.visit(InlineArray<8, UInt8>.self)
        case 16: try await v.visit(InlineArray<16, UInt8>.self)
        case 32: try await v.visit(InlineArray<32, UInt8>.self)
        case 64: try await v.visit(InlineArray<64, UInt8>.self)
        case 128: try await v.visit(InlineArray<128, UInt8>.self)
        case 256: try await v.visit(InlineArray<256, UInt8>.self)
        case 512: try await v.visit(InlineArray<512, UInt8>.self)
        case 1024: try await v.visit(InlineArray<1024, UInt8>.self)
        case 2048: try await v.visit(InlineArray<2048, UInt8>.self)
        case 4096: try await v.visit(InlineArray<4096, UInt8>.self)
        case 8192: try await v.visit(InlineArray<8192, UInt8>.self)
        case 16384: try await v.visit(InlineArray<16384, UInt8>.self)
        case 32768: try await v.visit(InlineArray<32768, UInt8>.self)
        default: try await v.visit(InlineArray<65536, UInt8>.self)
        }
    }
}
