#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeSystem

// The kernel's own figures, read by the tests independently of the library's /proc readers (except where noted).

/// The whole file as text, read with libc (``contentsOfFile(_:)``): /proc files report size 0 and Foundation's
/// `String(contentsOfFile:)` stops after one read of them (~4 KiB). nil when it cannot be opened.
public func readWholeFile(_ path: String) -> String? {
    contentsOfFile(path).map { String(decoding: $0, as: UTF8.self) }
}

/// The `key:   N kB` figure of a /proc file (`status`, `smaps_rollup`, `meminfo`), in KiB; nil when the file or the
/// line is missing.
public func procFileKiB(_ path: String, _ key: String) -> Int? {
    guard let text = readWholeFile(path) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
        return Int(line.dropFirst(key.count + 1).split { $0 == " " || $0 == "\t" }.first ?? "")
    }
    return nil
}

/// `/proc/self/smaps` fields summed over the mappings that overlap [start, end): the kernel's view of exactly that
/// memory, unaffected by other tests allocating in this process at the same time.
public func smapsFields(overlapping start: UInt, _ end: UInt) -> [String: Int] {
    smapsFields { lo, hi in lo < end && hi > start }
}

/// The fields of the one mapping of `/proc/self/smaps` that starts at `address` (empty when none does): an exact,
/// noise-free figure for that mapping.
public func smapsFields(ofMappingAt address: UnsafeMutableRawPointer) -> [String: Int] {
    smapsFields { lo, _ in lo == UInt(bitPattern: address) }
}

/// The `… kB` fields, in bytes, summed over the mappings of `/proc/self/smaps` whose [start, end) `include` accepts.
private func smapsFields(where include: (_ start: UInt, _ end: UInt) -> Bool) -> [String: Int] {
    guard let text = readWholeFile("/proc/self/smaps") else { return [:] }
    var out: [String: Int] = [:]
    var inRange = false
    for line in text.split(separator: "\n") {
        if let dash = line.firstIndex(of: "-"), line.first?.isHexDigit == true,
           let space = line.firstIndex(of: " "), dash < space,
           let lo = UInt(line[..<dash], radix: 16), let hi = UInt(line[line.index(after: dash)..<space], radix: 16) {
            inRange = include(lo, hi)
            continue
        }
        guard inRange, let colon = line.firstIndex(of: ":") else { continue }
        let rest = line[line.index(after: colon)...].split(separator: " ")
        if rest.count == 2, rest[1] == "kB", let v = Int(rest[0]) { out[String(line[..<colon]), default: 0] += v * 1024 }
    }
    return out
}

/// `Rss` and `LazyFree` of this process from smaps_rollup (through the library's reader; 0 for a field the kernel
/// does not show).
public func processRssAndLazyFree() throws -> (rss: Int, lazyFree: Int) {
    let s = try SmapsRollup.read(pid: nil)
    return (s.rss ?? 0, s.lazyFree ?? 0)
}
