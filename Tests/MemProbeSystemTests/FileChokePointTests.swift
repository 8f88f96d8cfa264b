#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeTestSupport
import SystemPackage
import Testing

@testable import MemProbeSystem

/// `SystemFile`, `FileMapping`, `FileSystem` and `ReplacementFile` against the kernel (checked with libc, an
/// independent path), and every file choke point's injected errno reaching the caller as a `SystemCallError` that
/// names the call.
@Suite struct FileChokePointTests {
    /// Runs `body` with `mock` in force for this task.
    @discardableResult
    func with<T>(_ mock: SyscallMock, _ body: () throws -> T) rethrows -> T {
        try SyscallMock.$current.withValue(mock) { try body() }
    }

    @Test func createWriteReadTruncateAndStatusAgreeWithTheKernel() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/f"
        let file = try SystemFile.createNew(path, .readWrite, permissions: 0o600)
        let text = Array("hello, choke points".utf8)
        try text.withUnsafeBytes { try file.writeAll($0, atOffset: 100) }
        var back = [UInt8](repeating: 0, count: text.count)
        let n = try back.withUnsafeMutableBytes { try file.read(into: $0, atOffset: 100) }
        #expect(n == text.count && back == text)
        try file.truncate(toByteCount: 4096)
        let status = try file.status()
        #expect(status.kind == .regular && status.byteCount == 4096 && status.permissions == 0o600)
        #expect(status.ownerID == geteuid())
        try file.close()
        #expect(!file.isOpen)
        var st = stat()
        #expect(stat(path, &st) == 0 && st.st_size == 4096 && st.st_mode & 0o777 == 0o600)
        #expect(contentsOfFile(path).map { Array($0[100..<(100 + text.count)]) } == text)
    }

    @Test func createNewRefusesAnExistingFileAndAPlantedLink() throws {
        let dir = try TemporaryDirectory()
        writeFile(dir.path + "/exists", [1])
        #expect(symlink(dir.path + "/elsewhere", dir.path + "/link") == 0)
        for name in ["exists", "link"] {
            #expect(throws: SystemCallError(
                call: "open(\(dir.path)/\(name), O_CREAT|O_EXCL, 0600)", errno: .fileExists)) {
                try SystemFile.createNew(dir.path + "/" + name, .readWrite, permissions: 0o600)
            }
        }
        #expect(contentsOfFile(dir.path + "/elsewhere") == nil, "nothing was created through the link")
        #expect(throws: SystemCallError(call: "open(\(dir.path)/link)", errno: .tooManySymbolicLinkLevels)) {
            try SystemFile.open(dir.path + "/link", .readOnly, followSymlinks: false)
        }
    }

    @Test func sequentialReadReadsAPipe() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]) }
        _ = "abc".withCString { write(fds[1], $0, 3) }
        close(fds[1])
        let file = try SystemFile.open("/proc/self/fd/\(fds[0])", .readOnly)
        var buf = [UInt8](repeating: 0, count: 16)
        let n = try buf.withUnsafeMutableBytes { try file.read(into: $0) }
        #expect(n == 3 && Array(buf[0..<3]) == Array("abc".utf8))
    }

    @Test func interruptedCallsAreRetried() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/f"
        writeFile(path, Array("0123456789".utf8))
        let mock = SyscallMock()
        for call: SyscallMock.Call in [.open, .read, .readStream, .pwrite, .write, .ftruncate, .fsync, .fstat, .stat] {
            mock.fail(call, with: .interrupted, count: 3)
        }
        try with(mock) {
            let file = try SystemFile.open(path, .readWrite)
            var buf = [UInt8](repeating: 0, count: 4)
            #expect(try buf.withUnsafeMutableBytes { try file.read(into: $0, atOffset: 2) } == 4 && buf == Array("2345".utf8))
            #expect(try buf.withUnsafeMutableBytes { try file.read(into: $0) } == 4 && buf == Array("0123".utf8))
            try Array("ab".utf8).withUnsafeBytes { try file.writeAll($0, atOffset: 8) }
            try Array("xy".utf8).withUnsafeBytes { try file.writeAll($0) }
            try file.truncate(toByteCount: 10)
            try file.synchronize()
            #expect(try file.status().byteCount == 10)
            #expect(try FileSystem.status(ofPath: path).byteCount == 10)
            try file.close()
        }
        for call: SyscallMock.Call in [.open, .read, .readStream, .pwrite, .write, .ftruncate, .fsync, .fstat, .stat] {
            #expect(mock.injected(call) == 3, "\(call)")
        }
        #expect(contentsOfFile(path) == Array("0123xy67ab".utf8))
    }

    @Test func injectedFailuresOfEachFileCallNameTheCall() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/f"
        writeFile(path, [UInt8](repeating: 7, count: 64))
        let byte: [UInt8] = [1]
        // (call to fail, errno, what the error must say, the operation)
        let cases: [(SyscallMock.Call, Errno, String, (SystemFile) throws(SystemCallError) -> Void)] = [
            (.read, .ioError, "pread(\(path))", { f throws(SystemCallError) in
                var b = [UInt8](repeating: 0, count: 8)
                let r = b.withUnsafeMutableBytes { raw in Result { () throws(SystemCallError) in try f.read(into: raw, atOffset: 0) } }
                _ = try r.get()
            }),
            (.readStream, .ioError, "read(\(path))", { f throws(SystemCallError) in
                var b = [UInt8](repeating: 0, count: 8)
                let r = b.withUnsafeMutableBytes { raw in Result { () throws(SystemCallError) in try f.read(into: raw) } }
                _ = try r.get()
            }),
            (.pwrite, .noSpace, "pwrite(\(path))", { f throws(SystemCallError) in
                let r = byte.withUnsafeBytes { raw in Result { () throws(SystemCallError) in try f.writeAll(raw, atOffset: 0) } }
                try r.get()
            }),
            (.write, .noSpace, "write(\(path))", { f throws(SystemCallError) in
                let r = byte.withUnsafeBytes { raw in Result { () throws(SystemCallError) in try f.writeAll(raw) } }
                try r.get()
            }),
            (.ftruncate, .fileTooLarge, "ftruncate(\(path), 128)", { f throws(SystemCallError) in try f.truncate(toByteCount: 128) }),
            (.fsync, .ioError, "fsync(\(path))", { f throws(SystemCallError) in try f.synchronize() }),
            (.fstat, .ioError, "fstat(\(path))", { f throws(SystemCallError) in _ = try f.status() }),
            (.close, .ioError, "close(\(path))", { f throws(SystemCallError) in try f.close() }),
            (.mmapFile, .noMemory, "mmap(\(path), 64)", { f throws(SystemCallError) in _ = try FileMapping(f, byteCount: 64, access: .readOnly) }),
        ]
        for (call, errno, name, operation) in cases {
            let file = try SystemFile.open(path, .readWrite)
            let mock = SyscallMock()
            mock.fail(call, with: errno)
            with(mock) {
                #expect(throws: SystemCallError(call: name, errno: errno), "\(call)") { try operation(file) }
            }
            #expect(mock.injected(call) == 1, "\(call)")
        }
        #expect(contentsOfFile(path) == [UInt8](repeating: 7, count: 64), "no failed call changed the file")
        let mock = SyscallMock()
        mock.fail(.open, with: .permissionDenied)
        with(mock) {
            #expect(throws: SystemCallError(call: "open(\(path))", errno: .permissionDenied)) { try SystemFile.open(path, .readOnly) }
        }
    }

    @Test func aFailedCloseStillReleasesTheDescriptor() throws {
        let dir = try TemporaryDirectory()
        let file = try SystemFile.createNew(dir.path + "/f", .writeOnly, permissions: 0o600)
        let fd = file.descriptor
        let mock = SyscallMock()
        mock.fail(.close, with: .ioError)
        with(mock) { #expect(throws: SystemCallError.self) { try file.close() } }
        #expect(!file.isOpen)
        #expect(fcntl(fd, F_GETFD) == -1 && errno == EBADF, "the descriptor was closed although close reported EIO")
    }

    @Test func aSharedMappingWritesTheFileAndUnmaps() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/m"
        let file = try SystemFile.createNew(path, .readWrite, permissions: 0o600)
        try file.truncate(toByteCount: 8192)
        let mapping = try FileMapping(file, byteCount: 8192, access: .sharedReadWrite)
        try file.close()  // the mapping outlives the descriptor
        mapping.base.storeBytes(of: 0x1122_3344_5566_7788 as UInt64, toByteOffset: 4096, as: UInt64.self)
        let bytes = try #require(contentsOfFile(path))
        #expect(bytes.count == 8192)
        #expect(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4096, as: UInt64.self) } == 0x1122_3344_5566_7788)
        let maps = try ProcFile.read(pid: nil, "maps")
        #expect(maps.contains(path), "mapped")
        let mock = SyscallMock()
        mock.fail(.munmap, with: .invalidArgument)
        with(mock) {
            #expect(throws: SystemCallError(call: "munmap(\(path), 8192)", errno: .invalidArgument)) { try mapping.unmap() }
        }
        // The failed unmap left the pages mapped; the kernel's copy is still the file's.
        #expect(try ProcFile.read(pid: nil, "maps").contains(path))
    }

    @Test func readOnlyMappingSeesTheFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/r"
        writeFile(path, Array("read only".utf8))
        let file = try SystemFile.open(path, .readOnly)
        let mapping = try FileMapping(file, byteCount: 9, access: .readOnly)
        #expect(String(decoding: UnsafeRawBufferPointer(start: mapping.base, count: 9), as: UTF8.self) == "read only")
        try mapping.unmap()
        try mapping.unmap()  // idempotent
        #expect(!(try ProcFile.read(pid: nil, "maps")).contains(path))
    }

    @Test func pathOperationsAgreeWithTheKernel() throws {
        let dir = try TemporaryDirectory()
        let sub = dir.path + "/sub"
        try FileSystem.makeDirectory(sub, permissions: 0o700)
        #expect(try FileSystem.status(ofPath: sub).permissions == 0o700)
        #expect(throws: SystemCallError(call: "mkdir(\(sub), 0700)", errno: .fileExists)) {
            try FileSystem.makeDirectory(sub, permissions: 0o700)
        }
        try FileSystem.setPermissions(0o750, ofPath: sub)
        var st = stat()
        #expect(stat(sub, &st) == 0 && st.st_mode & 0o7777 == 0o750)
        writeFile(dir.path + "/a", [1, 2, 3])
        #expect(symlink(sub, dir.path + "/l") == 0)
        #expect(try FileSystem.status(ofPath: dir.path + "/l").kind == .directory)
        #expect(try FileSystem.status(ofPath: dir.path + "/l", followSymlinks: false).kind == .symbolicLink)
        let entries = try FileSystem.directoryEntries(dir.path).sorted { $0.name < $1.name }
        #expect(entries == [
            DirectoryEntry(name: "a", kind: .regular), DirectoryEntry(name: "l", kind: .symbolicLink),
            DirectoryEntry(name: "sub", kind: .directory),
        ])
        try FileSystem.rename(dir.path + "/a", to: dir.path + "/b")
        #expect(dir.names() == ["b", "l", "sub"])
        try FileSystem.removeFile(dir.path + "/b")
        #expect(throws: SystemCallError(call: "unlink(\(dir.path)/b)", errno: .noSuchFileOrDirectory)) {
            try FileSystem.removeFile(dir.path + "/b")
        }
        #expect(dir.names() == ["l", "sub"])
    }

    @Test func injectedFailuresOfEachPathCallNameTheCall() throws {
        let dir = try TemporaryDirectory()
        let a = dir.path + "/a", b = dir.path + "/b"
        writeFile(a, [1])
        let cases: [(SyscallMock.Call, Errno, String, () throws(SystemCallError) -> Void)] = [
            (.mkdir, .readOnlyFileSystem, "mkdir(\(b), 0700)", { () throws(SystemCallError) in try FileSystem.makeDirectory(b, permissions: 0o700) }),
            (.chmod, .notPermitted, "chmod(\(a), 0600)", { () throws(SystemCallError) in try FileSystem.setPermissions(0o600, ofPath: a) }),
            (.rename, .improperLink, "rename(\(a), \(b))", { () throws(SystemCallError) in try FileSystem.rename(a, to: b) }),
            (.unlink, .permissionDenied, "unlink(\(a))", { () throws(SystemCallError) in try FileSystem.removeFile(a) }),
            (.stat, .permissionDenied, "stat(\(a))", { () throws(SystemCallError) in _ = try FileSystem.status(ofPath: a) }),
            (.lstat, .permissionDenied, "lstat(\(a))", { () throws(SystemCallError) in _ = try FileSystem.status(ofPath: a, followSymlinks: false) }),
            (.opendir, .permissionDenied, "opendir(\(dir.path))", { () throws(SystemCallError) in _ = try FileSystem.directoryEntries(dir.path) }),
        ]
        for (call, errno, name, operation) in cases {
            let mock = SyscallMock()
            mock.fail(call, with: errno)
            with(mock) { #expect(throws: SystemCallError(call: name, errno: errno), "\(call)") { try operation() } }
            #expect(mock.injected(call) == 1, "\(call)")
        }
        #expect(dir.names() == ["a"], "no failed call changed the directory")
    }

    @Test func cgroupChildListingAndExistenceGoThroughTheChokePoints() throws {
        let dir = try TemporaryDirectory()
        try FileSystem.makeDirectory(dir.path + "/child", permissions: 0o755)
        writeFile(dir.path + "/memory.max", Array("max\n".utf8))
        let cg = MemoryCgroup(version: .v2, directory: dir.path)
        #expect(cg.childNames() == ["child"])
        #expect(cgroupFileExists(dir.path + "/memory.max"))
        let mock = SyscallMock()
        mock.fail(.opendir, with: .permissionDenied)
        mock.fail(.access, with: .permissionDenied)
        with(mock) {
            #expect(cg.childNames().isEmpty)
            #expect(!cgroupFileExists(dir.path + "/memory.max"))
        }
        #expect(mock.injected(.opendir) == 1 && mock.injected(.access) == 1)
    }
}

/// `ReplacementFile`: the target gets all the bytes or keeps what it had; no temporary file is ever left.
@Suite struct ReplacementFileTests {
    @Test func commitReplacesTheTargetThroughANewFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/out"
        writeFile(path, Array("old".utf8))
        var st = stat()
        #expect(stat(path, &st) == 0)
        let oldInode = st.st_ino
        let out = try ReplacementFile(replacing: path, permissions: 0o600)
        #expect(out.temporaryPath.hasPrefix(dir.path + "/.out.tmp-\(getpid())-"))
        #expect(dir.names().count == 2)
        try Array("new contents".utf8).withUnsafeBytes { try out.write($0) }
        #expect(contentsOfFile(path) == Array("old".utf8), "the target is untouched until commit")
        try out.commit()
        #expect(contentsOfFile(path) == Array("new contents".utf8))
        #expect(stat(path, &st) == 0 && st.st_ino != oldInode && st.st_mode & 0o777 == 0o600)
        #expect(dir.names() == ["out"])
    }

    @Test func aReleasedUncommittedFileLeavesNothing() throws {
        let dir = try TemporaryDirectory()
        do {
            let out = try ReplacementFile(replacing: dir.path + "/out")
            try [UInt8](repeating: 1, count: 10).withUnsafeBytes { try out.write($0) }
            #expect(dir.names().count == 1)
        }
        #expect(dir.names().isEmpty)
    }

    /// A failure at any step — the temporary file's creation, a write, the flush, the close, the rename — throws
    /// that call's error, removes the temporary file and leaves the target as it was.
    @Test(arguments: [
        (SyscallMock.Call.open, Errno.noSpace), (.write, .noSpace), (.fsync, .ioError), (.close, .ioError),
        (.rename, .improperLink),
    ])
    func aFailedStepLeavesNothingAndKeepsTheTarget(call: SyscallMock.Call, errno: Errno) throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/out"
        writeFile(path, Array("old".utf8))
        let mock = SyscallMock()
        mock.fail(call, with: errno)
        let thrown = SyscallMock.$current.withValue(mock) {
            Result { () throws(SystemCallError) in try ReplacementFile.write([UInt8](repeating: 2, count: 100_000), to: path) }
        }
        guard case .failure(let error) = thrown else {
            Issue.record("\(call) failing with \(errno) was not reported")
            return
        }
        #expect(error.errno == errno && error.call.hasPrefix(call == .fsync ? "fsync(" : "\(call.rawValue)("), "\(error)")
        #expect(mock.injected(call) == 1)
        #expect(dir.names() == ["out"], "temporary file left: \(dir.names())")
        #expect(contentsOfFile(path) == Array("old".utf8))
    }

    @Test("a real full file system: ENOSPC from write, nothing left", .enabled(if: TestEnvironment.isRoot, "mounting a tmpfs needs root"))
    func fullFileSystem() throws {
        let fs = try SmallTmpfs(sizeBytes: 64 << 10)
        defer { fs.unmount() }
        let path = fs.path + "/out"
        do {
            try ReplacementFile.write([UInt8](repeating: 3, count: 256 << 10), to: path)
            Issue.record("256 KiB fit in a 64 KiB tmpfs")
        } catch {
            #expect(error.errno == .noSpace && error.call.hasPrefix("write("), "\(error)")
        }
        #expect(TemporaryDirectory.names(in: fs.path).isEmpty, "left: \(TemporaryDirectory.names(in: fs.path))")
        // With the space back, the same write succeeds.
        try ReplacementFile.write([UInt8](repeating: 3, count: 16 << 10), to: path)
        #expect(contentsOfFile(path)?.count == 16 << 10)
    }
}
