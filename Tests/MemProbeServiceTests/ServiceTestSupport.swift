#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbe
import MemProbeTestSupport

/// Runs `governor` in a task while `body` runs, then cancels it and waits for it to stop.
func withRunningGovernor<T>(_ governor: MemoryGovernor, _ body: () async throws -> T) async throws -> T {
    let task = Task { try await governor.run() }
    do {
        let r = try await body()
        task.cancel()
        try await task.value
        return r
    } catch {
        task.cancel()
        _ = try? await task.value
        throw error
    }
}

/// A governor configuration for tests: fast ticks, no publishing unless asked, explicit limit (never the env).
func testConfiguration(limit: MemoryLimitSetting = .off, arenas: [PageArena]?, publish: Bool = false) -> MemoryGovernor.Configuration {
    var c = MemoryGovernor.Configuration(memoryLimit: limit)
    c.tickInterval = .milliseconds(20)
    c.metricsInterval = .milliseconds(20)
    c.slowFigureInterval = .milliseconds(200)
    c.publish = publish
    c.arenas = arenas
    return c
}
