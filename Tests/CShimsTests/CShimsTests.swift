import CShims
import Glibc
import MemProbeTestSupport
import Testing

/// Return values and errno of the C shims, checked against what the kernel and glibc document.
@Suite("CShims")
struct CShimsTests {
    let page = Int(cshims_page_size())

    @Test func pageSizeMatchesSysconfAndIsAPowerOfTwo() {
        // 4 KiB on x86_64, 4/16/64 KiB on arm64: never assumed.
        #expect(page == sysconf(Int32(_SC_PAGESIZE)))
        #expect(page >= 4096 && page & (page - 1) == 0)
    }

    @Test func mmapAndMunmap() {
        var p: UnsafeMutableRawPointer? = nil
        #expect(cshims_mmap_anonymous(4 * page, 1, &p) == 0)
        let base = try! #require(p)
        #expect(UInt(bitPattern: base) % UInt(page) == 0)
        base.storeBytes(of: 42, toByteOffset: 3 * page, as: UInt8.self)
        #expect(base.load(fromByteOffset: 3 * page, as: UInt8.self) == 42)
        #expect(cshims_munmap(base + 1, page) == EINVAL)  // unaligned address
        #expect(cshims_munmap(base, 4 * page) == 0)

        var q: UnsafeMutableRawPointer? = nil
        #expect(cshims_mmap_anonymous(0, 0, &q) == EINVAL)  // zero length
        #expect(q == nil)  // untouched on failure
    }

    @Test func madviseReturnsErrno() {
        var p: UnsafeMutableRawPointer? = nil
        #expect(cshims_mmap_anonymous(4 * page, 0, &p) == 0)
        let base = p!
        defer { _ = cshims_munmap(base, 4 * page) }
        base.initializeMemory(as: UInt8.self, repeating: 1, count: 4 * page)
        #expect(cshims_madvise(base + 1, page, cshims_madv_dontneed) == EINVAL)  // unaligned
        #expect(cshims_madvise(base, page, 9999) == EINVAL)  // unknown advice
        #expect(cshims_madvise(base, page, cshims_madv_free) == 0)
        #expect(cshims_madvise(base, page, cshims_madv_dontneed) == 0)
        #expect(base.load(as: UInt8.self) == 0)  // DONTNEED'd private anon reads back zero
        #expect(base.load(fromByteOffset: page, as: UInt8.self) == 1)  // the next page is untouched
    }

    @Test func mincoreSeesWrittenPagesOnly() {
        var p: UnsafeMutableRawPointer? = nil
        #expect(cshims_mmap_anonymous(4 * page, 0, &p) == 0)
        let base = p!
        base.storeBytes(of: 1, toByteOffset: 0, as: UInt8.self)
        base.storeBytes(of: 1, toByteOffset: 2 * page, as: UInt8.self)
        var vec = [UInt8](repeating: 0xff, count: 4)
        #expect(cshims_mincore(base, 4 * page, &vec) == 0)
        #expect(vec.map { $0 & 1 } == [1, 0, 1, 0])
        #expect(cshims_mincore(base + 1, page, &vec) == EINVAL)  // unaligned
        #expect(cshims_munmap(base, 4 * page) == 0)
        #expect(cshims_mincore(base, 4 * page, &vec) == ENOMEM)  // no longer mapped
    }

    @Test(.enabled(if: !TestEnvironment.isSanitized, "the sanitizer replaces malloc: glibc's heap never sees the block"))
    func mallinfo2SeesAMalloc() throws {
        // A 64 MiB request is served by mmap: hblkhd rises by at least that much. Other tests allocate in
        // parallel, so retry a few times before calling it a failure.
        let size = 64 << 20
        var grew = false
        for _ in 0..<3 where !grew {
            let before = cshims_mallinfo2()
            let p = try #require(malloc(size))
            let after = cshims_mallinfo2()
            grew = Int(after.hblkhd) - Int(before.hblkhd) >= size && after.hblks >= 1
            free(p)
        }
        #expect(grew)
        #expect(cshims_mallinfo2().usmblks == 0)  // always 0 in glibc
    }

    @Test func mallocUsableSizeIsAtLeastTheRequest() throws {
        for n in [1, 7, 24, 100, 1000, 4096, 100_000, 1 << 20] {
            let p = try #require(malloc(n))
            #expect(cshims_malloc_usable_size(p) >= n)
            free(p)
        }
        #expect(cshims_malloc_usable_size(nil) == 0)
    }

    @Test func mallocTrimReturnsZeroOrOne() {
        let r = cshims_malloc_trim(0)
        #expect(r == 0 || r == 1)
    }

    @Test func numaShims() throws {
        guard cshims_numa_available() == 1 else {
            #expect(cshims_numa_max_node() == -1)
            return
        }
        let max = cshims_numa_max_node()
        #expect(max >= 0)
        var size: Int64 = 0
        var free: Int64 = 0
        #expect(cshims_numa_node_size(0, &size, &free) == 0)
        #expect(size > 0 && free > 0)
        #expect(cshims_numa_node_size(max + 1, &size, &free) == EINVAL)
        #expect(cshims_numa_node_size(-1, &size, &free) == EINVAL)

        var p: UnsafeMutableRawPointer? = nil
        #expect(cshims_mmap_anonymous(2 * page, 0, &p) == 0)
        let base = p!
        defer { _ = cshims_munmap(base, 2 * page) }
        var mask: [UInt] = [1]  // node 0
        #expect(cshims_mbind(base, 2 * page, cshims_mpol_bind(), &mask, 65, 0) == 0)
        base.storeBytes(of: 1, as: UInt8.self)
        var pages: [UnsafeMutableRawPointer?] = [base, base + page]
        var status: [Int32] = [99, 99]
        #expect(cshims_numa_page_nodes(&pages, 2, &status) == 0)
        #expect(status[0] == 0)
        #expect(status[1] == -ENOENT)  // never written
        if max == 0 {
            var node1: [UInt] = [2]
            #expect(cshims_mbind(base, 2 * page, cshims_mpol_bind(), &node1, 65, 0) == EINVAL)
        }
    }

    @Test(.enabled(if: cshims_unwind_load() == 0, "libunwind.so.8 is not installed"))
    func unwindShims() {
        var frames = [UnsafeMutableRawPointer?](repeating: nil, count: 64)
        let n = cshims_unwind_backtrace(&frames, 64)
        #expect(n >= 3)
        #expect(cshims_unwind_backtrace(&frames, 0) == -EINVAL)
        var path = [CChar](repeating: 0, count: 512)
        #expect(cshims_unwinder_origin(&path, path.count) == 0)
        let origin = String(decoding: path.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if !TestEnvironment.isSanitized { #expect(origin.contains("libgcc_s")) }
        #expect(!origin.contains("libunwind"))
    }
}

@Suite("CShims constants")
struct CShimsConstantsTests {
    /// The exported values are the system headers' (as Glibc's Swift import sees them), and the Swift layer uses them.
    @Test func madviseConstantsComeFromTheHeaders() {
        #expect(cshims_madv_dontneed == MADV_DONTNEED)
        #expect(cshims_madv_free == MADV_FREE)
        #expect(cshims_madv_hugepage == MADV_HUGEPAGE)
        #expect(cshims_madv_nohugepage == MADV_NOHUGEPAGE)
        #expect(cshims_madv_cold == MADV_COLD)
        #expect(cshims_madv_pageout == MADV_PAGEOUT)
        #expect(cshims_madv_populate_read == MADV_POPULATE_READ)
        #expect(cshims_madv_populate_write == MADV_POPULATE_WRITE)
        #expect(cshims_madv_willneed == MADV_WILLNEED)
        #expect(cshims_madv_normal == MADV_NORMAL)
    }
}
