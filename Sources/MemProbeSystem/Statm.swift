/// `/proc/<pid>/statm`, converted from pages to **bytes**.
///
/// The kernel prints seven page counts; `lib` and `dt` have been 0 since Linux 2.6 and are not kept.
/// A zombie or kernel thread reads as all zeros (``isEmpty``).
public struct Statm: Codable, Sendable, Hashable {
    /// Virtual size (`size`, same as status `VmSize`).
    public var size: Int
    /// Resident size (`resident`, same as status `VmRSS`).
    public var resident: Int
    /// Resident shared pages: file-backed plus shared memory (`shared` = RssFile + RssShmem).
    public var shared: Int
    /// Text (code) size.
    public var text: Int
    /// Data + stack size.
    public var data: Int

    /// Creates a value from byte counts.
    public init(size: Int, resident: Int, shared: Int, text: Int, data: Int) {
        self.size = size
        self.resident = resident
        self.shared = shared
        self.text = text
        self.data = data
    }

    /// All figures zero: the process has no address space (zombie or kernel thread).
    public var isEmpty: Bool { size == 0 && resident == 0 && shared == 0 && text == 0 && data == 0 }

    /// Parses statm text; `nil` unless it holds at least the first six page counts.
    public static func parse(_ text: String, pageSize: Int = VirtualMemory.pageSize) -> Statm? {
        var copy = text
        return copy.withUTF8 { parse(UnsafeRawBufferPointer($0), pageSize: pageSize) }
    }

    /// Parses statm bytes without allocating.
    static func parse(_ bytes: UnsafeRawBufferPointer, pageSize: Int) -> Statm? {
        var values = (0, 0, 0, 0, 0, 0)
        var count = 0
        var i = 0
        let n = bytes.count
        while count < 6 {
            while i < n, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 }
            guard i < n, bytes[i] >= 0x30, bytes[i] <= 0x39 else { return nil }
            var v = 0
            while i < n, bytes[i] >= 0x30, bytes[i] <= 0x39 {
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int(bytes[i] - 0x30))
                guard !o1, !o2 else { return nil }
                v = a
                i += 1
            }
            let (b, o3) = v.multipliedReportingOverflow(by: pageSize)
            guard !o3 else { return nil }
            v = b
            switch count {
            case 0: values.0 = v
            case 1: values.1 = v
            case 2: values.2 = v
            case 3: values.3 = v
            case 4: values.4 = v
            default: values.5 = v
            }
            count += 1
        }
        // Field 5 is `lib` (always 0); field 6 is `data`.
        return Statm(size: values.0, resident: values.1, shared: values.2, text: values.3, data: values.5)
    }

    /// Reads `/proc/<pid>/statm` (`pid` nil: own process).
    public static func read(pid: Int32?) throws(ProcFileError) -> Statm {
        let path = ProcFile.path(pid: pid, "statm")
        let text = try ProcFile.read(path)
        guard let s = parse(text) else { throw .malformed(path: path, detail: "expected 7 page counts, got \"\(text)\"") }
        return s
    }
}
