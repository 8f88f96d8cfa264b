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

/// Polls `condition` every 10 ms until it holds or `timeout` passes; returns whether it held.
func eventually(within timeout: Duration, _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try condition()
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
