import MemProbeSystem

/// One line of `/proc/<pid>/maps`.
package struct ProcessMapping: Sendable, Hashable {
    package var start: UInt64
    package var end: UInt64
    package var executable: Bool
    package var fileOffset: UInt64
    /// The file, `[vdso]`-style name, or "" for anonymous memory.
    package var path: String

    /// Parses maps text; lines that do not parse are skipped.
    package static func parse(_ text: String) -> [ProcessMapping] {
        var out: [ProcessMapping] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5 else { continue }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let s = UInt64(range[0], radix: 16), let e = UInt64(range[1], radix: 16),
                  let off = UInt64(fields[2], radix: 16) else { continue }
            let path = fields.count == 6 ? String(fields[5].drop { $0 == " " }) : ""
            out.append(ProcessMapping(start: s, end: e, executable: fields[1].contains("x"), fileOffset: off, path: path))
        }
        return out
    }
}

/// Turns return addresses into mappings and Swift function names, for one profile write.
final class Symbolizer {
    let mappings: [ProcessMapping]
    private var images: [String: ELFImage?] = [:]
    /// Lowest mapped address of each file (its load base).
    private var loadBase: [String: UInt64] = [:]

    init(mapsText: String) {
        mappings = ProcessMapping.parse(mapsText).sorted { $0.start < $1.start }
        for m in mappings where m.path.hasPrefix("/") {
            if let b = loadBase[m.path] {
                if m.start < b { loadBase[m.path] = m.start }
            } else {
                loadBase[m.path] = m.start
            }
        }
    }

    /// The mapping holding `address`.
    func mappingIndex(containing address: UInt64) -> Int? {
        var lo = 0, hi = mappings.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if mappings[mid].start <= address { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0, address < mappings[lo - 1].end else { return nil }
        return lo - 1
    }

    func image(_ path: String) -> ELFImage? {
        if let cached = images[path] { return cached }
        let image = ELFImage(path: path)
        images[path] = image
        return image
    }

    func buildID(_ path: String) -> String { path.hasPrefix("/") ? image(path)?.buildID ?? "" : "" }

    /// The file virtual address of `address` in `mapping`'s ELF file.
    private func fileAddress(_ address: UInt64, _ mapping: ProcessMapping, _ elf: ELFImage) -> UInt64? {
        guard let base = loadBase[mapping.path] else { return nil }
        return elf.isPositionIndependent ? address &- base &+ (elf.firstLoadAddress & ~0xfff) : address
    }

    /// File and line of each address (runtime addresses), where the files carry `.debug_line`.
    func lines(for addresses: [UInt64]) -> [UInt64: DWARFLineTable.Position] {
        var byFile: [String: [(runtime: UInt64, file: UInt64)]] = [:]
        for a in addresses {
            guard let mi = mappingIndex(containing: a) else { continue }
            let m = mappings[mi]
            guard m.path.hasPrefix("/"), let elf = image(m.path), let f = fileAddress(a, m, elf) else { continue }
            byFile[m.path, default: []].append((a, f))
        }
        var out: [UInt64: DWARFLineTable.Position] = [:]
        for (path, pairs) in byFile {
            guard let elf = image(path) else { continue }
            let found = elf.lines(for: pairs.map(\.file))
            for p in pairs { if let pos = found[p.file] { out[p.runtime] = pos } }
        }
        return out
    }

    /// (demangled name, mangled name) of the function containing `address`.
    func function(at address: UInt64, in mapping: ProcessMapping) -> (name: String, systemName: String)? {
        guard mapping.path.hasPrefix("/"), let elf = image(mapping.path), let base = loadBase[mapping.path] else { return nil }
        // File virtual address: PIE and shared objects are linked at their first PT_LOAD address and mapped at base.
        let fileAddress = elf.isPositionIndependent ? address &- base &+ (elf.firstLoadAddress & ~0xfff) : address
        guard let sym = elf.symbol(at: fileAddress) else { return nil }
        return (SwiftDemangle.readable(sym.name), sym.name)
    }
}
