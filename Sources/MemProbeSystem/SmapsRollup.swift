/// The totals of `/proc/<pid>/smaps_rollup`: every `Key: N kB` field, in the kernel's order.
///
/// Fields this type does not know are kept; a field the kernel did not print is `nil`, never 0
/// (older kernels lack `Pss_Anon`, `KSM`, …). All figures are in **bytes**.
public struct SmapsRollup: Codable, Sendable, Hashable {
    /// One `Key: N kB` line.
    public struct Field: Codable, Sendable, Hashable {
        /// The kernel's key, e.g. `"Pss_Anon"`.
        public var name: String
        /// The value in bytes (the kernel's kB × 1024).
        public var bytes: Int

        /// Creates a field.
        public init(name: String, bytes: Int) {
            self.name = name
            self.bytes = bytes
        }
    }

    /// Where the figures came from.
    public enum Source: String, Codable, Sendable, Hashable {
        /// `/proc/<pid>/smaps_rollup` (Linux ≥ 4.14).
        case smapsRollup
        /// The sum of every mapping in `/proc/<pid>/smaps` (older kernels).
        case smaps
    }

    /// Every field, in order of appearance.
    public var fields: [Field]
    /// Which file the figures came from.
    public var source: Source

    /// Creates a value from fields.
    public init(fields: [Field], source: Source = .smapsRollup) {
        self.fields = fields
        self.source = source
    }

    /// The value of the field `name` in bytes, or `nil` when the kernel did not print it.
    public subscript(name: String) -> Int? {
        fields.first { $0.name == name }?.bytes
    }

    /// Parses `smaps_rollup` text. Lines that are not `Key: N kB` (the header line) are skipped.
    public static func parse(_ text: String) -> SmapsRollup {
        var fields: [Field] = []
        for line in text.split(separator: "\n") {
            if let (name, bytes) = parseKilobyteLine(line) { fields.append(Field(name: name, bytes: bytes)) }
        }
        return SmapsRollup(fields: fields, source: .smapsRollup)
    }

    /// Sums `/proc/<pid>/smaps` text over all mappings, the way the kernel builds `smaps_rollup`.
    ///
    /// `kB` fields are summed by name in order of first appearance; other lines (mapping headers,
    /// `THPeligible`, `VmFlags`, `ProtectionKey`) and the per-mapping `Size`, `KernelPageSize` and `MMUPageSize`
    /// are skipped. `Pss_Anon`/`Pss_File`/`Pss_Shmem` only exist in
    /// rollup, so they stay absent. Empty text (a zombie) gives no fields.
    public static func parseSmaps(_ text: String) -> SmapsRollup {
        var fields: [Field] = []
        var index: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            guard let (name, bytes) = parseKilobyteLine(line) else { continue }
            // Per-mapping attributes, not amounts: summing them means nothing (rollup omits them too).
            if name == "Size" || name == "KernelPageSize" || name == "MMUPageSize" { continue }
            if let i = index[name] {
                fields[i].bytes += bytes
            } else {
                index[name] = fields.count
                fields.append(Field(name: name, bytes: bytes))
            }
        }
        return SmapsRollup(fields: fields, source: .smaps)
    }

    /// Reads `/proc/<pid>/smaps_rollup` (`pid` nil: own process); when that file does not exist on this kernel,
    /// sums `/proc/<pid>/smaps` instead.
    public static func read(pid: Int32?) throws(ProcFileError) -> SmapsRollup {
        do {
            return parse(try ProcFile.read(pid: pid, "smaps_rollup"))
        } catch .noSuchProcess(let path) {
            // No smaps_rollup: either no such pid or a kernel < 4.14. smaps tells which (ENOENT again: no pid).
            do {
                return parseSmaps(try ProcFile.read(pid: pid, "smaps"))
            } catch .noSuchProcess {
                throw .noSuchProcess(path: path)
            }
        }
    }

    /// `Rss`: resident bytes mapped by the process.
    public var rss: Int? { self["Rss"] }
    /// `Pss`: resident bytes with each shared page divided among its sharers.
    public var pss: Int? { self["Pss"] }
    /// `Pss_Anon` (Linux ≥ 5.10).
    public var pssAnon: Int? { self["Pss_Anon"] }
    /// `Pss_File` (Linux ≥ 5.10).
    public var pssFile: Int? { self["Pss_File"] }
    /// `Pss_Shmem` (Linux ≥ 5.10).
    public var pssShmem: Int? { self["Pss_Shmem"] }
    /// `Pss_Dirty` (Linux ≥ 6.0).
    public var pssDirty: Int? { self["Pss_Dirty"] }
    /// `Shared_Clean`.
    public var sharedClean: Int? { self["Shared_Clean"] }
    /// `Shared_Dirty`.
    public var sharedDirty: Int? { self["Shared_Dirty"] }
    /// `Private_Clean`.
    public var privateClean: Int? { self["Private_Clean"] }
    /// `Private_Dirty`.
    public var privateDirty: Int? { self["Private_Dirty"] }
    /// `Referenced`: bytes marked accessed.
    public var referenced: Int? { self["Referenced"] }
    /// `Anonymous`: resident bytes not backed by a file.
    public var anonymous: Int? { self["Anonymous"] }
    /// `KSM`: bytes shared by kernel same-page merging (Linux ≥ 6.6).
    public var ksm: Int? { self["KSM"] }
    /// `LazyFree`: resident bytes released with `MADV_FREE` that the kernel may take back.
    public var lazyFree: Int? { self["LazyFree"] }
    /// `AnonHugePages`: anonymous bytes in transparent huge pages.
    public var anonHugePages: Int? { self["AnonHugePages"] }
    /// `ShmemPmdMapped`: shared memory mapped with huge pages.
    public var shmemPmdMapped: Int? { self["ShmemPmdMapped"] }
    /// `FilePmdMapped`: file pages mapped with huge pages.
    public var filePmdMapped: Int? { self["FilePmdMapped"] }
    /// `Shared_Hugetlb`.
    public var sharedHugetlb: Int? { self["Shared_Hugetlb"] }
    /// `Private_Hugetlb`.
    public var privateHugetlb: Int? { self["Private_Hugetlb"] }
    /// `Swap`: bytes swapped out.
    public var swap: Int? { self["Swap"] }
    /// `SwapPss`: swapped bytes shared proportionally.
    public var swapPss: Int? { self["SwapPss"] }
    /// `Locked`: bytes locked in memory (`mlock`).
    public var locked: Int? { self["Locked"] }
}

/// Parses `Key:   N kB` into (Key, N × 1024). `nil` for any other shape.
func parseKilobyteLine(_ line: Substring) -> (String, Int)? {
    guard let colon = line.firstIndex(of: ":") else { return nil }
    let key = line[..<colon]
    guard !key.isEmpty, !key.contains(where: isProcWhitespace) else { return nil }
    let rest = line[line.index(after: colon)...].split(whereSeparator: isProcWhitespace)
    guard rest.count == 2, rest[1] == "kB", let kb = Int(rest[0]), kb >= 0 else { return nil }
    let (bytes, overflow) = kb.multipliedReportingOverflow(by: 1024)
    guard !overflow else { return nil }
    return (String(key), bytes)
}

@inline(__always)
func isProcWhitespace(_ c: Character) -> Bool { c == " " || c == "\t" }
