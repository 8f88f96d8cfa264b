/// Block sizes for sub-page requests. Spacing grows with size (≤ 25 % internal waste above 128 B), the same
/// shape as Go's and jemalloc's classes. Each class carves whole pages, so a page that empties returns to the
/// page heap on its own.
enum SizeClasses {
    static let all: [Int] = [
        16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512,
        640, 768, 896, 1024, 1280, 1536, 1792, 2048,
    ]

    /// Requests up to this size come from size-classed pages; larger ones get page runs.
    static let smallLimit: Int = min(2048, VirtualMemory_pageSize / 2)

    /// The classes in use on this system (all ≤ smallLimit).
    static let sizes: [Int] = all.filter { $0 <= smallLimit }

    /// Class for each 16-byte step of size (index (size + 15) / 16).
    private static let lookup: [UInt8] = {
        var t = [UInt8](repeating: 0, count: smallLimit / 16 + 1)
        var c = 0
        for step in 0..<t.count {
            let size = step * 16
            while sizes[c] < size { c += 1 }
            t[step] = UInt8(c)
        }
        return t
    }()

    /// The class for a request, honouring `alignment` (blocks sit at multiples of their size inside a
    /// page-aligned page, so a class whose size is a multiple of the alignment is aligned), or nil for a page run.
    @inline(__always)
    static func classIndex(byteCount: Int, alignment: Int) -> Int? {
        if byteCount > smallLimit { return nil }
        var c = Int(lookup[(byteCount + 15) >> 4])
        if alignment <= 16 { return c }
        while c < sizes.count {
            if sizes[c] % alignment == 0 && sizes[c] >= byteCount { return c }
            c += 1
        }
        return nil
    }
}

import MemProbeSystem
let VirtualMemory_pageSize = VirtualMemory.pageSize
