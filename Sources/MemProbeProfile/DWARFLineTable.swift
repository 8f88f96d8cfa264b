/// File and line of code addresses, from an ELF file's DWARF `.debug_line` (versions 2–5).
///
/// One pass over every line program; only the sequences that contain a queried address keep their rows, so a big
/// debug binary costs time, not memory. Anything malformed ends that unit's program: the addresses it would have
/// answered simply get no line (the profile still has their function).
enum DWARFLineTable {
    struct Position: Hashable {
        var file: String
        var line: Int64
    }

    /// Positions of `addresses` (file virtual addresses). `debugLine` is the section; `lineStr` and `str` are
    /// `.debug_line_str` and `.debug_str` for DWARF 5 string forms (may be empty).
    static func resolve(_ addresses: [UInt64], debugLine: UnsafeRawBufferPointer, lineStr: UnsafeRawBufferPointer,
                        str: UnsafeRawBufferPointer) -> [UInt64: Position] {
        let queries = addresses.sorted()
        var out: [UInt64: Position] = [:]
        guard !queries.isEmpty else { return out }
        var unitStart = 0
        while unitStart + 4 <= debugLine.count {
            var r = Cursor(bytes: debugLine, position: unitStart)
            var length = Int(r.u32())
            var offsetSize = 4
            if length == 0xffff_ffff {
                length = Int(clamping: r.u64())
                offsetSize = 8
            }
            guard !r.failed, length > 0, length <= debugLine.count - r.position else { break }
            let unitEnd = r.position + length
            unitStart = unitEnd
            r.limit = unitEnd
            runUnit(&r, offsetSize: offsetSize, queries: queries, lineStr: lineStr, str: str, into: &out)
        }
        return out
    }

    private static func runUnit(_ r: inout Cursor, offsetSize: Int, queries: [UInt64], lineStr: UnsafeRawBufferPointer,
                                str: UnsafeRawBufferPointer, into out: inout [UInt64: Position]) {
        let version = r.u16()
        guard version >= 2 && version <= 5 else { return }
        if version >= 5 {
            _ = r.u8()  // address_size
            _ = r.u8()  // segment_selector_size
        }
        let headerLength = offsetSize == 8 ? Int(clamping: r.u64()) : Int(r.u32())
        let programStart = r.position + headerLength
        let minInstruction = UInt64(r.u8())
        if version >= 4 { _ = r.u8() }  // maximum_operations_per_instruction (VLIW only)
        let defaultIsStmt = r.u8() != 0
        _ = defaultIsStmt
        let lineBase = Int64(Int8(bitPattern: r.u8()))
        let lineRange = UInt64(r.u8())
        let opcodeBase = Int(r.u8())
        guard !r.failed, lineRange > 0, opcodeBase > 0 else { return }
        var standardLengths = [Int](repeating: 0, count: opcodeBase)
        for i in 1..<opcodeBase { standardLengths[i] = Int(r.u8()) }

        var directories: [String] = []
        var files: [String] = []
        if version >= 5 {
            func entries() -> [(path: String, directory: Int)] {
                let formatCount = Int(r.u8())
                var format: [(UInt64, UInt64)] = []
                for _ in 0..<formatCount { format.append((r.uleb(), r.uleb())) }
                let count = Int(clamping: r.uleb())
                var result: [(String, Int)] = []
                for _ in 0..<min(count, 1 << 20) {
                    var path = "", dir = 0
                    for (content, form) in format {
                        let value = r.form(form, offsetSize: offsetSize, lineStr: lineStr, str: str)
                        if content == 1, case .string(let s) = value { path = s }  // DW_LNCT_path
                        if content == 2, case .number(let n) = value { dir = Int(clamping: n) }  // DW_LNCT_directory_index
                    }
                    if r.failed { break }
                    result.append((path, dir))
                }
                return result
            }
            directories = entries().map(\.path)
            files = entries().map { e in
                e.path.hasPrefix("/") || e.directory >= directories.count ? e.path : directories[e.directory] + "/" + e.path
            }
        } else {
            directories = [""]  // index 0: the compilation directory, not named here
            while !r.failed, let s = r.cString(), !s.isEmpty { directories.append(s) }
            files = [""]  // DWARF < 5 counts files from 1
            while !r.failed, let s = r.cString(), !s.isEmpty {
                let dir = Int(clamping: r.uleb())
                _ = r.uleb()
                _ = r.uleb()
                files.append(s.hasPrefix("/") || dir == 0 || dir >= directories.count ? s : directories[dir] + "/" + s)
            }
        }
        guard !r.failed, programStart <= r.limit else { return }
        r.position = programStart

        // The state machine, keeping one sequence's rows at a time.
        var address: UInt64 = 0, file = 1, line: Int64 = 1
        var rows: [(UInt64, Int, Int64)] = []
        func emit() { rows.append((address, file, line)) }
        func endSequence() {
            defer {
                rows.removeAll(keepingCapacity: true)
                address = 0; file = 1; line = 1
            }
            guard let first = rows.first?.0, address > first else { return }
            // Queries inside [first, address): binary search the first, then walk.
            var lo = 0, hi = queries.count
            while lo < hi { let m = (lo + hi) / 2; if queries[m] < first { lo = m + 1 } else { hi = m } }
            var q = lo
            var row = 0
            while q < queries.count, queries[q] < address {
                while row + 1 < rows.count, rows[row + 1].0 <= queries[q] { row += 1 }
                let (_, f, l) = rows[row]
                if f >= 0, f < files.count, l > 0 { out[queries[q]] = Position(file: files[f], line: l) }
                q += 1
            }
        }
        while !r.failed, r.position < r.limit {
            let opcode = Int(r.u8())
            if opcode >= opcodeBase {
                let adjusted = UInt64(opcode - opcodeBase)
                address &+= (adjusted / lineRange) &* minInstruction
                line += lineBase + Int64(adjusted % lineRange)
                emit()
                continue
            }
            switch opcode {
            case 0:
                let length = Int(clamping: r.uleb())
                let next = r.position + length
                guard length > 0, next <= r.limit else { return }
                switch r.u8() {
                case 1: endSequence()
                case 2: address = r.u64()
                default: break
                }
                r.position = next
            case 1: emit()
            case 2: address &+= r.uleb() &* minInstruction
            case 3: line += r.sleb()
            case 4: file = Int(clamping: r.uleb())
            case 8: address &+= ((255 - UInt64(opcodeBase)) / lineRange) &* minInstruction
            case 9: address &+= UInt64(r.u16())
            default:
                for _ in 0..<standardLengths[opcode] { _ = r.uleb() }
            }
        }
    }

    /// A bounds-checked reader: past the end it sets `failed` and returns zeros.
    private struct Cursor {
        enum FormValue { case string(String), number(UInt64), other }
        let bytes: UnsafeRawBufferPointer
        var position: Int
        var limit: Int
        var failed = false

        init(bytes: UnsafeRawBufferPointer, position: Int) {
            self.bytes = bytes
            self.position = position
            self.limit = bytes.count
        }

        mutating func take(_ n: Int) -> Int? {
            guard !failed, n >= 0, position <= limit - n else { failed = true; return nil }
            defer { position += n }
            return position
        }
        mutating func u8() -> UInt8 { take(1).map { bytes[$0] } ?? 0 }
        mutating func u16() -> UInt16 { take(2).map { bytes.loadUnaligned(fromByteOffset: $0, as: UInt16.self) } ?? 0 }
        mutating func u32() -> UInt32 { take(4).map { bytes.loadUnaligned(fromByteOffset: $0, as: UInt32.self) } ?? 0 }
        mutating func u64() -> UInt64 { take(8).map { bytes.loadUnaligned(fromByteOffset: $0, as: UInt64.self) } ?? 0 }
        mutating func uleb() -> UInt64 {
            var result: UInt64 = 0, shift: UInt64 = 0
            while true {
                let b = u8()
                if failed { return 0 }
                if shift < 64 { result |= UInt64(b & 0x7f) << shift }
                shift += 7
                if b < 0x80 { return result }
            }
        }
        mutating func sleb() -> Int64 {
            var result: Int64 = 0, shift: Int64 = 0, b: UInt8 = 0
            repeat {
                b = u8()
                if failed { return 0 }
                if shift < 64 { result |= Int64(b & 0x7f) << shift }
                shift += 7
            } while b >= 0x80
            if shift < 64 && b & 0x40 != 0 { result |= -(Int64(1) << shift) }
            return result
        }
        mutating func cString() -> String? {
            var end = position
            while end < limit && bytes[end] != 0 { end += 1 }
            guard end < limit else { failed = true; return nil }
            let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position..<end]), as: UTF8.self)
            position = end + 1
            return s
        }
        static func string(in section: UnsafeRawBufferPointer, at offset: UInt64) -> String {
            guard offset < UInt64(section.count) else { return "" }
            var end = Int(offset)
            while end < section.count && section[end] != 0 { end += 1 }
            return String(decoding: UnsafeRawBufferPointer(rebasing: section[Int(offset)..<end]), as: UTF8.self)
        }
        mutating func form(_ form: UInt64, offsetSize: Int, lineStr: UnsafeRawBufferPointer, str: UnsafeRawBufferPointer) -> FormValue {
            func offset() -> UInt64 { offsetSize == 8 ? u64() : UInt64(u32()) }
            switch form {
            case 0x08: return cString().map { .string($0) } ?? .other  // DW_FORM_string
            case 0x1f: return .string(Self.string(in: lineStr, at: offset()))  // DW_FORM_line_strp
            case 0x0e: return .string(Self.string(in: str, at: offset()))  // DW_FORM_strp
            case 0x0b: return .number(UInt64(u8()))  // data1
            case 0x05: return .number(UInt64(u16()))  // data2
            case 0x06: return .number(UInt64(u32()))  // data4
            case 0x07: return .number(u64())  // data8
            case 0x0f: return .number(uleb())  // udata
            case 0x1e: _ = take(16); return .other  // data16 (MD5)
            case 0x09: _ = take(Int(clamping: uleb())); return .other  // block
            default: failed = true; return .other
            }
        }
    }
}
