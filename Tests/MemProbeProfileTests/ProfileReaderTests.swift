import MemProbeArena
@testable import MemProbeProfile
import Testing
import MemProbeTestSupport

/// A small profile exercising every field the encoder writes.
func sampleProfile() -> PprofProfile {
    var p = PprofProfile()
    p.sampleTypes = [.init(type: "alloc_space", unit: "bytes"), .init(type: "inuse_space", unit: "bytes")]
    p.periodType = .init(type: "space", unit: "bytes")
    p.period = 524_288
    p.timeNanos = 1_700_000_000_000_000_000
    p.comments = ["a comment", "ünïcode"]
    p.defaultSampleType = "inuse_space"
    var m = PprofProfile.Mapping(id: 1, memoryStart: 0x1000, memoryLimit: 0x9000, fileOffset: 0x1000, filename: "/bin/x", buildID: "abcd")
    m.hasFunctions = true
    p.mappings = [m]
    p.functions = [
        .init(id: 1, name: "Main.alloc()", systemName: "$s4Main5allocyyF", filename: "", startLine: 0),
        .init(id: 2, name: "Main.main()", systemName: "$s4Main4mainyyF", filename: "main.swift", startLine: 3),
    ]
    p.locations = [
        .init(id: 1, mappingID: 1, address: 0x1234, lines: [.init(functionID: 1, line: 0)]),
        .init(id: 2, mappingID: 1, address: 0x2345, lines: [.init(functionID: 2, line: 12)]),
        .init(id: 3, mappingID: 0, address: 0x7fff_0000_1234, lines: []),
    ]
    p.samples = [
        .init(locationIDs: [1, 2], values: [3 << 20, 1 << 20]),
        .init(locationIDs: [2, 3], values: [1 << 20, 0]),
        .init(locationIDs: [3], values: [-5, Int64.max]),
    ]
    return p
}

@Suite("Profile reader")
struct ProfileReaderTests {
    @Test func roundTripsEveryField() throws {
        let p = sampleProfile()
        #expect(try PprofProfile(decoding: p.encoded()[...]) == p)
        #expect(try ProfileReader.parse(Gzip.compress(p.encoded())) == p)
    }

    @Test func topReportComputesFlatAndCum() throws {
        let r = try ProfileTopReport(sampleProfile(), sampleType: "alloc_space", top: 10)
        #expect(r.total == (4 << 20) - 5)
        let alloc = try #require(r.sites.first { $0.function == "Main.alloc()" })
        #expect(alloc.flat == 3 << 20 && alloc.cum == 3 << 20)
        let main = try #require(r.sites.first { $0.function == "Main.main()" })
        #expect(main.flat == 1 << 20 && main.cum == 4 << 20)
        #expect(r.sites.first?.function == "Main.alloc()")
        #expect(r.table().contains("3.0MiB"))
        #expect(r.json().hasPrefix("{\"sampleType\":\"alloc_space\""))
        // Default sample type: the profile's own.
        #expect(try ProfileTopReport(sampleProfile(), sampleType: nil, top: 1).sampleType == "inuse_space")
        #expect(throws: ProfileReportError.self) { try ProfileTopReport(sampleProfile(), sampleType: "cpu", top: 1) }
    }

    /// Every prefix of a gzip'ed profile is an error (the gzip trailer is checked), never a crash; every prefix of
    /// the raw protobuf either parses or throws.
    @Test func fuzzTargetAcceptsValidProfiles() {
        let gz = Gzip.compress(sampleProfile().encoded())
        #expect(gz.withUnsafeBufferPointer { ProfileReader.fuzzOne($0) })
        #expect(![UInt8]([1, 2, 3]).withUnsafeBufferPointer { ProfileReader.fuzzOne($0) })
    }

    @Test func truncatedInputsNeverCrash() throws {
        let raw = sampleProfile().encoded()
        let gz = Gzip.compress(raw)
        for n in 0..<gz.count {
            #expect(throws: ProfileDecodeError.self) { try ProfileReader.parse(Array(gz.prefix(n))) }
        }
        var parsed = 0
        for n in 0..<raw.count {
            if (try? ProfileReader.parse(Array(raw.prefix(n)))) != nil { parsed += 1 }
        }
        #expect(parsed < raw.count / 2, "most truncations are caught (\(parsed) of \(raw.count) parsed)")
    }

    /// Random byte flips, insertions and deletions over the raw and gzip'ed forms: no crash, no trap.
    @Test func mutatedInputsNeverCrash() {
        var rng = TestRandom(seed: 0x5eed)
        let raw = sampleProfile().encoded()
        let gz = Gzip.compress(raw)
        var errors = 0
        for round in 0..<4000 {
            var b = round % 2 == 0 ? raw : gz
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let i = Int(rng.next() % UInt64(b.count))
                switch rng.next() % 3 {
                case 0: b[i] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                case 1: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
                default: if b.count > 1 { b.remove(at: i) }
                }
            }
            do {
                let p = try ProfileReader.parse(b)
                _ = try? ProfileTopReport(p, sampleType: nil, top: 10).table()
            } catch { errors += 1 }
            // The fuzz target's invariants (re-encoding round trip, a report per sample type) hold too.
            _ = b.withUnsafeBufferPointer { ProfileReader.fuzzOne($0) }
        }
        #expect(errors > 1000)
    }

    @Test(arguments: [
        ([UInt8](), "empty"),
        (Array("not a profile at all".utf8), "text"),
        ([UInt8](repeating: 0xff, count: 11), "varint longer than 64 bits"),
        ([0x0a, 0x7f, 0x08], "length past the end"),
        ([0x1f, 0x8b, 0x08, 0x00], "gzip header only"),
        ([0x32, 0x00], "no sample types, no string table"),
        ([0x0b], "wire type 3 (group)"),
    ] as [([UInt8], String)])
    func corruptInputsAreDataErrors(_ bytes: [UInt8], _ what: String) {
        #expect(throws: ProfileDecodeError.self, "\(what)") { try ProfileReader.parse(bytes) }
    }

    @Test func danglingReferencesAreDataErrors() {
        var p = sampleProfile()
        p.samples[0].locationIDs.append(99)
        #expect(throws: ProfileDecodeError.self) { try ProfileReader.parse(p.encoded()) }
        p = sampleProfile()
        p.locations[0].lines[0].functionID = 7
        #expect(throws: ProfileDecodeError.self) { try ProfileReader.parse(p.encoded()) }
        p = sampleProfile()
        p.locations[1].mappingID = 4
        #expect(throws: ProfileDecodeError.self) { try ProfileReader.parse(p.encoded()) }
        p = sampleProfile()
        p.samples[1].values.removeLast()
        #expect(throws: ProfileDecodeError.self) { try ProfileReader.parse(p.encoded()) }
        p = sampleProfile()
        p.functions[1].id = 1
        #expect(throws: ProfileDecodeError.self) { try ProfileReader.parse(p.encoded()) }
    }

    @Test func stringIndexOutOfRangeIsADataError() {
        // sample_type { type: 5 unit: 0 }, string_table [""]
        let bytes: [UInt8] = [0x0a, 0x04, 0x08, 0x05, 0x10, 0x00, 0x32, 0x00]
        #expect(throws: ProfileDecodeError.self) { try ProfileReader.parse(bytes) }
    }

    @Test func gzipBombIsRefused() {
        let zeros = [UInt8](repeating: 0, count: 4 << 20)
        let gz = Gzip.compress(zeros)
        #expect(gz.count < 64 << 10)
        #expect(throws: ProfileDecodeError.tooLarge("more than \(1 << 20) bytes uncompressed")) {
            try ProfileReader.parse(gz, limit: 1 << 20)
        }
    }
}
