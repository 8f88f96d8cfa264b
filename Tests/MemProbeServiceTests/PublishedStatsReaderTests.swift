#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbe
import Testing
import MemProbeTestSupport

/// The published-stats reader on valid, truncated, corrupt, wrong-version and hostile bytes: a clear error, never a crash.
@Suite struct PublishedStatsReaderTests {
    /// A valid file image with one arena and a governor block.
    static func validImage() -> [UInt8] {
        typealias L = PublishedStatsLayout
        var b = [UInt8](repeating: 0, count: L.fileBytes)
        func put<T: FixedWidthInteger>(_ v: T, _ o: Int) { withUnsafeBytes(of: v.littleEndian) { for (i, x) in $0.enumerated() { b[o + i] = x } } }
        put(L.magic, L.magicOffset)
        put(L.schemaVersion, L.versionOffset)
        put(UInt32(L.headerBytes), L.headerBytesOffset)
        put(UInt64(L.fileBytes), L.fileBytesOffset)
        put(Int64(4242), L.pidOffset)
        put(UInt64(777), L.startTimeOffset)
        put(UInt64(2), L.sequenceOffset)
        put(UInt32(1), L.arenaCountOffset)
        put(UInt32(L.arenaCapacity), L.arenaCapacityOffset)
        put(UInt32(L.arenaRecordBytes), L.arenaRecordBytesOffset)
        let r = L.headerBytes
        put(Int64(1), r + L.arenaIDOffset)
        for (i, c) in "cache".utf8.enumerated() { b[r + L.arenaLabelOffset + i] = c }
        for (i, c) in "decay:500ms".utf8.enumerated() { b[r + L.arenaStrategyOffset + i] = c }
        var s = ArenaStats()
        (s.alloc, s.heapInuse, s.heapIdle, s.heapReleasedLazy, s.heapReleasedDiscarded) = (1000, 8192, 8192, 0, 4096)
        s.heapReleased = 4096
        s.sys = 16384
        for (k, w) in L.words(s).enumerated() { put(Int64(w), r + L.arenaStatsOffset + 8 * k) }
        typealias W = L.GovernorWord
        for w in W.allCases { put(Int64(0), w.offset) }
        put(Int64(1 | 2), W.flags.offset)
        put(Int64(1 << 30), W.limitBytes.offset)
        put(Int64(-1), W.cgroupLimitBytes.offset)
        put(Int64(-1), W.mallocInUseBytes.offset)
        return b
    }

    static func set<T: FixedWidthInteger>(_ b: inout [UInt8], _ v: T, _ o: Int) {
        withUnsafeBytes(of: v.littleEndian) { for (i, x) in $0.enumerated() { b[o + i] = x } }
    }

    @Test func validImageParses() throws {
        let s = try PublishedStatsReader.parse(Self.validImage(), expectedPID: 4242)
        #expect(s.arenas.count == 1 && s.arenas[0].name == "cache" && s.arenas[0].stats.alloc == 1000)
        #expect(s.governor?.limitBytes == 1 << 30 && s.governor?.running == true && s.governor?.cgroupLimitBytes == nil)
    }

    /// Every figure of `ArenaStats.fields` (the one list) has its word in an arena record, and comes back as written.
    @Test func everyArenaStatsFieldFitsTheRecordAndRoundTrips() {
        typealias L = PublishedStatsLayout
        #expect(L.arenaStatsWords == ArenaStats.fields.count)
        #expect(L.arenaStatsOffset + 8 * L.arenaStatsWords <= L.arenaRecordBytes)
        var s = ArenaStats()
        for (i, path) in ArenaStats.fields.enumerated() { s[keyPath: path] = 1000 + i }
        let words = L.words(s)
        #expect(words == (0..<ArenaStats.fields.count).map { 1000 + $0 })
        #expect(L.stats(words) == s)
    }

    @Test func truncatedAtEveryBoundary() {
        let image = Self.validImage()
        for n in [0, 1, 8, 15, 16, 100, 639, 640, 1000, image.count - 1] {
            #expect(throws: PublishedStatsError.self) { try PublishedStatsReader.parse(Array(image.prefix(n))) }
        }
    }

    static let corruptions: [(String, @Sendable (inout [UInt8]) -> Void)] = {
        typealias L = PublishedStatsLayout
        typealias W = L.GovernorWord
        return [
            ("magic", { set(&$0, UInt64(0), L.magicOffset) }),
            ("version", { set(&$0, L.schemaVersion + 1, L.versionOffset) }),
            ("header size", { set(&$0, UInt32(8), L.headerBytesOffset) }),
            ("huge declared size", { set(&$0, UInt64.max, L.fileBytesOffset) }),
            ("declared below header", { set(&$0, UInt64(10), L.fileBytesOffset) }),
            ("pid 0", { set(&$0, Int64(0), L.pidOffset) }),
            ("negative pid", { set(&$0, Int64(-5), L.pidOffset) }),
            ("odd sequence", { set(&$0, UInt64(3), L.sequenceOffset) }),
            ("record size", { set(&$0, UInt32(7), L.arenaRecordBytesOffset) }),
            ("count above capacity", { set(&$0, UInt32(65), L.arenaCountOffset) }),
            ("capacity beyond the file", { set(&$0, UInt32(100_000), L.arenaCapacityOffset); set(&$0, UInt32(100_000), L.arenaCountOffset) }),
            ("negative alloc", { set(&$0, Int64(-1), L.headerBytes + L.arenaStatsOffset) }),
            ("alloc above inuse", { set(&$0, Int64(1 << 40), L.headerBytes + L.arenaStatsOffset) }),
            ("sys mismatch", { set(&$0, Int64(1), L.headerBytes + L.arenaStatsOffset + 8 * 6) }),
            ("label not terminated", { for i in 0..<L.labelBytes { $0[L.headerBytes + L.arenaLabelOffset + i] = 0x41 } }),
            ("label not UTF-8", { $0[L.headerBytes + L.arenaLabelOffset] = 0xff }),
            ("label control character", { $0[L.headerBytes + L.arenaLabelOffset] = 0x1b }),
            ("governor flags", { set(&$0, Int64(99), W.flags.offset) }),
            ("limit source", { set(&$0, Int64(17), W.limitSource.offset) }),
            ("watched figure", { set(&$0, Int64(-3), W.watched.offset) }),
            ("negative counter", { set(&$0, Int64(-9), W.releasedBytes.offset) }),
            ("limit below -1", { set(&$0, Int64.min, W.limitBytes.offset) }),
            // HeapInuse + HeapIdle overflows: the sum check must not trap (found by the published-stats fuzz target).
            ("figures that overflow", { image in
                for field in [\ArenaStats.heapInuse, \.heapIdle, \.sys] {
                    let word = ArenaStats.fields.firstIndex(of: field)!
                    set(&image, Int64.max, L.headerBytes + L.arenaStatsOffset + 8 * word)
                }
            }),
        ]
    }()

    @Test(arguments: 0..<corruptions.count)
    func corruptFieldIsRejectedWithAReason(_ i: Int) {
        var image = Self.validImage()
        Self.corruptions[i].1(&image)
        #expect {
            try PublishedStatsReader.parse(image, expectedPID: 4242)
        } throws: { error in
            let d = (error as? PublishedStatsError)?.description ?? ""
            return !d.isEmpty && !d.contains("\n")
        }
    }

    @Test func wrongPIDAndWrongVersionAreNamed() {
        #expect(throws: PublishedStatsError.corrupt(reason: "names pid 4242, not 1")) {
            try PublishedStatsReader.parse(Self.validImage(), expectedPID: 1)
        }
        var image = Self.validImage()
        Self.set(&image, UInt32(9), PublishedStatsLayout.versionOffset)
        #expect(throws: PublishedStatsError.wrongVersion(found: 9, expected: Int(PublishedStatsLayout.schemaVersion))) { try PublishedStatsReader.parse(image) }
    }

    /// Random mutations of a valid image and random bytes: each either parses or throws; the fuzz entry never traps.
    @Test func randomMutationsNeverCrash() {
        var rng = UInt64(0x5eed)
        func next() -> UInt64 { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng }
        let valid = Self.validImage()
        var parsed = 0
        for round in 0..<3000 {
            var image = valid
            if round % 10 == 0 {
                image = (0..<Int(next() % 2048)).map { _ in UInt8(truncatingIfNeeded: next()) }
            } else {
                for _ in 0..<(1 + Int(next() % 8)) {
                    let o = Int(next() % UInt64(PublishedStatsLayout.headerBytes + 256))
                    image[o] = UInt8(truncatingIfNeeded: next())
                }
                if next() % 4 == 0 { image = Array(image.prefix(Int(next() % UInt64(image.count)))) }
            }
            let r = image.withUnsafeBytes { PublishedStatsReader.fuzz($0) }
            #expect(r == 0 || r == 1)
            parsed += r == 0 ? 1 : 0
        }
        #expect(parsed > 0, "some mutations leave a valid file (e.g. in unused bytes)")
    }

    @Test func startTimeParsing() {
        let line = "1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 12345 300"
        #expect(ProcessStartTime.parse(line) == 987654)
        #expect(ProcessStartTime.parse("garbage") == nil)
        #expect(ProcessStartTime.read(pid: nil) != nil)
    }
}

/// Stale files: a dead pid's file is removed by the next publisher; a reused pid's file is rejected as stale.
@Suite(.serialized) struct PublishedStatsStaleTests {
    @Test func deadAndReusedPIDs() throws {
        let dir = PublishedStatsLocation.directory(uid: geteuid())
        mkdir(dir, 0o700)
        // A dead pid: a child that has exited and been reaped.
        let pid = try spawnProcess("/bin/true")
        reap(pid)
        var image = PublishedStatsReaderTests.validImage()
        PublishedStatsReaderTests.set(&image, Int64(pid), PublishedStatsLayout.pidOffset)
        let deadPath = "\(dir)/\(pid).stats"
        #expect(writeFile(deadPath, image))
        #expect(PublishedStatsReader.isStale(path: deadPath, pid: pid))
        StatsFilePublisher.removeStaleFiles(in: dir, except: getpid())
        var st = stat()
        #expect(stat(deadPath, &st) != 0, "a dead pid's file is cleaned up")

        // A reused pid: a file naming a live process of ours (a child) with another start time.
        let parent = try spawnProcess("/bin/sleep", ["30"])
        defer { kill(parent, SIGKILL); reap(parent) }
        PublishedStatsReaderTests.set(&image, Int64(parent), PublishedStatsLayout.pidOffset)
        PublishedStatsReaderTests.set(&image, UInt64(1), PublishedStatsLayout.startTimeOffset)
        #expect(PublishedStatsLocation.owner(ofProcess: parent) == geteuid())
        let reusedPath = "\(dir)/\(parent).stats"
        #expect(writeFile(reusedPath, image))
        #expect {
            try PublishedStatsReader.read(pid: parent)
        } throws: { error in
            if case .stale = error as? PublishedStatsError { return true }
            return false
        }
        #expect(stat(reusedPath, &st) != 0, "the stale file is removed by the reader that found it")
    }
}
