#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeArena
@testable import MemProbeProfile
import MemProbeTestSupport
import SystemPackage
import Testing

@testable import MemProbeSystem

/// A heap profile reaches the user's file whole or not at all: it is written to a temporary file in the same
/// directory through MemProbeSystem's choke points and renamed into place only after every write, the flush and the
/// close succeeded; a failure names the call and errno and leaves nothing under either name.
@Suite struct ProfileFileWriteTests {
    /// A sampling arena kept alive so `HeapProfile.currentProcess()` has something to write.
    static let arena = samplingArena(interval: 4096)

    func failure<T>(_ mock: SyscallMock, _ body: () throws(HeapProfileError) -> T) -> HeapProfileError? {
        let r = SyscallMock.$current.withValue(mock) { Result { () throws(HeapProfileError) in try body() } }
        if case .failure(let e) = r { return e }
        return nil
    }

    @Test(.enabled(if: samplingAvailable, "libunwind.so.8 is not installed"))
    func heapProfileIsRenamedIntoPlaceWhole() throws {
        let p = try Self.arena.allocate(byteCount: 64 << 10)
        defer { Self.arena.deallocate(p, byteCount: 64 << 10) }
        let dir = try TemporaryDirectory()
        let path = dir.path + "/heap.pb.gz"
        writeFile(path, Array("old".utf8))
        try HeapProfile.write(toPath: path)
        #expect(dir.names() == ["heap.pb.gz"])
        let profile = try ProfileReader.parse(try #require(contentsOfFile(path)))
        #expect(profile.sampleTypes.map(\.type) == ["alloc_objects", "alloc_space", "inuse_objects", "inuse_space"])
    }

    @Test("ENOSPC injected into write(2): the error names write and ENOSPC, nothing is left, the old file stays",
          .enabled(if: samplingAvailable, "libunwind.so.8 is not installed"))
    func injectedNoSpaceOnWrite() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/heap.pb.gz"
        writeFile(path, Array("old".utf8))
        let mock = SyscallMock()
        mock.fail(.write, with: .noSpace)
        let error = try #require(failure(mock) { () throws(HeapProfileError) in try HeapProfile.write(toPath: path) })
        guard case .file(.write(let named, let call)) = error else {
            Issue.record("unexpected error \(error)")
            return
        }
        #expect(named == path && call.errno == .noSpace)
        #expect(call.call.hasPrefix("write(\(dir.path)/.heap.pb.gz.tmp-\(getpid())-"), "\(call)")
        #expect(error.description.hasPrefix("cannot write \(path): write(") && error.description.contains("errno 28"), "\(error)")
        #expect(mock.injected(.write) == 1)
        #expect(dir.names() == ["heap.pb.gz"], "left: \(dir.names())")
        #expect(contentsOfFile(path) == Array("old".utf8))
    }

    /// Each later step failing is reported with its call; the temporary file is removed and no file appears.
    @Test(arguments: [
        (SyscallMock.Call.open, Errno.permissionDenied, "open("), (.write, .noSpace, "write("), (.fsync, .ioError, "fsync("),
        (.close, .noSpace, "close("), (.rename, .improperLink, "rename("),
    ])
    func eachStepOfTheWriteIsChecked(call: SyscallMock.Call, errno: Errno, named: String) throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/p.pb.gz"
        let mock = SyscallMock()
        mock.fail(call, with: errno)
        let r = SyscallMock.$current.withValue(mock) {
            Result { () throws(ProfileFileError) in try ProfileFile.writeAtomically([UInt8](repeating: 9, count: 300_000), to: path) }
        }
        switch r {
        case .success: Issue.record("\(call) failing with \(errno) was not reported")
        case .failure(.open(let p, let e)) where call == .open:
            #expect(p == path && e.errno == errno && e.call.hasPrefix("open(\(dir.path)/.p.pb.gz.tmp-"), "\(e)")
        case .failure(.write(let p, let e)):
            #expect(p == path && e.errno == errno && e.call.hasPrefix(named), "\(e)")
        case .failure(let e): Issue.record("unexpected error \(e)")
        }
        #expect(mock.injected(call) == 1)
        #expect(dir.names().isEmpty, "left: \(dir.names())")
    }

    @Test("a real full file system: the profile write fails with ENOSPC and leaves nothing",
          .enabled(if: TestEnvironment.isRoot, "mounting a tmpfs needs root"),
          .enabled(if: samplingAvailable, "libunwind.so.8 is not installed"))
    func fullFileSystem() throws {
        let p = try Self.arena.allocate(byteCount: 64 << 10)
        defer { Self.arena.deallocate(p, byteCount: 64 << 10) }
        let fs = try SmallTmpfs(sizeBytes: 64 << 10)
        defer { fs.unmount() }
        try fs.fill()
        let path = fs.path + "/heap.pb.gz"
        do {
            try HeapProfile.write(toPath: path)
            Issue.record("a profile was written to a full file system")
        } catch {
            guard case .file(.write(_, let call)) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(call.errno == .noSpace && call.call.hasPrefix("write("), "\(call)")
        }
        #expect(TemporaryDirectory.names(in: fs.path) == ["filler"], "left: \(TemporaryDirectory.names(in: fs.path))")
        // Room again: the same call succeeds and the file parses.
        #expect(unlink(fs.path + "/filler") == 0)
        try HeapProfile.write(toPath: path)
        _ = try ProfileReader.parse(try #require(contentsOfFile(path)))
        #expect(TemporaryDirectory.names(in: fs.path) == ["heap.pb.gz"])
    }

    @Test func readingAProfileGoesThroughTheChokePoints() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/in.pb.gz"
        writeFile(path, [1, 2, 3])
        #expect(try ProfileFile.read(path) == [1, 2, 3])
        let mock = SyscallMock()
        mock.fail(.readStream, with: .ioError)
        let r = SyscallMock.$current.withValue(mock) { Result { () throws(ProfileFileError) in try ProfileFile.read(path) } }
        #expect(throws: ProfileFileError.read(path, SystemCallError(call: "read(\(path))", errno: .ioError))) { try r.get() }
        let missing = dir.path + "/missing"
        #expect(throws: ProfileFileError.open(missing, SystemCallError(call: "open(\(missing))", errno: .noSuchFileOrDirectory))) {
            try ProfileFile.read(missing)
        }
    }

    @Test func elfImagesAreOpenedAndMappedThroughTheChokePoints() throws {
        let exe = "/proc/self/exe"
        #expect(ELFImage(path: exe)?.hasSymbols == true)
        for call: SyscallMock.Call in [.open, .fstat, .mmapFile] {
            let mock = SyscallMock()
            mock.fail(call, with: .ioError)
            let image = SyscallMock.$current.withValue(mock) { ELFImage(path: exe) }
            #expect(image == nil && mock.injected(call) == 1, "\(call)")
        }
    }
}
