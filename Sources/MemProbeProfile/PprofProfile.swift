/// A pprof profile (the public `profile.proto` format), with strings resolved rather than as string-table indices.
///
/// Field numbers follow the published format: Profile 1 sample_type, 2 sample, 3 mapping, 4 location, 5 function,
/// 6 string_table, 9 time_nanos, 10 duration_nanos, 11 period_type, 12 period, 13 comment, 14 default_sample_type.
package struct PprofProfile: Sendable, Hashable {
    package struct ValueType: Sendable, Hashable {
        package var type: String
        package var unit: String
        package init(type: String, unit: String) { self.type = type; self.unit = unit }
    }

    package struct Sample: Sendable, Hashable {
        /// Innermost first.
        package var locationIDs: [UInt64]
        /// One per sample type.
        package var values: [Int64]
        package init(locationIDs: [UInt64], values: [Int64]) { self.locationIDs = locationIDs; self.values = values }
    }

    package struct Mapping: Sendable, Hashable {
        package var id: UInt64
        package var memoryStart: UInt64
        package var memoryLimit: UInt64
        package var fileOffset: UInt64
        package var filename: String
        package var buildID: String
        package var hasFunctions = false
        package var hasFilenames = false
        package var hasLineNumbers = false
        package var hasInlineFrames = false
        package init(id: UInt64, memoryStart: UInt64, memoryLimit: UInt64, fileOffset: UInt64, filename: String, buildID: String) {
            self.id = id
            self.memoryStart = memoryStart
            self.memoryLimit = memoryLimit
            self.fileOffset = fileOffset
            self.filename = filename
            self.buildID = buildID
        }
    }

    package struct Line: Sendable, Hashable {
        package var functionID: UInt64
        package var line: Int64
        package init(functionID: UInt64, line: Int64) { self.functionID = functionID; self.line = line }
    }

    package struct Location: Sendable, Hashable {
        package var id: UInt64
        package var mappingID: UInt64
        package var address: UInt64
        /// Innermost (inlined) first.
        package var lines: [Line]
        package init(id: UInt64, mappingID: UInt64, address: UInt64, lines: [Line]) {
            self.id = id
            self.mappingID = mappingID
            self.address = address
            self.lines = lines
        }
    }

    package struct Function: Sendable, Hashable {
        package var id: UInt64
        package var name: String
        package var systemName: String
        package var filename: String
        package var startLine: Int64
        package init(id: UInt64, name: String, systemName: String, filename: String, startLine: Int64) {
            self.id = id
            self.name = name
            self.systemName = systemName
            self.filename = filename
            self.startLine = startLine
        }
    }

    package var sampleTypes: [ValueType] = []
    package var samples: [Sample] = []
    package var mappings: [Mapping] = []
    package var locations: [Location] = []
    package var functions: [Function] = []
    package var timeNanos: Int64 = 0
    package var durationNanos: Int64 = 0
    package var periodType: ValueType? = nil
    package var period: Int64 = 0
    package var comments: [String] = []
    /// The sample type a viewer shows by default (nil: the last one, pprof's rule).
    package var defaultSampleType: String? = nil

    package init() {}
}

// MARK: - Encoding

extension PprofProfile {
    /// The uncompressed protobuf bytes.
    package func encoded() -> [UInt8] {
        var strings = StringTable()
        var w = ProtobufWriter(reservingCapacity: 64 + samples.count * 32 + locations.count * 24)
        func valueType(_ field: Int, _ v: ValueType, _ w: inout ProtobufWriter) {
            let t = strings.index(v.type), u = strings.index(v.unit)
            w.message(field) { m in
                m.int64(1, t)
                m.int64(2, u)
            }
        }
        for t in sampleTypes { valueType(1, t, &w) }
        for s in samples {
            w.message(2) { m in
                m.packed(1, s.locationIDs)
                m.packed(2, s.values.map { UInt64(bitPattern: $0) })
            }
        }
        for mp in mappings {
            let file = strings.index(mp.filename), build = strings.index(mp.buildID)
            w.message(3) { m in
                m.uint64(1, mp.id)
                m.uint64(2, mp.memoryStart)
                m.uint64(3, mp.memoryLimit)
                m.uint64(4, mp.fileOffset)
                m.int64(5, file)
                m.int64(6, build)
                m.bool(7, mp.hasFunctions)
                m.bool(8, mp.hasFilenames)
                m.bool(9, mp.hasLineNumbers)
                m.bool(10, mp.hasInlineFrames)
            }
        }
        for loc in locations {
            w.message(4) { m in
                m.uint64(1, loc.id)
                m.uint64(2, loc.mappingID)
                m.uint64(3, loc.address)
                for l in loc.lines {
                    m.message(4) { lm in
                        lm.uint64(1, l.functionID)
                        lm.int64(2, l.line)
                    }
                }
            }
        }
        for f in functions {
            let name = strings.index(f.name), sys = strings.index(f.systemName), file = strings.index(f.filename)
            w.message(5) { m in
                m.uint64(1, f.id)
                m.int64(2, name)
                m.int64(3, sys)
                m.int64(4, file)
                m.int64(5, f.startLine)
            }
        }
        // Strings referenced below must be in the table before it is written.
        let comments = self.comments.map { strings.index($0) }
        let period = periodType.map { ($0, strings.index($0.type), strings.index($0.unit)) }
        let defaultType = defaultSampleType.map { strings.index($0) }
        for s in strings.strings { w.string(6, s) }
        w.int64(9, timeNanos)
        w.int64(10, durationNanos)
        if let (_, t, u) = period {
            w.message(11) { m in
                m.int64(1, t)
                m.int64(2, u)
            }
        }
        w.int64(12, self.period)
        for c in comments { w.uint64(13, UInt64(c)) }
        if let d = defaultType { w.int64(14, d) }
        return w.bytes
    }
}

/// The profile's string table: index 0 is the empty string; each string stored once.
private struct StringTable {
    private(set) var strings: [String] = [""]
    private var indices: [String: Int64] = ["": 0]

    mutating func index(_ s: String) -> Int64 {
        if let i = indices[s] { return i }
        let i = Int64(strings.count)
        strings.append(s)
        indices[s] = i
        return i
    }
}

// MARK: - Decoding (untrusted input)

extension PprofProfile {
    /// Decodes uncompressed protobuf bytes, checking every index and id.
    package init(decoding bytes: ArraySlice<UInt8>) throws(ProfileDecodeError) {
        var r = ProtobufReader(bytes)
        var strings: [String] = []
        var rawTypes: [(Int64, Int64)] = []
        var rawPeriod: (Int64, Int64)? = nil
        var rawMappings: [(Mapping, Int64, Int64)] = []
        var rawFunctions: [(Function, Int64, Int64, Int64)] = []
        var rawComments: [Int64] = []
        var rawDefault: Int64 = 0
        var rawSamples: [Sample] = []
        var rawLocations: [Location] = []

        func valueType(_ b: ArraySlice<UInt8>) throws(ProfileDecodeError) -> (Int64, Int64) {
            var m = ProtobufReader(b)
            var t: Int64 = 0, u: Int64 = 0
            while let (f, v) = try m.next() {
                if case .varint(let x) = v {
                    if f == 1 { t = Int64(bitPattern: x) } else if f == 2 { u = Int64(bitPattern: x) }
                }
            }
            return (t, u)
        }

        while let (field, value) = try r.next() {
            switch (field, value) {
            case (1, .bytes(let b)): rawTypes.append(try valueType(b))
            case (2, .bytes(let b)):
                var m = ProtobufReader(b)
                var s = Sample(locationIDs: [], values: [])
                var values: [UInt64] = []
                while let (f, v) = try m.next() {
                    if f == 1 { try ProtobufReader.appendVarints(v, to: &s.locationIDs) }
                    else if f == 2 { try ProtobufReader.appendVarints(v, to: &values) }
                }
                s.values = values.map { Int64(bitPattern: $0) }
                rawSamples.append(s)
            case (3, .bytes(let b)):
                var m = ProtobufReader(b)
                var mp = Mapping(id: 0, memoryStart: 0, memoryLimit: 0, fileOffset: 0, filename: "", buildID: "")
                var file: Int64 = 0, build: Int64 = 0
                while let (f, v) = try m.next() {
                    guard case .varint(let x) = v else { continue }
                    switch f {
                    case 1: mp.id = x
                    case 2: mp.memoryStart = x
                    case 3: mp.memoryLimit = x
                    case 4: mp.fileOffset = x
                    case 5: file = Int64(bitPattern: x)
                    case 6: build = Int64(bitPattern: x)
                    case 7: mp.hasFunctions = x != 0
                    case 8: mp.hasFilenames = x != 0
                    case 9: mp.hasLineNumbers = x != 0
                    case 10: mp.hasInlineFrames = x != 0
                    default: break
                    }
                }
                rawMappings.append((mp, file, build))
            case (4, .bytes(let b)):
                var m = ProtobufReader(b)
                var loc = Location(id: 0, mappingID: 0, address: 0, lines: [])
                while let (f, v) = try m.next() {
                    switch (f, v) {
                    case (1, .varint(let x)): loc.id = x
                    case (2, .varint(let x)): loc.mappingID = x
                    case (3, .varint(let x)): loc.address = x
                    case (4, .bytes(let lb)):
                        var lr = ProtobufReader(lb)
                        var line = Line(functionID: 0, line: 0)
                        while let (lf, lv) = try lr.next() {
                            if case .varint(let x) = lv {
                                if lf == 1 { line.functionID = x } else if lf == 2 { line.line = Int64(bitPattern: x) }
                            }
                        }
                        loc.lines.append(line)
                    default: break
                    }
                }
                rawLocations.append(loc)
            case (5, .bytes(let b)):
                var m = ProtobufReader(b)
                var fn = Function(id: 0, name: "", systemName: "", filename: "", startLine: 0)
                var n: Int64 = 0, sys: Int64 = 0, file: Int64 = 0
                while let (f, v) = try m.next() {
                    guard case .varint(let x) = v else { continue }
                    switch f {
                    case 1: fn.id = x
                    case 2: n = Int64(bitPattern: x)
                    case 3: sys = Int64(bitPattern: x)
                    case 4: file = Int64(bitPattern: x)
                    case 5: fn.startLine = Int64(bitPattern: x)
                    default: break
                    }
                }
                rawFunctions.append((fn, n, sys, file))
            case (6, .bytes(let b)): strings.append(String(decoding: b, as: UTF8.self))
            case (9, .varint(let x)): timeNanos = Int64(bitPattern: x)
            case (10, .varint(let x)): durationNanos = Int64(bitPattern: x)
            case (11, .bytes(let b)): rawPeriod = try valueType(b)
            case (12, .varint(let x)): period = Int64(bitPattern: x)
            case (13, _): try ProtobufReader.appendVarints(value, to: &rawComments.asUInt64)
            case (14, .varint(let x)): rawDefault = Int64(bitPattern: x)
            default: break  // unknown fields and labels are skipped, as protobuf readers do
            }
        }

        guard strings.first == "" else { throw .malformed("the string table does not start with the empty string") }
        func string(_ i: Int64, _ what: String) throws(ProfileDecodeError) -> String {
            guard i >= 0, i < Int64(strings.count) else {
                throw .malformed("\(what) refers to string \(i); the table has \(strings.count)")
            }
            return strings[Int(i)]
        }
        for (t, u) in rawTypes {
            sampleTypes.append(ValueType(type: try string(t, "a sample type"), unit: try string(u, "a sample unit")))
        }
        guard !sampleTypes.isEmpty else { throw .malformed("no sample types") }
        if let (t, u) = rawPeriod { periodType = ValueType(type: try string(t, "period type"), unit: try string(u, "period unit")) }
        for c in rawComments { comments.append(try string(c, "a comment")) }
        if rawDefault != 0 { defaultSampleType = try string(rawDefault, "default_sample_type") }

        var mappingIDs = Set<UInt64>()
        for (var mp, file, build) in rawMappings {
            mp.filename = try string(file, "mapping \(mp.id) filename")
            mp.buildID = try string(build, "mapping \(mp.id) build id")
            guard mp.id != 0, mappingIDs.insert(mp.id).inserted else { throw .malformed("mapping id \(mp.id) is zero or repeated") }
            mappings.append(mp)
        }
        var functionIDs = Set<UInt64>()
        for (var fn, n, sys, file) in rawFunctions {
            fn.name = try string(n, "function \(fn.id) name")
            fn.systemName = try string(sys, "function \(fn.id) system name")
            fn.filename = try string(file, "function \(fn.id) filename")
            guard fn.id != 0, functionIDs.insert(fn.id).inserted else { throw .malformed("function id \(fn.id) is zero or repeated") }
            functions.append(fn)
        }
        var locationIDs = Set<UInt64>()
        for loc in rawLocations {
            guard loc.id != 0, locationIDs.insert(loc.id).inserted else { throw .malformed("location id \(loc.id) is zero or repeated") }
            guard loc.mappingID == 0 || mappingIDs.contains(loc.mappingID) else {
                throw .malformed("location \(loc.id) refers to missing mapping \(loc.mappingID)")
            }
            for l in loc.lines where !functionIDs.contains(l.functionID) {
                throw .malformed("location \(loc.id) refers to missing function \(l.functionID)")
            }
        }
        locations = rawLocations
        for (i, s) in rawSamples.enumerated() {
            guard s.values.count == sampleTypes.count else {
                throw .malformed("sample \(i) has \(s.values.count) values for \(sampleTypes.count) sample types")
            }
            for id in s.locationIDs where !locationIDs.contains(id) {
                throw .malformed("sample \(i) refers to missing location \(id)")
            }
        }
        samples = rawSamples
    }
}

private extension Array where Element == Int64 {
    /// Lets the comment indices reuse the UInt64 varint reader.
    var asUInt64: [UInt64] {
        get { map { UInt64(bitPattern: $0) } }
        set { self = newValue.map { Int64(bitPattern: $0) } }
    }
}
