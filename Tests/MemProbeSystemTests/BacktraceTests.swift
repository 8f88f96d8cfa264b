import CShims
import Foundation
import MemProbeTestSupport
import Testing

@testable import MemProbeSystem

private struct Thrown: Error, Equatable { let value: Int }

@inline(never)
private func recurse(_ depth: Int) throws -> Backtrace {
    if depth == 0 { return try Backtrace.capture(maxFrames: 128) }
    let b = try recurse(depth - 1)
    return b
}

@inline(never)
private func throwing(_ v: Int) throws(Thrown) -> Int {
    if v > 0 { throw Thrown(value: v) }
    return v
}

@Suite("Backtrace")
struct BacktraceTests {
    static let available = Backtrace.isAvailable

    @Test func capturesFrames() throws {
        guard Self.available else {
            #expect(throws: BacktraceError.self) { try Backtrace.capture() }
            return
        }
        let b = try recurse(5)
        #expect(b.addresses.count >= 3)
        #expect(b.addresses.count <= 128)
        #expect(!b.addresses.contains(0))
        // The recursion shows: the deeper stack has more frames than a shallow capture from the same place.
        let shallow = try recurse(0)
        #expect(b.addresses.count >= shallow.addresses.count + 5)
        // maxFrames is honoured.
        #expect(try Backtrace.capture(maxFrames: 2).addresses.count == 2)
    }

    @Test(.enabled(if: Backtrace.isAvailable, "libunwind.so.8 is not installed"))
    func captureIntoBufferDoesNotAllocate() throws {
        try Backtrace.prepare()
        var buffer = [UnsafeMutableRawPointer?](repeating: nil, count: 32)
        let n = buffer.withUnsafeMutableBufferPointer { Backtrace.capture(into: $0) }
        #expect(n >= 3 && n <= 32)
        #expect(Backtrace.capture(into: UnsafeMutableBufferPointer(start: nil, count: 0)) == 0)
    }

    /// libunwind exports `_Unwind_*` and a weak `backtrace`; had it been loaded globally it would have become
    /// the process's unwinder. After loading it, the process must still bind to libgcc_s.
    @Test(.enabled(if: Backtrace.isAvailable, "libunwind.so.8 is not installed"))
    func libunwindDoesNotReplaceTheProcessUnwinder() throws {
        try Backtrace.prepare()
        _ = try Backtrace.capture()
        // /proc files report size 0; read them to the end through a handle.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/maps"))
        let maps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        try handle.close()
        #expect(maps.contains("libunwind.so.8"), "libunwind must really be loaded for this test to mean anything")

        var path = [CChar](repeating: 0, count: 4096)
        let rc = cshims_unwinder_origin(&path, path.count)
        #expect(rc == 0, "the process has no _Unwind_RaiseException: errno \(rc)")
        let origin = String(decoding: path.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        print("_Unwind_RaiseException binds to \(origin)")
        // Under a sanitizer the runtime's own interceptor (linked into the test binary) answers first; what
        // matters everywhere is that libunwind did not take over.
        if !TestEnvironment.isSanitized { #expect(origin.contains("libgcc_s")) }
        #expect(!origin.contains("libunwind"))

        // The process's unwinder still works after loading: walk this stack with _Unwind_Backtrace as the process
        // binds it (a Swift `throw` would prove nothing: it returns normally and never enters _Unwind_*).
        typealias Trace = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Int32
        typealias UnwindBacktrace = @convention(c) (Trace, UnsafeMutableRawPointer?) -> Int32
        let symbol = try #require(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "_Unwind_Backtrace"))
        let unwind = unsafeBitCast(symbol, to: UnwindBacktrace.self)
        var frames = 0
        _ = withUnsafeMutablePointer(to: &frames) { counter in
            unwind({ _, arg in
                arg!.assumingMemoryBound(to: Int.self).pointee += 1
                return 0  // _URC_NO_REASON: keep walking
            }, counter)
        }
        #expect(frames >= 3, "_Unwind_Backtrace walked \(frames) frames")
    }

    @Test func errorMessageSaysHowToInstall() {
        #expect(BacktraceError.libunwindUnavailable(.noSuchFileOrDirectory).description.contains("libunwind"))
    }
}
