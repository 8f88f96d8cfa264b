#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Logging
import MemProbe
import ServiceLifecycle

/// `memprobe-demo`: the smallest service that adopts memprobe. It fills an `ArenaMap`, removes all but `--keep`
/// values, then idles for `--hold` seconds with a `MemoryGovernor` in its `ServiceGroup` (or without one), printing
/// its pid first and then one JSON line per phase (its arena's stats and its RSS) on stdout. SIGTERM/SIGINT end it
/// gracefully (a last `stopped` line). Links only the MemProbe product.
@main
struct MemProbeDemo {
    static func main() async {
        let options: DemoOptions
        do { options = try DemoOptions(parsing: Array(CommandLine.arguments.dropFirst())) } catch {
            fail(error.description, DemoOptions.usage)
        }
        if options.help {
            print(DemoOptions.usage)
            return
        }
        setvbuf(stdout, nil, _IOLBF, 0)
        print("{\"pid\":\(getpid())}")
        var logger = Logger(label: "memprobe-demo")
        logger.logLevel = .warning
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        var governor: MemoryGovernor?
        if options.governor {
            var config = MemoryGovernor.Configuration(memoryLimit: options.memoryLimit)
            config.metricsInterval = .seconds(3600)  // no metrics backend in the demo
            do { governor = try MemoryGovernor(configuration: config, logger: logger) } catch {
                fail(error.description)
            }
            services.append(.init(service: governor!))
        }
        let work = DemoWorkload(options: options, governor: governor)
        services.append(.init(service: work, successTerminationBehavior: .gracefullyShutdownGroup))
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do { try await group.run() } catch {
            fail("\(error)")
        }
    }

    static func fail(_ message: String, _ usage: String? = nil) -> Never {
        var text = "memprobe-demo: \(message)\n"
        if let usage { text += usage + "\n" }
        _ = text.withCString { fputs($0, stderr) }
        exit(64)
    }
}

/// The demo's work, a Service that returns when done (which shuts the group down).
struct DemoWorkload: Service {
    let options: DemoOptions
    let governor: MemoryGovernor?

    func run() async throws {
        let arena = PageArena(strategy: options.strategy)
        arena.label = "demo"
        let phases = PhasePrinter(arena: arena, governor: governor)
        phases.print("start", items: 0)
        try await DemoValueSize.run(size: options.storedValueSize, DemoFill(options: options, arena: arena, phases: phases))
    }
}

/// Fills and empties the map with values of one inline size, then holds.
struct DemoFill: DemoValueVisitor {
    let options: DemoOptions
    let arena: PageArena
    let phases: PhasePrinter

    func visit<P: DemoPayload>(_: P.Type) async throws {
        var map = ArenaMap<Int, P>(arena: arena)
        for i in 0..<options.items { map[i] = P(fill: UInt8(truncatingIfNeeded: i | 1)) }
        phases.print("filled", items: map.count)
        for i in options.keep..<options.items { map.removeValue(forKey: i) }
        phases.print("emptied", items: map.count)
        var held: [UnsafeMutableRawPointer] = []
        if options.thenAllocate > 0 {
            // glibc memory, in 4 MiB steps 50 ms apart (a service growing elsewhere while the arena holds idle pages).
            let step = 4 << 20
            var done = 0
            while done < options.thenAllocate {
                guard let p = malloc(step) else { break }
                memset(p, 0x5a, step)
                held.append(p)
                done += step
                try await Task.sleep(for: .milliseconds(50))
            }
            phases.print("allocated", items: map.count)
        }
        do {
            let hold = options.hold
            try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(hold)) }
            phases.print("held", items: map.count)
        } catch {
            phases.print("stopped", items: map.count)
        }
        withExtendedLifetime(map) {}
        for p in held { free(p) }
    }
}

/// One JSON line per phase: the arena's books, statm RSS, and the governor's state.
struct PhasePrinter: Sendable {
    let arena: PageArena
    let governor: MemoryGovernor?

    func print(_ phase: String, items: Int) {
        let s = arena.stats
        let rss = (try? Statm.read(pid: nil))?.resident ?? -1
        var fields: [(String, String)] = [
            ("phase", "\"\(phase)\""), ("pid", "\(getpid())"), ("items", "\(items)"), ("alloc", "\(s.alloc)"),
            ("heapInuse", "\(s.heapInuse)"), ("heapIdle", "\(s.heapIdle)"), ("heapReleased", "\(s.heapReleased)"),
            ("heapReleasedLazy", "\(s.heapReleasedLazy)"), ("heapReleasedDiscarded", "\(s.heapReleasedDiscarded)"),
            ("sys", "\(s.sys)"), ("rss", "\(rss)"), ("monotonicNs", "\(monotonicNanoseconds())"),
            ("strategy", "\"\(arena.strategy.description)\""),
        ]
        if let g = governor?.state {
            fields += [
                ("governorLimit", g.limitBytes.map { "\($0)" } ?? "null"), ("governorLimitSource", "\"\(g.limitSource.rawValue)\""),
                ("governorReleased", "\(g.releasedBytes)"), ("governorCpuNs", "\(g.cpuNanoseconds)"),
                ("governorRunNs", "\(g.runNanoseconds)"), ("governorOverruns", "\(g.overrunCount)"),
                ("governorBackingOff", "\(g.backingOff)"), ("governorWatched", g.watchedBytes.map { "\($0)" } ?? "null"),
                ("governorTrimCalls", "\(g.trimCalls)"),
            ]
        }
        Swift.print("{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
    }
}
