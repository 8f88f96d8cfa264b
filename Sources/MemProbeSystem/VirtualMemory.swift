import CShims
import SystemPackage

/// An `madvise` advice this toolkit uses. ``rawValue`` is the system header's constant (exported by CShims, never
/// copied here).
public enum MemoryAdvice: CaseIterable, Sendable, Hashable, CustomStringConvertible {
    /// Free now: the pages leave RSS at once and read back as zero.
    case dontNeed
    /// Free lazily: the kernel may take the pages back under pressure; until then they stay in RSS (as LazyFree).
    case free
    /// Ask for transparent huge pages in this range.
    case hugePage
    /// Forbid transparent huge pages in this range.
    case noHugePage
    /// Deactivate: a reclaim hint, releases nothing without swap.
    case cold
    /// Reclaim now: without swap it discards only lazily freed pages (and splits huge pages).
    case pageOut
    /// Prefault readable (maps the zero page; adds nothing to RSS).
    case populateRead
    /// Prefault writable (allocates the pages).
    case populateWrite
    /// Collapse the range into huge pages synchronously.
    case collapse

    /// The kernel's number for the advice (`MADV_…` of <sys/mman.h>).
    public var rawValue: Int32 {
        switch self {
        case .dontNeed: cshims_madv_dontneed
        case .free: cshims_madv_free
        case .hugePage: cshims_madv_hugepage
        case .noHugePage: cshims_madv_nohugepage
        case .cold: cshims_madv_cold
        case .pageOut: cshims_madv_pageout
        case .populateRead: cshims_madv_populate_read
        case .populateWrite: cshims_madv_populate_write
        case .collapse: cshims_madv_collapse
        }
    }

    /// The kernel's name for the advice, e.g. `MADV_FREE`.
    public var description: String {
        switch self {
        case .dontNeed: "MADV_DONTNEED"
        case .free: "MADV_FREE"
        case .hugePage: "MADV_HUGEPAGE"
        case .noHugePage: "MADV_NOHUGEPAGE"
        case .cold: "MADV_COLD"
        case .pageOut: "MADV_PAGEOUT"
        case .populateRead: "MADV_POPULATE_READ"
        case .populateWrite: "MADV_POPULATE_WRITE"
        case .collapse: "MADV_COLLAPSE"
        }
    }
}

/// What can go wrong when mapping, advising or probing memory.
public enum VirtualMemoryError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kernel does not support this advice for this range (EINVAL at run time).
    case unsupportedAdvice(MemoryAdvice)
    /// The address space could not be mapped (ENOMEM, e.g. under `RLIMIT_AS`, or EAGAIN).
    case outOfAddressSpace(requested: Int, SystemCallError)
    /// Any other failed call.
    case system(SystemCallError)

    public var description: String {
        switch self {
        case .unsupportedAdvice(let a): "\(a) is not supported by this kernel for this range"
        case .outOfAddressSpace(let n, let e): "could not map \(n) bytes: \(e)"
        case .system(let e): e.description
        }
    }
}

/// Typed wrappers of `mmap`, `munmap`, `madvise` and `mincore` for private anonymous memory.
public enum VirtualMemory {
    /// The page size of this system, in bytes.
    public static let pageSize: Int = Int(cshims_page_size())

    /// The size of a PMD-mapped transparent huge page on this system, in bytes: the kernel's
    /// `/sys/kernel/mm/transparent_hugepage/hpage_pmd_size`, else `Hugepagesize` of `/proc/meminfo`, else one PMD
    /// computed from the page size (a page table page holds `pageSize / 8` entries): 2 MiB with 4 KiB pages,
    /// 512 MiB with arm64's 64 KiB pages.
    public static let hugePageSize: Int = {
        if let text = try? ProcFile.read("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"),
           let bytes = Int(text.filter(\.isNumber)), bytes > 0 {
            return bytes
        }
        if let text = try? ProcFile.read("/proc/meminfo"),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Hugepagesize:") }),
           let kib = Int(line.filter(\.isNumber)), kib > 0 {
            return kib * 1024
        }
        return pageSize * (pageSize / 8)
    }()

    /// Maps `byteCount` bytes of private anonymous, read-write memory.
    ///
    /// - Parameter noReserve: adds `MAP_NORESERVE`, so the mapping reserves address space only.
    /// - Returns: a page-aligned address.
    /// - Throws: ``VirtualMemoryError/outOfAddressSpace(requested:_:)`` when the kernel refuses.
    public static func map(byteCount: Int, noReserve: Bool = true) throws(VirtualMemoryError) -> UnsafeMutableRawPointer {
        precondition(byteCount > 0, "map(byteCount:) needs a positive size")
        switch system_mmapAnonymous(byteCount, noReserve: noReserve) {
        case .success(let p): return p
        case .failure(let e):
            let err = SystemCallError(call: "mmap(\(byteCount))", errno: e)
            if e == .noMemory || e == .resourceTemporarilyUnavailable { throw .outOfAddressSpace(requested: byteCount, err) }
            throw .system(err)
        }
    }

    /// Maps `byteCount` bytes aligned to `alignment` (a power of two ≥ the page size) by over-mapping and
    /// trimming the ends. Used for huge-page-aligned regions.
    public static func map(byteCount: Int, alignment: Int, noReserve: Bool = true) throws(VirtualMemoryError) -> UnsafeMutableRawPointer {
        precondition(alignment >= pageSize && alignment & (alignment - 1) == 0, "alignment must be a power of two ≥ page size")
        if alignment == pageSize { return try map(byteCount: byteCount, noReserve: noReserve) }
        let total = byteCount + alignment
        let raw = try map(byteCount: total, noReserve: noReserve)
        let start = UInt(bitPattern: raw)
        let aligned = (start + UInt(alignment) - 1) & ~UInt(alignment - 1)
        let head = Int(aligned - start)
        let tail = total - head - byteCount
        if head > 0 { try unmap(raw, byteCount: head) }
        if tail > 0 { try unmap(UnsafeMutableRawPointer(bitPattern: aligned + UInt(byteCount))!, byteCount: tail) }
        return UnsafeMutableRawPointer(bitPattern: aligned)!
    }

    /// Unmaps a range: its pages leave RSS and its address space is returned.
    public static func unmap(_ address: UnsafeMutableRawPointer, byteCount: Int) throws(VirtualMemoryError) {
        switch system_munmap(address, byteCount) {
        case .success: return
        case .failure(let e):
            let call = "munmap(\(byteCount))"
            preconditionNotProgrammerError(e, call)
            throw .system(SystemCallError(call: call, errno: e))
        }
    }

    /// Gives the kernel `advice` for a page-aligned range.
    ///
    /// - Throws: ``VirtualMemoryError/unsupportedAdvice(_:)`` when the kernel answers EINVAL (unknown advice,
    ///   or an advice this range cannot take, such as MADV_FREE on shared memory).
    public static func advise(
        _ address: UnsafeMutableRawPointer, byteCount: Int, _ advice: MemoryAdvice
    ) throws(VirtualMemoryError) {
        switch system_madvise(address, byteCount, advice.rawValue) {
        case .success: return
        case .failure(let e):
            if e == .invalidArgument { throw .unsupportedAdvice(advice) }
            let call = "madvise(\(advice))"
            preconditionNotProgrammerError(e, call)
            throw .system(SystemCallError(call: call, errno: e))
        }
    }

    /// Counts the resident pages of a page-aligned range with `mincore`.
    ///
    /// Lazily freed (MADV_FREE) pages and read-only zero-page mappings count as resident here;
    /// the process's LazyFree comes from `smaps_rollup`.
    /// - Returns: resident bytes (resident pages × page size).
    public static func residentBytes(_ address: UnsafeMutableRawPointer, byteCount: Int) throws(VirtualMemoryError) -> Int {
        let pages = (byteCount + pageSize - 1) / pageSize
        if pages == 0 { return 0 }
        // Probe in slices so a 64 GiB region never needs a 16 MiB vector at once.
        let slicePages = 1 << 16
        let vector = UnsafeMutablePointer<UInt8>.allocate(capacity: min(pages, slicePages))
        defer { vector.deallocate() }
        var resident = 0
        var done = 0
        while done < pages {
            let n = min(slicePages, pages - done)
            let base = address + done * pageSize
            switch system_mincore(base, n * pageSize, vector) {
            case .success: break
            case .failure(let e):
                throw .system(SystemCallError(call: "mincore(\(n * pageSize))", errno: e))
            }
            for i in 0..<n where vector[i] & 1 != 0 { resident += 1 }
            done += n
        }
        return resident * pageSize
    }
}
