import ArgumentParser
import Hummingbird
import Logging
import MemProbe
import NIOCore
import Prometheus
import ServiceLifecycle
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `kvcache`: an HTTP key-value cache whose values live in a memprobe arena (or, as the baseline, in a Swift
/// `Dictionary`), with the memprobe governor and the HTTP server in one `ServiceGroup`.
@main
struct KVCacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kvcache",
        abstract: "An HTTP key-value cache on memprobe (see docs/kvcache.md).",
        discussion: """
        Prints one line `kvcache pid=P port=N store=S strategy=R limit=L` on stdout once it listens.
        SIGTERM or SIGINT shut it down gracefully (exit 0). Exit 64 for bad options, 1 when it cannot listen.
        """
    )

    enum Store: String, ExpressibleByArgument, CaseIterable {
        case arena, dictionary
    }

    @Option(help: "Where values live: arena (ArenaMap on a PageArena) or dictionary (Swift Dictionary, the baseline).")
    var store: Store = .arena

    @Option(help: "The arena's release strategy (retain, lazyFree, dontNeed, unmap, decay[:DELAY], freeThenPageOut[:DELAY]).")
    var strategy: String = "decay:1s"

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port, printed on start).")
    var port: Int = 8080

    @Option(help: "The governor's soft memory limit (e.g. 800MiB, 2GiB, 90%, off); default MEMPROBE_MEMORY_LIMIT, else 90 % of the cgroup limit.")
    var memoryLimit: String?

    @Option(help: "Largest value accepted by PUT, in bytes (larger: 413).")
    var maxValueSize: Int = 1 << 20

    @Option(help: "Arena store: move the values of sparse pages together after evictions (on or off).")
    var compact: String = "on"

    @Option(help: "Run the memprobe governor: on or off.")
    var governor: String = "on"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535, got \(port)") }
        guard maxValueSize >= 0, maxValueSize <= 1 << 30 else { throw ValidationError("--max-value-size must be 0...1073741824") }
        guard governor == "on" || governor == "off" else { throw ValidationError("--governor must be on or off") }
        guard compact == "on" || compact == "off" else { throw ValidationError("--compact must be on or off") }
        do { _ = try ReleaseStrategy(parsing: strategy) } catch { throw ValidationError("--strategy: \(error)") }
        if let memoryLimit {
            do { _ = try MemoryLimitSetting(parsing: memoryLimit) } catch { throw ValidationError("--memory-limit: \(error)") }
        }
    }

    func run() async throws {
        setvbuf(stdout, nil, _IOLBF, 0)
        var logger = Logger(label: "kvcache")
        logger.logLevel = .warning
        let releaseStrategy = try ReleaseStrategy(parsing: strategy)
        let registry = PrometheusCollectorRegistry()

        let kvStore: any KVStore
        var arena: PageArena?
        switch store {
        case .arena:
            let a = PageArena(strategy: releaseStrategy)
            a.label = "kv"
            arena = a
            kvStore = ArenaKVStore(arena: a)
        case .dictionary:
            kvStore = DictionaryKVStore()
        }

        var services: [any Service] = []
        if let arenaStore = kvStore as? ArenaKVStore, compact == "on" { services.append(KVCompactor(store: arenaStore)) }
        var limitText = "none"
        if governor == "on" {
            var config = MemoryGovernor.Configuration(memoryLimit: try memoryLimit.map { try MemoryLimitSetting(parsing: $0) })
            if let arena { config.arenas = [arena] }
            let g: MemoryGovernor
            do { g = try MemoryGovernor(configuration: config, logger: logger, metricsFactory: PrometheusMetricsFactory(registry: registry)) } catch {
                throw ValidationError("governor: \(error.description)")
            }
            limitText = g.limit.bytes.map { "\($0)" } ?? "none"
            services.append(g)
        }

        let router = Router()
        KVRoutes(store: kvStore, arena: arena, maximumValueSize: maxValueSize, registry: registry).register(on: router)
        let storeName = store.rawValue
        let strategyName = store == .arena ? releaseStrategy.description : "-"
        let compactText = store == .arena ? compact : "-"
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "kvcache"),
            onServerRunning: { [limitText] channel in
                let bound = channel.localAddress?.port ?? -1
                print("kvcache pid=\(getpid()) port=\(bound) store=\(storeName) strategy=\(strategyName) limit=\(limitText) compact=\(compactText)")
            },
            logger: logger
        )
        services.insert(app, at: 0)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do { try await group.run() } catch {
            var line = "kvcache: \(error)\n"
            _ = line.withUTF8 { fwrite($0.baseAddress, 1, $0.count, stderr) }
            throw ExitCode(1)
        }
        withExtendedLifetime(kvStore) {}
    }
}
