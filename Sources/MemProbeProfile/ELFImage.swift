import MemProbeSystem

/// An ELF file mapped read-only, for its build id and function symbols (`.symtab`, else `.dynsym`).
///
/// Every offset read from the file is checked against its size: a truncated or foreign file yields no symbols,
/// never a crash. The file is opened and mapped through MemProbeSystem's choke points (``SystemFile``,
/// ``FileMapping``); a file that cannot be opened, read or mapped is simply not an image.
final class ELFImage {
    /// Keeps the file mapped for as long as the image lives (unmapped when it is released).
    private let mapping: FileMapping
    private let base: UnsafeRawPointer
    private let size: Int
    /// ET_DYN (PIE, shared library): symbol values are relative to the load address.
    private(set) var isPositionIndependent = false
    /// Virtual address of the first PT_LOAD segment (0 for PIE and shared objects as linked on Linux).
    private(set) var firstLoadAddress: UInt64 = 0
    /// The GNU build id in hex, or "".
    private(set) var buildID = ""
    /// Function symbols sorted by address: (start, size, name offset in the string table).
    private var symbols: [(start: UInt64, size: UInt64, name: Int)] = []
    private var stringTable: (offset: Int, size: Int) = (0, 0)
    /// Uncompressed DWARF sections for file/line: `.debug_line`, `.debug_line_str`, `.debug_str`.
    private var debugSections: [String: (offset: Int, size: Int)] = [:]

    init?(path: String) {
        guard let file = try? SystemFile.open(path, .readOnly), let st = try? file.status(), st.byteCount >= 64,
              let m = try? FileMapping(file, byteCount: st.byteCount, access: .readOnly)
        else { return nil }
        mapping = m
        base = UnsafeRawPointer(m.base)
        size = st.byteCount
        // The mapping stays valid after the descriptor is closed.
        _ = try? file.close()
        // 0x7f 'E' 'L' 'F', 64-bit, little-endian.
        guard u32(0) == 0x464c_457f, u8(4) == 2, u8(5) == 1 else { return nil }
        isPositionIndependent = u16(16) == 3
        var firstLoad: UInt64 = 0
        let phoff = Int(clamping: u64(32)), phentsize = Int(u16(54)), phnum = Int(u16(56))
        for i in 0..<phnum {
            let ph = phoff + i * phentsize
            guard ph >= 0, ph + 56 <= size else { break }
            if u32(ph) == 1 {  // PT_LOAD
                firstLoad = u64(ph + 16)
                break
            }
        }
        firstLoadAddress = firstLoad
        readSections()
    }

    private func u8(_ o: Int) -> UInt8 { o >= 0 && o < size ? base.load(fromByteOffset: o, as: UInt8.self) : 0 }
    private func u16(_ o: Int) -> UInt16 { o >= 0 && o + 2 <= size ? base.loadUnaligned(fromByteOffset: o, as: UInt16.self) : 0 }
    private func u32(_ o: Int) -> UInt32 { o >= 0 && o + 4 <= size ? base.loadUnaligned(fromByteOffset: o, as: UInt32.self) : 0 }
    private func u64(_ o: Int) -> UInt64 { o >= 0 && o + 8 <= size ? base.loadUnaligned(fromByteOffset: o, as: UInt64.self) : 0 }

    private func inFile(_ offset: UInt64, _ length: UInt64) -> Bool {
        offset <= UInt64(size) && length <= UInt64(size) - offset
    }

    private func readSections() {
        let shoff = u64(40), shentsize = Int(u16(58)), shnum = Int(u16(60))
        guard shentsize >= 64, inFile(shoff, UInt64(shnum) * UInt64(shentsize)) else { return }
        var symtab: (Int, Int, Int)? = nil, dynsym: (Int, Int, Int)? = nil
        let names = Int(shoff) + Int(u16(62)) * shentsize  // e_shstrndx's header
        let namesOffset = u64(names + 24), namesSize = u64(names + 32)
        for i in 0..<shnum {
            let sh = Int(shoff) + i * shentsize
            let type = u32(sh + 4), offset = u64(sh + 24), length = u64(sh + 32), link = Int(u32(sh + 40))
            guard inFile(offset, length) else { continue }
            let nameOffset = UInt64(u32(sh))
            if type == 1, u64(sh + 8) & 0x800 == 0, inFile(namesOffset, namesSize), nameOffset < namesSize {  // PROGBITS, not SHF_COMPRESSED
                let start = Int(namesOffset + nameOffset)
                var end = start
                while end < Int(namesOffset + namesSize) && u8(end) != 0 { end += 1 }
                let name = String(decoding: UnsafeRawBufferPointer(start: base + start, count: end - start), as: UTF8.self)
                if name == ".debug_line" || name == ".debug_line_str" || name == ".debug_str" {
                    debugSections[name] = (Int(offset), Int(length))
                }
            }
            switch type {
            case 2: symtab = (Int(offset), Int(length), link)  // SHT_SYMTAB
            case 11: dynsym = (Int(offset), Int(length), link)  // SHT_DYNSYM
            case 7 where buildID.isEmpty: buildID = Self.buildID(self, notes: Int(offset), length: Int(length))  // SHT_NOTE
            default: break
            }
        }
        guard let (offset, length, link) = symtab ?? dynsym, link < shnum else { return }
        let strSection = Int(shoff) + link * shentsize
        let strOffset = u64(strSection + 24), strSize = u64(strSection + 32)
        guard inFile(strOffset, strSize) else { return }
        stringTable = (Int(strOffset), Int(strSize))
        var out: [(start: UInt64, size: UInt64, name: Int)] = []
        out.reserveCapacity(length / 24)
        var o = offset
        while o + 24 <= offset + length {
            let info = u8(o + 4), shndx = u16(o + 6), value = u64(o + 8), symSize = u64(o + 16)
            if info & 0xf == 2, shndx != 0, value != 0 {  // STT_FUNC, defined
                out.append((value, symSize, Int(u32(o))))
            }
            o += 24
        }
        out.sort { $0.start < $1.start }
        symbols = out
    }

    private static func buildID(_ elf: ELFImage, notes: Int, length: Int) -> String {
        var o = notes
        while o + 12 <= notes + length {
            let namesz = Int(elf.u32(o)), descsz = Int(elf.u32(o + 4)), type = elf.u32(o + 8)
            let nameStart = o + 12
            let descStart = nameStart + (namesz + 3) & ~3
            guard namesz < length, descsz < length, descStart + descsz <= notes + length else { return "" }
            if type == 3, namesz == 4, elf.u32(nameStart) == 0x0055_4e47 {  // NT_GNU_BUILD_ID, "GNU\0"
                let digits = Array("0123456789abcdef".utf8)
                var hex: [UInt8] = []
                for i in 0..<descsz {
                    let b = elf.u8(descStart + i)
                    hex.append(digits[Int(b >> 4)])
                    hex.append(digits[Int(b & 15)])
                }
                return String(decoding: hex, as: UTF8.self)
            }
            o = descStart + (descsz + 3) & ~3
        }
        return ""
    }

    /// The function symbol containing `address` (an address in the file's own virtual address space).
    func symbol(at address: UInt64) -> (name: String, start: UInt64)? {
        var lo = 0, hi = symbols.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if symbols[mid].start <= address { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0 else { return nil }
        let s = symbols[lo - 1]
        // A size-0 symbol (hand-written assembly) is accepted only as the nearest one below.
        guard s.size == 0 || address < s.start + s.size else { return nil }
        guard s.name < stringTable.size else { return nil }
        let start = stringTable.offset + s.name
        var end = start
        let limit = stringTable.offset + stringTable.size
        while end < limit && u8(end) != 0 { end += 1 }
        let name = String(decoding: UnsafeRawBufferPointer(start: base + start, count: end - start), as: UTF8.self)
        return (name, s.start)
    }

    var hasSymbols: Bool { !symbols.isEmpty }

    /// File and line of each of `addresses` (file virtual addresses) that `.debug_line` covers.
    func lines(for addresses: [UInt64]) -> [UInt64: DWARFLineTable.Position] {
        guard debugSections[".debug_line"] != nil else { return [:] }
        func buffer(_ name: String) -> UnsafeRawBufferPointer {
            guard let s = debugSections[name] else { return UnsafeRawBufferPointer(start: nil, count: 0) }
            return UnsafeRawBufferPointer(start: base + s.offset, count: s.size)
        }
        return DWARFLineTable.resolve(
            addresses, debugLine: buffer(".debug_line"), lineStr: buffer(".debug_line_str"), str: buffer(".debug_str"))
    }
}
