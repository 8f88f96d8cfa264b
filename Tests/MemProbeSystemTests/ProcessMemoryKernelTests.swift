import Foundation
import SystemPackage
import MemProbeTestSupport
import Testing

@testable import MemProbeSystem

#if canImport(Glibc)
import Glibc
#endif

/// Slack for unrelated allocations of the test process between two readings.
private let slack = 1 * MiB

private func rollupSelf() throws -> SmapsRollup { try SmapsRollup.read(pid: nil) }

private func expectError(
    _ expected: ProcessMemoryError, _ body: () throws(ProcessMemoryError) -> ProcessMemory,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    do {
        let m = try body()
        Issue.record("expected \(expected), got a reading with missing \(m.missing)", sourceLocation: sourceLocation)
    } catch {
        #expect(error == expected, sourceLocation: sourceLocation)
    }
}

@Suite("Process memory against the kernel", .serialized)
struct ProcessMemoryKernelTests {
    @Test func touchDontNeedAndFreeMoveRssAnonymousAndLazyFree() throws {
        let size = 64 * MiB
        let p = try VirtualMemory.map(byteCount: size)
        defer { try? VirtualMemory.unmap(p, byteCount: size) }
        // 4 KiB pages everywhere, so the figures do not depend on the machine's THP setting.
        try? VirtualMemory.advise(p, byteCount: size, .noHugePage)

        // The smaps read allocates (its heap stays resident), so it runs before the rollup readings.
        _ = smapsFields(ofMappingAt: p)
        let r0 = try rollupSelf()
        touch(p, size)
        let m1 = smapsFields(ofMappingAt: p)
        let r1 = try rollupSelf()
        // Process-wide deltas only in the plain pass: under a sanitizer, shadow memory and the arenas' background
        // drainer (still releasing what earlier suites freed) move the process's Rss between the two readings (a TSan
        // run saw −5.7 MiB). The mapping's own smaps entry and mincore below are asserted in every pass.
        if !TestEnvironment.isSanitized {
            #expect(r1.rss! - r0.rss! >= size - slack)
            #expect(r1.anonymous! - r0.anonymous! >= size - slack)
        }
        #expect(try VirtualMemory.residentBytes(p, byteCount: size) == size)
        #expect(m1["Rss"] == size)
        #expect(m1["Anonymous"] == size)

        try VirtualMemory.advise(p, byteCount: size, .dontNeed)
        let r2 = try rollupSelf()
        #expect(r1.rss! - r2.rss! >= size - slack)
        #expect(try VirtualMemory.residentBytes(p, byteCount: size) == 0)
        #expect(smapsFields(ofMappingAt: p)["Rss"] == 0)

        touch(p, size)
        let r3 = try rollupSelf()
        try VirtualMemory.advise(p, byteCount: size, .free)
        let r4 = try rollupSelf()
        #expect(r4.lazyFree! - r3.lazyFree! >= size - slack)
        #expect(abs(r4.rss! - r3.rss!) <= slack)
        // mincore counts lazily freed pages as resident.
        #expect(try VirtualMemory.residentBytes(p, byteCount: size) == size)
        // Up to a per-CPU batch of pages reaches the LazyFree count later.
        #expect((smapsFields(ofMappingAt: p)["LazyFree"] ?? 0) >= size - 256 * 1024)
        print("64 MiB: Rss \(r0.rss! / 1024) → \(r1.rss! / 1024) kB touched → \(r2.rss! / 1024) kB DONTNEED; "
            + "LazyFree \(r3.lazyFree! / 1024) → \(r4.lazyFree! / 1024) kB after MADV_FREE")
    }

    @Test func statusStatmAndSamplerAgreeWithRollup() throws {
        let sampler = try StatmSampler()
        let full = try ProcessMemory.read(pid: nil, mode: .full)
        let status = try ProcStatus.read(pid: nil)
        let sampled = try sampler.residentBytes()
        let statm = try Statm.read(pid: nil)
        #expect(full.missing.isEmpty)
        #expect(full.pid == getpid())
        #expect(full.rollup?.source == .smapsRollup)
        let rss = try #require(full.rollup?.rss)
        let vmRSS = try #require(status.vmRSS)
        #expect(abs(vmRSS - rss) <= slack)
        #expect(abs(sampled - vmRSS) <= slack)
        #expect(abs(statm.resident - vmRSS) <= slack)
        #expect(abs((status.vmSize ?? 0) - statm.size) <= slack)
        #expect(status.name != nil)
        #expect((status.threads ?? 0) >= 1)

        let fast = try ProcessMemory.read(mode: .fast)
        #expect(fast.rollup == nil)
        #expect(fast.status != nil && fast.statm != nil)
        #expect(fast.missing.isEmpty)

        // The sampler tracks a change.
        let size = 16 * MiB
        let p = try VirtualMemory.map(byteCount: size)
        let before = try sampler.residentBytes()
        touch(p, size)
        let after = try sampler.residentBytes()
        try VirtualMemory.unmap(p, byteCount: size)
        #expect(after - before >= size - slack)
    }

    @Test(.enabled(if: !TestEnvironment.isSanitized, "the sanitizer's allocator replaces glibc malloc: malloc_trim has nothing to release"))
    func mallocTrimLowersRSSOfFragmentedHeap() throws {
        let count = 64 * 1024  // 64 MiB of 1 KiB blocks
        let info0 = MallocHeap.info()
        var blocks = [UnsafeMutableRawPointer?](repeating: nil, count: count)
        for i in 0..<count {
            let b = try #require(malloc(1024))
            memset(b, 0x5a, 1024)
            blocks[i] = b
        }
        let info1 = MallocHeap.info()
        if !TestEnvironment.isSanitized { #expect(info1.uordblks - info0.uordblks >= 64 * MiB - slack) }
        for i in 0..<count where i % 64 != 0 {
            free(blocks[i])
            blocks[i] = nil
        }
        let result = try MallocHeap.trim(pad: 0)
        defer { for b in blocks where b != nil { free(b) } }
        print("malloc_trim(0) on 64 MiB fragmented (1 in 64 kept): RSS \(result.residentBefore / 1024) → "
            + "\(result.residentAfter / 1024) kB in \(result.nanoseconds / 1000) µs")
        // About 15 of every 16 pages hold no live block: expect most of the 63 MiB freed to leave RSS.
        #expect(result.releasedBytes >= 32 * MiB)
        #expect(result.nanoseconds > 0)
    }

    @Test func anotherProcess() throws {
        let child = try spawnProcess("/bin/sleep", ["30"])
        var reaped = false
        // Never signal a reaped pid: it may already belong to another process.
        defer {
            if !reaped {
                kill(child, SIGKILL)
                reap(child)
            }
        }
        // Wait until the exec is done and sleep(1) is asleep: its RSS no longer moves.
        var m = try ProcessMemory.read(pid: child)
        for _ in 0..<500 where m.status?.name != "sleep" || m.status?.stateCode != "S" {
            usleep(10_000)
            m = try ProcessMemory.read(pid: child)
        }
        usleep(20_000)
        m = try ProcessMemory.read(pid: child)
        #expect(m.pid == child)
        #expect(m.status?.name == "sleep")
        #expect(m.missing.isEmpty)
        #expect((m.rollup?.rss ?? 0) > 0)
        #expect(m.rollup?.rss == m.status?.vmRSS)
        #expect(m.statm?.resident == m.status?.vmRSS)

        kill(child, SIGKILL)
        reap(child)
        reaped = true
        expectError(.noSuchProcess(pid: child)) { () throws(ProcessMemoryError) in try ProcessMemory.read(pid: child) }
    }

    @Test func zombieHasNoAddressSpace() throws {
        let child = try spawnProcess("/bin/true")
        defer { reap(child) }
        let zombie = eventually(within: .seconds(5)) { (try? ProcStatus.read(pid: child))?.isZombie == true }
        try #require(zombie, "child \(child) did not become a zombie within 5 s")
        #expect(try Statm.read(pid: child).isEmpty)
        #expect(try ProcStatus.read(pid: child).vmRSS == nil)
        expectError(.noAddressSpace(pid: child)) { () throws(ProcessMemoryError) in try ProcessMemory.read(pid: child) }
        expectError(.noAddressSpace(pid: child)) { () throws(ProcessMemoryError) in
            try ProcessMemory.read(pid: child, mode: .fast)
        }
    }

    @Test(.enabled(if: (try? ProcStatus.read(pid: 2))?.name == "kthreadd", "pid 2 is not kthreadd here (pid namespace)"))
    func kernelThreadHasNoAddressSpace() throws {
        expectError(.noAddressSpace(pid: 2)) { () throws(ProcessMemoryError) in try ProcessMemory.read(pid: 2) }
    }

    @Test(.enabled(if: access("/proc/999999", F_OK) != 0, "pid 999999 exists"))
    func nonexistentPid() throws {
        expectError(.noSuchProcess(pid: 999999)) { () throws(ProcessMemoryError) in
            try ProcessMemory.read(pid: 999999)
        }
        #expect(throws: ProcFileError.noSuchProcess(path: "/proc/999999/statm")) { try StatmSampler(pid: 999999) }
    }

    @Test func pressureWhenPresent() throws {
        let present = access(MemoryPressure.path, R_OK) == 0
        let p = try MemoryPressure.read()
        #expect((p != nil) == present)
        if let p { #expect(p.some.totalMicroseconds >= 0) }
    }

    #if ENABLE_MOCKING
    @Test func injectedEINTRIsRetried() throws {
        let mock = SyscallMock()
        mock.fail(.open, with: .interrupted, count: 3)
        mock.fail(.read, with: .interrupted, count: 3)
        let m = try SyscallMock.$current.withValue(mock) { try ProcessMemory.read() }
        #expect(m.missing.isEmpty)
        #expect(m.rollup?.rss != nil)
        #expect(mock.injected(.open) == 3)
        #expect(mock.injected(.read) == 3)
    }

    @Test func injectedENOENT() throws {
        let mock = SyscallMock()
        mock.fail(.open, with: .noSuchFileOrDirectory, count: Int.max)
        SyscallMock.$current.withValue(mock) {
            expectError(.noSuchProcess(pid: getpid())) { () throws(ProcessMemoryError) in try ProcessMemory.read() }
        }
        // ENOENT on smaps_rollup only (a kernel < 4.14): the figures come from summed smaps.
        let once = SyscallMock()
        once.fail(.open, with: .noSuchFileOrDirectory, count: 1)
        let m = try SyscallMock.$current.withValue(once) { try ProcessMemory.read() }
        #expect(m.rollup?.source == .smaps)
        #expect(m.missing.isEmpty)
        let rss = try #require(m.rollup?.rss)
        let vmRSS = try #require(m.status?.vmRSS)
        // Reading the whole smaps allocates its text between the two readings: 10 %. Under ASan/TSan the runtime's
        // shadow memory moves RSS by 100+ MiB within milliseconds, so there the figures are only printed; the
        // plain debug pass asserts the agreement.
        if TestEnvironment.isSanitized {
            print("NOTE: summed smaps Rss \(rss) vs status VmRSS \(vmRSS) (not compared under a sanitizer)")
            #expect(rss > 0)
        } else {
            #expect(abs(rss - vmRSS) <= max(slack, vmRSS / 10))
        }
        #expect(m.rollup?.lazyFree != nil)
    }

    @Test func injectedEACCESFallsBackToStatusAndStatm() throws {
        let mock = SyscallMock()
        mock.fail(.open, with: .permissionDenied, count: 1)
        let m = try SyscallMock.$current.withValue(mock) { try ProcessMemory.read() }
        #expect(m.rollup == nil)
        #expect(m.status?.vmRSS != nil)
        #expect(m.statm != nil)
        #expect(m.missing.map(\.figure) == [.smapsRollup])
        #expect(m.residentBytes == m.status?.vmRSS)
        #expect(m.effectiveResidentBytes == nil)

        let all = SyscallMock()
        all.fail(.open, with: .permissionDenied, count: Int.max)
        SyscallMock.$current.withValue(all) {
            do throws(ProcessMemoryError) {
                _ = try ProcessMemory.read()
                Issue.record("expected notPermitted")
            } catch {
                guard case .notPermitted = error else { Issue.record("got \(error)"); return }
                #expect(!error.description.contains("\n"))
            }
        }
    }

    @Test func injectedESRCHMidReadIsExitedDuringRead() throws {
        let mock = SyscallMock()
        mock.fail(.read, with: .noSuchProcess, count: 1)
        SyscallMock.$current.withValue(mock) {
            expectError(.exitedDuringRead(pid: getpid())) { () throws(ProcessMemoryError) in
                try ProcessMemory.read()
            }
        }
        // ESRCH at open of smaps_rollup while status shows a live mm: it exited between the reads.
        let atOpen = SyscallMock()
        atOpen.fail(.open, with: .noSuchProcess, count: 1)
        SyscallMock.$current.withValue(atOpen) {
            expectError(.exitedDuringRead(pid: getpid())) { () throws(ProcessMemoryError) in
                try ProcessMemory.read()
            }
        }
        // The sampler reports the same.
        let sampler = try StatmSampler()
        let s = SyscallMock()
        s.fail(.read, with: .noSuchProcess, count: 1)
        SyscallMock.$current.withValue(s) {
            #expect(throws: ProcFileError.exitedDuringRead(path: "/proc/self/statm")) { try sampler.sample() }
        }
    }
    #endif
}
