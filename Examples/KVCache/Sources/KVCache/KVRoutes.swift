import Foundation
import Hummingbird
import MemProbe
import MemProbeProfile
import NIOCore
import Prometheus

/// The HTTP API (see docs/kvcache.md):
/// `PUT|GET|DELETE /kv/{key}`, `POST /kv/_fill?count=N&size=B&prefix=P`, `POST /kv/_evict?keep=K[&stride=S]`,
/// `POST /kv/_compact`,
/// `GET /debug/memstats`, `GET /debug/pprof/heap` (gzip'ed pprof heap profile), `GET /metrics`, `GET /healthz`.
struct KVRoutes: Sendable {
    let store: any KVStore
    let arena: PageArena?
    let maximumValueSize: Int
    let registry: PrometheusCollectorRegistry
    let itemsGauge: Prometheus.Gauge
    let valueBytesGauge: Prometheus.Gauge

    init(store: any KVStore, arena: PageArena?, maximumValueSize: Int, registry: PrometheusCollectorRegistry) {
        self.store = store
        self.arena = arena
        self.maximumValueSize = maximumValueSize
        self.registry = registry
        itemsGauge = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "kvcache", metricName: "values", unitName: "count", helpText: "Values held by the cache."))
        valueBytesGauge = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "kvcache", metricName: "value", unitName: "bytes", helpText: "Sum of the lengths of the values held."))
    }

    func register(on router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ in "ok\n" }
        router.put("/kv/:key") { request, context in try await answer { try await put(request, context) } }
        router.get("/kv/:key") { _, context in try await answer { try get(context) } }
        router.delete("/kv/:key") { _, context in try await answer { try delete(context) } }
        router.post("/kv/_fill") { request, _ in try await answer { try fill(request) } }
        router.post("/kv/_evict") { request, _ in try await answer { try evict(request) } }
        router.post("/kv/_compact") { _, _ in try await answer { try compact() } }
        router.get("/debug/memstats") { _, _ in try await answer { try memstats() } }
        router.get("/debug/pprof/heap") { _, _ in heapProfile() }
        router.get("/metrics") { _, _ in metrics() }
    }

    /// The process's sampled heap profile (every arena), as Go's `/debug/pprof/heap` serves it: `go tool pprof URL`
    /// reads it. 503 with the reason when nothing samples (MEMPROBE_PROFILE_RATE=0, libunwind missing).
    private func heapProfile() -> Response {
        do {
            let bytes = try HeapProfile.currentProcess()
            return Response(status: .ok, headers: [.contentType: "application/octet-stream"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        } catch {
            return text("\(error.description)\n", .serviceUnavailable)
        }
    }

    /// Runs a handler, turning a refusal into its 4xx response.
    private func answer(_ body: () async throws -> Response) async throws -> Response {
        do { return try await body() } catch let e as KVRequestError { return e.response }
    }

    private func text(_ s: String, _ status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: s)))
    }

    private func put(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let key = try KVInput.key(context.parameters.get("key"))
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > maximumValueSize {
            throw KVRequestError(status: .contentTooLarge, reason: "value of \(declared) bytes is over the maximum of \(maximumValueSize)")
        }
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: maximumValueSize) } catch let e as HTTPError where e.status == .contentTooLarge {
            throw KVRequestError(status: .contentTooLarge, reason: "value is over the maximum of \(maximumValueSize) bytes")
        }
        let replaced = body.withUnsafeReadableBytes { store.put(key, $0) }
        return text(replaced ? "replaced\n" : "created\n", replaced ? .ok : .created)
    }

    private func get(_ context: BasicRequestContext) throws -> Response {
        let key = try KVInput.key(context.parameters.get("key"))
        guard let buffer = store.withValue(key, { ByteBuffer(bytes: $0) }) else {
            throw KVRequestError(status: .notFound, reason: "no value for key '\(key)'")
        }
        return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: ResponseBody(byteBuffer: buffer))
    }

    private func delete(_ context: BasicRequestContext) throws -> Response {
        let key = try KVInput.key(context.parameters.get("key"))
        guard store.delete(key) else { throw KVRequestError(status: .notFound, reason: "no value for key '\(key)'") }
        return text("deleted\n")
    }

    private func fill(_ request: Request) throws -> Response {
        let count = try KVInput.number(request, "count", maximum: KVInput.maximumFillCount)
        let size = try KVInput.number(request, "size", maximum: maximumValueSize)
        let prefix = String(request.uri.queryParameters.get("prefix") ?? "k")
        if prefix.utf8.count > 200 { throw KVRequestError.bad("prefix longer than 200 bytes") }
        if !prefix.isEmpty { _ = try KVInput.key(prefix) }
        let (total, overflow) = count.multipliedReportingOverflow(by: size)
        guard !overflow, total <= KVInput.maximumFillBytes else {
            throw KVRequestError.bad("count × size is over the maximum of \(KVInput.maximumFillBytes) bytes for one fill")
        }
        var value = [UInt8](repeating: 0, count: size)
        var created = 0
        for i in 0..<count {
            let key = prefix + String(i)
            // A different byte per value, so every page is really written.
            let b = UInt8(truncatingIfNeeded: i &* 31 &+ 1)
            for j in 0..<size { value[j] = b &+ UInt8(truncatingIfNeeded: j) }
            if !value.withUnsafeBytes({ store.put(key, $0) }) { created += 1 }
        }
        return text("{\"filled\":\(count),\"created\":\(created),\"size\":\(size)}\n")
    }

    private func evict(_ request: Request) throws -> Response {
        let keep = try KVInput.number(request, "keep", maximum: Int.max)
        let stride = try KVInput.number(request, "stride", maximum: 1 << 20, default: 1)
        guard stride >= 1 else { throw KVRequestError.bad("'stride' must be at least 1") }
        let removed = store.evict(keep: keep, stride: stride)
        return text("{\"removed\":\(removed),\"kept\":\(store.counts.items)}\n")
    }

    private func compact() throws -> Response {
        guard let arenaStore = store as? ArenaKVStore else {
            throw KVRequestError(status: .conflict, reason: "compaction applies to the arena store only")
        }
        return text(arenaStore.compactAndTrim().json + "\n")
    }

    private func memstats() throws -> Response {
        let stats: MemStats
        do { stats = try MemStats.capture(mode: .full, arenas: arena.map { [("kv", $0)] } ?? []) } catch {
            return text("memstats: \(error.description)\n", .internalServerError)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(stats)
        return Response(status: .ok, headers: [.contentType: "application/json"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    private func metrics() -> Response {
        let counts = store.counts
        itemsGauge.set(Double(counts.items))
        valueBytesGauge.set(Double(counts.valueBytes))
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
