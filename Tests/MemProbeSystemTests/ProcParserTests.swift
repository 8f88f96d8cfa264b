import Foundation
import MemProbeTestSupport
import Testing

@testable import MemProbeSystem

// Captured on the development machine (Linux 6.18, `cat /proc/self/smaps_rollup`).
private let capturedRollup = """
    55cccc70a000-7ffec1b61000 ---p 00000000 00:00 0                          [rollup]
    Rss:                1668 kB
    Pss:                 309 kB
    Pss_Dirty:           112 kB
    Pss_Anon:            112 kB
    Pss_File:            197 kB
    Pss_Shmem:             0 kB
    Shared_Clean:       1516 kB
    Shared_Dirty:          0 kB
    Private_Clean:        40 kB
    Private_Dirty:       112 kB
    Referenced:         1668 kB
    Anonymous:           112 kB
    KSM:                   0 kB
    LazyFree:              0 kB
    AnonHugePages:         0 kB
    ShmemPmdMapped:        0 kB
    FilePmdMapped:         0 kB
    Shared_Hugetlb:        0 kB
    Private_Hugetlb:       0 kB
    Swap:                  0 kB
    SwapPss:               0 kB
    Locked:                0 kB

    """

private let capturedStatus = """
    Name:\tcat
    Umask:\t0022
    State:\tR (running)
    Tgid:\t12443
    Pid:\t12443
    PPid:\t12440
    Uid:\t0\t0\t0\t0
    Groups:\t 
    Kthread:\t0
    VmPeak:\t    3060 kB
    VmSize:\t    3060 kB
    VmLck:\t       0 kB
    VmHWM:\t    1740 kB
    VmRSS:\t    1740 kB
    RssAnon:\t     112 kB
    RssFile:\t    1628 kB
    RssShmem:\t       0 kB
    VmData:\t     360 kB
    VmSwap:\t       0 kB
    THP_enabled:\t1
    Threads:\t1
    Cpus_allowed_list:\t0-1
    voluntary_ctxt_switches:\t0

    """

// Two mappings of `/proc/self/smaps` (captured, abbreviated).
private let capturedSmaps = """
    564d977c4000-564d977c6000 r--p 00000000 fe:00 254163                     /usr/bin/head
    Size:                  8 kB
    KernelPageSize:        4 kB
    MMUPageSize:           4 kB
    Rss:                   8 kB
    Pss:                   8 kB
    Private_Clean:         8 kB
    Anonymous:             0 kB
    LazyFree:              0 kB
    THPeligible:           0
    VmFlags: rd mr mw me 
    7f0000000000-7f0004000000 rw-p 00000000 00:00 0 
    Size:              65536 kB
    KernelPageSize:        4 kB
    MMUPageSize:           4 kB
    Rss:               65536 kB
    Pss:               65536 kB
    Private_Dirty:     65536 kB
    Anonymous:         65536 kB
    LazyFree:          65536 kB
    AnonHugePages:         0 kB
    ProtectionKey:         0
    THPeligible:           1
    VmFlags: rd wr mr mw me ac 

    """

@Suite("Proc parsers")
struct ProcParserTests {
    @Test func rollupKeepsEveryFieldInOrderInBytes() {
        let r = SmapsRollup.parse(capturedRollup)
        #expect(r.source == .smapsRollup)
        #expect(r.fields.count == 22)
        #expect(r.fields.first?.name == "Rss")
        #expect(r.fields.last?.name == "Locked")
        #expect(r.rss == 1668 * 1024)
        #expect(r.pss == 309 * 1024)
        #expect(r.pssDirty == 112 * 1024)
        #expect(r.pssAnon == 112 * 1024)
        #expect(r.pssFile == 197 * 1024)
        #expect(r.pssShmem == 0)
        #expect(r.sharedClean == 1516 * 1024)
        #expect(r.privateClean == 40 * 1024)
        #expect(r.privateDirty == 112 * 1024)
        #expect(r.referenced == 1668 * 1024)
        #expect(r.anonymous == 112 * 1024)
        #expect(r.ksm == 0)
        #expect(r.lazyFree == 0)
        #expect(r.locked == 0)
        #expect(r.swapPss == 0)
    }

    @Test func rollupMissingFieldsAreNilNotZero() {
        // A 4.14-era rollup: no Pss_Anon/File/Shmem/Dirty, no KSM, no FilePmdMapped.
        let old = """
            00400000-7fff0000 ---p 00000000 00:00 0   [rollup]
            Rss:                 884 kB
            Pss:                 385 kB
            Anonymous:           100 kB
            LazyFree:              0 kB

            """
        let r = SmapsRollup.parse(old)
        #expect(r.rss == 884 * 1024)
        #expect(r.pssAnon == nil)
        #expect(r.pssDirty == nil)
        #expect(r.ksm == nil)
        #expect(r.filePmdMapped == nil)
        #expect(r.swap == nil)
    }

    @Test func rollupKeepsUnknownAndReorderedFields() {
        let text = """
            LazyFree:             8 kB
            Future_Field:       123 kB
            Rss:                 40 kB
            Weird line without a colon
            Counter:              7
            Bad:               abc kB

            """
        let r = SmapsRollup.parse(text)
        #expect(r.fields.map(\.name) == ["LazyFree", "Future_Field", "Rss"])
        #expect(r["Future_Field"] == 123 * 1024)
        #expect(r.rss == 40 * 1024)
        #expect(r.lazyFree == 8 * 1024)
        #expect(r["Counter"] == nil)
    }

    @Test func garbageGivesNoFields() {
        #expect(SmapsRollup.parse("").fields.isEmpty)
        #expect(SmapsRollup.parse("\u{0}\u{1}: ::: kB\n: 1 kB\nX: 99999999999999999999 kB").fields.isEmpty)
        #expect(SmapsRollup.parse("X: -5 kB").fields.isEmpty)
    }

    @Test func smapsIsSummedLikeRollup() {
        let r = SmapsRollup.parseSmaps(capturedSmaps)
        #expect(r.source == .smaps)
        #expect(r.rss == (8 + 65536) * 1024)
        #expect(r.pss == (8 + 65536) * 1024)
        #expect(r.anonymous == 65536 * 1024)
        #expect(r.lazyFree == 65536 * 1024)
        #expect(r.privateClean == 8 * 1024)
        #expect(r.privateDirty == 65536 * 1024)
        #expect(r.anonHugePages == 0)
        // Attributes are not summed, non-kB lines are skipped, rollup-only fields stay absent.
        #expect(r["Size"] == nil)
        #expect(r["KernelPageSize"] == nil)
        #expect(r["THPeligible"] == nil)
        #expect(r.pssAnon == nil)
        #expect(r.fields.map(\.name) == [
            "Rss", "Pss", "Private_Clean", "Anonymous", "LazyFree", "Private_Dirty", "AnonHugePages",
        ])
    }

    @Test func emptySmapsHasNoFields() {
        #expect(SmapsRollup.parseSmaps("").fields.isEmpty)
        #expect(SmapsRollup.parseSmaps("").rss == nil)
    }

    @Test func statusFieldsAndBytes() {
        let s = ProcStatus.parse(capturedStatus)
        #expect(s.name == "cat")
        #expect(s.state == "R (running)")
        #expect(s.stateCode == "R")
        #expect(!s.isZombie)
        #expect(s.threads == 1)
        #expect(s.vmPeak == 3060 * 1024)
        #expect(s.vmSize == 3060 * 1024)
        #expect(s.vmHWM == 1740 * 1024)
        #expect(s.vmRSS == 1740 * 1024)
        #expect(s.rssAnon == 112 * 1024)
        #expect(s.rssFile == 1628 * 1024)
        #expect(s.rssShmem == 0)
        #expect(s.vmSwap == 0)
        // Every field is kept, including ones without a size.
        #expect(s["Uid"] == "0\t0\t0\t0")
        #expect(s["Groups"] == "")
        #expect(s["THP_enabled"] == "1")
        #expect(s.fields.first?.name == "Name")
        #expect(s.fields.count == 23)
        #expect(s.bytes("Uid") == nil)
    }

    @Test func zombieStatusHasNoRSS() {
        let z = ProcStatus.parse("Name:\tt r:ue\nState:\tZ (zombie)\nThreads:\t1\n")
        #expect(z.name == "t r:ue")
        #expect(z.isZombie)
        #expect(z.vmRSS == nil)
        #expect(z.vmSize == nil)
    }

    @Test func statmInBytes() {
        let s = Statm.parse("765 418 389 5 0 123 0\n", pageSize: 4096)
        #expect(s == Statm(size: 765 * 4096, resident: 418 * 4096, shared: 389 * 4096, text: 5 * 4096, data: 123 * 4096))
        #expect(Statm.parse("0 0 0 0 0 0 0\n", pageSize: 4096)?.isEmpty == true)
        #expect(Statm.parse("", pageSize: 4096) == nil)
        #expect(Statm.parse("1 2 3", pageSize: 4096) == nil)
        #expect(Statm.parse("a b c d e f g", pageSize: 4096) == nil)
        #expect(Statm.parse("99999999999999999999 1 1 1 1 1 1", pageSize: 4096) == nil)
    }

    @Test func pressureWithAndWithoutFull() {
        let both = MemoryPressure.parse("""
            some avg10=1.25 avg60=0.50 avg300=0.00 total=3961
            full avg10=0.00 avg60=0.10 avg300=0.00 total=3014

            """)
        #expect(both?.some == .init(avg10: 1.25, avg60: 0.5, avg300: 0, totalMicroseconds: 3961))
        #expect(both?.full?.avg60 == 0.1)
        #expect(both?.full?.totalMicroseconds == 3014)
        let someOnly = MemoryPressure.parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=1\n")
        #expect(someOnly?.full == nil)
        #expect(MemoryPressure.parse("") == nil)
        #expect(MemoryPressure.parse("some avg10=x avg60=0 avg300=0 total=1") == nil)
    }

    @Test func processMemoryRoundTripsThroughJSON() throws {
        let m = ProcessMemory(
            pid: 42, mode: .full, rollup: SmapsRollup.parse(capturedRollup), status: ProcStatus.parse(capturedStatus),
            statm: Statm(size: 1, resident: 2, shared: 3, text: 4, data: 5),
            missing: [.init(figure: .smapsRollup, reason: "x")])
        let data = try JSONEncoder().encode(m)
        #expect(try JSONDecoder().decode(ProcessMemory.self, from: data) == m)
        #expect(m.residentBytes == 1668 * 1024)
        #expect(m.effectiveResidentBytes == 1668 * 1024)
    }

    @Test func errorDescriptionsAreOneLine() {
        let errors: [ProcessMemoryError] = [
            .noSuchProcess(pid: 1), .notPermitted(pid: 1, reason: "r"), .noAddressSpace(pid: 1),
            .exitedDuringRead(pid: 1), .failed(pid: 1, reason: "r"),
        ]
        for e in errors {
            #expect(!e.description.contains("\n"))
            #expect(e.description.hasPrefix("process 1: "))
        }
        #expect(ProcessMemoryError.noSuchProcess(pid: 999999).description == "process 999999: no such process")
    }
}
