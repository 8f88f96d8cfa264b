#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbe
import MemProbeCompare
import MemProbeSystem

/// `memprobe-bench snapshot`: what a snapshot costs, beside the raw reads it is made of, in the same run.
///
/// Targets: this process (small) and a child holding 1 GiB resident in 4 KiB pages (smaps_rollup walks every
/// page table entry, so its cost grows with RSS; statm does not).
enum SnapshotBenchmarks {
    static func run(_ args: [String]) {
        let holdMiB = args.first.flatMap { Int($0) } ?? 1024
        print("memprobe-bench snapshot — median of repeated runs, ns per call (ratio to the raw read of the same file)\n")
        report(target: "self", pid: getpid(), iterations: 400)
        guard let child = BenchChild.spawn(["_hold", "\(holdMiB)"]) else {
            print("could not start the \(holdMiB) MiB holder process")
            return
        }
        defer { BenchChild.stop(child) }
        report(target: "child with \(holdMiB) MiB resident", pid: child, iterations: 25)
    }

    static func report(target: String, pid: Int32, iterations: Int) {
        let statmFD = open("/proc/\(pid)/statm", O_RDONLY | O_CLOEXEC)
        defer { close(statmFD) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let rawStatm = median(iterations) {
            _ = buffer.withUnsafeMutableBytes { pread(statmFD, $0.baseAddress, $0.count, 0) }
        }
        guard let sampler = try? StatmSampler(pid: pid) else { print("cannot open statm of \(pid)"); return }
        let sampled = median(iterations) { _ = try? sampler.residentBytes() }
        sampler.close()
        let fast = median(iterations) { _ = try? MemStats.capture(pid: pid, mode: .fast) }
        let rawRollup = median(iterations) {
            let fd = open("/proc/\(pid)/smaps_rollup", O_RDONLY | O_CLOEXEC)
            _ = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        let full = median(iterations) { _ = try? MemStats.capture(pid: pid, mode: .full) }
        print("target: \(target) (pid \(pid))")
        var t = TextTable(headers: ["what", "ns/call", "ratio"])
        t.append(["raw pread(statm), kept-open fd", "\(rawStatm)", "1.00 (baseline)"])
        t.append(["StatmSampler.residentBytes()", "\(sampled)", ratio(sampled, rawStatm)])
        t.append(["snapshot --fast (MemStats .fast)", "\(fast)", ratio(fast, rawStatm)])
        t.append(["raw open+read+close smaps_rollup", "\(rawRollup)", "1.00 (baseline)"])
        t.append(["snapshot (MemStats .full)", "\(full)", ratio(full, rawRollup)])
        print(t.render())
        print("")
    }

    static func ratio(_ a: Int, _ b: Int) -> String {
        let r = Double(a) / Double(max(b, 1))
        let hundredths = Int((r * 100).rounded())
        return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
    }

    static func median(_ n: Int, _ body: () -> Void) -> Int {
        body()  // warm up
        var samples: [Int] = []
        samples.reserveCapacity(n)
        for _ in 0..<n {
            let t0 = monotonicNanoseconds()
            body()
            samples.append(monotonicNanoseconds() - t0)
        }
        samples.sort()
        return samples[samples.count / 2]
    }

    /// `memprobe-bench _hold MiB` (a ``BenchChild``): map and write MiB mebibytes, signal readiness, sleep until killed.
    static func hold(_ args: [String]) -> Never {
        let mib = args.first.flatMap { Int($0) } ?? 1024
        let bytes = mib << 20
        let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
        madvise(p, bytes, MADV_NOHUGEPAGE)  // 4 KiB pages: the expensive case for smaps_rollup
        for offset in stride(from: 0, to: bytes, by: VirtualMemory.pageSize) { p.storeBytes(of: 1, toByteOffset: offset, as: UInt8.self) }
        BenchChild.signalReady()
        while true { pause() }
    }
}
