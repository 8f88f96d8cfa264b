/// `/proc/<pid>/status`: every `Key: value` line kept in order, with typed accessors for the memory figures.
///
/// Sizes are in **bytes**. A field the kernel did not print is `nil`: a zombie or a kernel thread has no `VmRSS`.
public struct ProcStatus: Codable, Sendable, Hashable {
    /// One `Key: value` line; `value` is the text after the colon with surrounding whitespace removed.
    public struct Field: Codable, Sendable, Hashable {
        /// The key, e.g. `"VmRSS"`.
        public var name: String
        /// The raw value, e.g. `"1234 kB"` or `"S (sleeping)"`.
        public var value: String

        /// Creates a field.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Every field, in order of appearance.
    public var fields: [Field]

    /// Creates a value from fields.
    public init(fields: [Field]) { self.fields = fields }

    /// The raw value of `name`, or `nil` when absent.
    public subscript(name: String) -> String? {
        fields.first { $0.name == name }?.value
    }

    /// The value of a `N kB` field in bytes, or `nil` when absent or not a size.
    public func bytes(_ name: String) -> Int? {
        guard let v = self[name] else { return nil }
        return parseKilobyteLine(Substring("x: " + v))?.1
    }

    /// Parses status text. Lines without a colon are skipped.
    public static func parse(_ text: String) -> ProcStatus {
        var fields: [Field] = []
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon]
            guard !key.isEmpty else { continue }
            var value = line[line.index(after: colon)...]
            while let f = value.first, isProcWhitespace(f) { value = value.dropFirst() }
            while let l = value.last, isProcWhitespace(l) { value = value.dropLast() }
            fields.append(Field(name: String(key), value: String(value)))
        }
        return ProcStatus(fields: fields)
    }

    /// Reads `/proc/<pid>/status` (`pid` nil: own process).
    public static func read(pid: Int32?) throws(ProcFileError) -> ProcStatus {
        parse(try ProcFile.read(pid: pid, "status"))
    }

    /// `Name`: the command name (at most 15 bytes).
    public var name: String? { self["Name"] }
    /// `State`, e.g. `"S (sleeping)"` or `"Z (zombie)"`.
    public var state: String? { self["State"] }
    /// The one-letter state code (`R`, `S`, `D`, `Z`, `T`, `I`, …).
    public var stateCode: Character? { state?.first }
    /// Whether the process is a zombie (exited, not yet reaped).
    public var isZombie: Bool { stateCode == "Z" }
    /// `Threads`.
    public var threads: Int? { self["Threads"].flatMap { Int($0) } }
    /// `VmPeak`: peak virtual size.
    public var vmPeak: Int? { bytes("VmPeak") }
    /// `VmSize`: virtual size.
    public var vmSize: Int? { bytes("VmSize") }
    /// `VmHWM`: peak resident size.
    public var vmHWM: Int? { bytes("VmHWM") }
    /// `VmRSS`: resident size (= RssAnon + RssFile + RssShmem).
    public var vmRSS: Int? { bytes("VmRSS") }
    /// `RssAnon`: resident anonymous memory.
    public var rssAnon: Int? { bytes("RssAnon") }
    /// `RssFile`: resident file mappings.
    public var rssFile: Int? { bytes("RssFile") }
    /// `RssShmem`: resident shared memory.
    public var rssShmem: Int? { bytes("RssShmem") }
    /// `VmSwap`: swapped-out anonymous memory.
    public var vmSwap: Int? { bytes("VmSwap") }
}
