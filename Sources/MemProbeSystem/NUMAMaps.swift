/// Resident bytes of a process per NUMA node, from `/proc/<pid>/numa_maps`.
///
/// Each line of numa_maps describes one mapping: `N<node>=<pages>` counts its pages on each node and
/// `kernelpagesize_kB=<k>` the size of those pages. Summed over every mapping this is the process's resident memory
/// per node (anonymous and file-backed; a shared page counts in every process that maps it, as in Rss).
/// Reading it walks the page tables like smaps (O(resident pages)) and takes the target's mmap lock.
public struct NUMAMaps: Hashable, Sendable, Codable {
    /// Bytes per node.
    public var bytesByNode: [Int: Int]
    /// Of those, anonymous bytes per node (mappings marked `anon=`).
    public var anonymousBytesByNode: [Int: Int]

    /// Parses numa_maps text. Unknown tokens are ignored; a malformed `N<node>=` or page-size token is an error
    /// (a silently wrong figure would be worse than none).
    public init(parsing text: String, path: String = "numa_maps") throws(ProcFileError) {
        var all: [Int: Int] = [:]
        var anon: [Int: Int] = [:]
        for line in text.split(separator: "\n") {
            var pageBytes = VirtualMemory.pageSize  // lines without kernelpagesize_kB use base pages
            var counts: [(Int, Int)] = []
            var isAnon = false
            for token in line.split(separator: " ").dropFirst(2) {
                if token.hasPrefix("kernelpagesize_kB=") {
                    guard let k = Int(token.dropFirst("kernelpagesize_kB=".count)), k > 0, k <= 1 << 30 else {
                        throw .malformed(path: path, detail: "bad numa_maps line: \(line.prefix(120))")
                    }
                    pageBytes = k * 1024
                } else if token.hasPrefix("anon=") {
                    isAnon = true
                } else if token.first == "N", let eq = token.firstIndex(of: "=") {
                    guard let node = Int(token[token.index(after: token.startIndex)..<eq]), node >= 0,
                          let pages = Int(token[token.index(after: eq)...]), pages >= 0 else {
                        throw .malformed(path: path, detail: "bad numa_maps line: \(line.prefix(120))")
                    }
                    counts.append((node, pages))
                }
            }
            for (node, pages) in counts {
                let (bytes, overflow) = pages.multipliedReportingOverflow(by: pageBytes)
                guard !overflow else { throw .malformed(path: path, detail: "bad numa_maps line: \(line.prefix(120))") }
                all[node, default: 0] += bytes
                if isAnon { anon[node, default: 0] += bytes }
            }
        }
        bytesByNode = all
        anonymousBytesByNode = anon
    }

    /// Reads and parses `/proc/<pid>/numa_maps` (nil: the calling process).
    /// - Throws: ``ProcFileError`` as for other /proc files (gone, not permitted, exited, malformed). A kernel
    ///   built without NUMA has no numa_maps file: `noSuchProcess` for a pid that exists.
    public static func read(pid: Int32?) throws(ProcFileError) -> NUMAMaps {
        let path = ProcFile.path(pid: pid, "numa_maps")
        return try NUMAMaps(parsing: try ProcFile.read(path), path: path)
    }

    /// Total resident bytes over all nodes.
    public var totalBytes: Int { bytesByNode.values.reduce(0, +) }
}

extension NUMAMaps {
    /// Resident bytes of one node.
    public struct Node: Hashable, Sendable, Codable {
        /// The node number.
        public var node: Int
        /// Resident bytes on the node (anonymous and file-backed).
        public var bytes: Int
        /// Of those, anonymous bytes.
        public var anonymousBytes: Int
    }

    /// The nodes with resident bytes, by node number.
    public var nodes: [Node] {
        bytesByNode.keys.sorted().map { Node(node: $0, bytes: bytesByNode[$0]!, anonymousBytes: anonymousBytesByNode[$0] ?? 0) }
    }
}
