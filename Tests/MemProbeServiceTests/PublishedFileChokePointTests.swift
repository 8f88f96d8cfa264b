#if canImport(Glibc)
@preconcurrency import Glibc
#endif
@testable import MemProbe
import MemProbeTestSupport
import SystemPackage
import Testing

@testable import MemProbeSystem

/// The published-stats file's publisher, reader and request client make their system calls through MemProbeSystem's
/// choke points: an injected failure of each call reaches the caller as the right typed error and leaves no file
/// behind, EINTR is retried, and a publication makes no system call at all.
@Suite struct PublishedFileChokePointTests {
    typealias L = PublishedStatsLayout

    /// A fresh parent directory and the per-user directory a publisher creates in it.
    struct Location {
        let parent: TemporaryDirectory
        var directory: String { parent.path + "/memprobe-\(geteuid())" }
        var statsPath: String { directory + "/\(getpid()).stats" }
        var temporaryPath: String { directory + "/.\(getpid()).stats.tmp" }
        init() throws { parent = try TemporaryDirectory(prefix: "memprobe-published") }
    }

    func create(_ location: Location, failing call: SyscallMock.Call? = nil, with errno: Errno = .ioError)
        -> (Result<StatsFilePublisher?, StatsPublishError>, SyscallMock)
    {
        let mock = SyscallMock()
        if let call { mock.fail(call, with: errno) }
        let r = SyscallMock.$current.withValue(mock) {
            Result { () throws(StatsPublishError) in try StatsFilePublisher.create(directory: location.directory) }
        }
        return (r, mock)
    }

    @Test func createdFileIsOwnerOnlyInAnOwnerOnlyDirectoryWithNoTemporaryLeft() throws {
        let location = try Location()
        let publisher = try #require(try create(location).0.get())
        #expect(publisher.path == location.statsPath)
        var st = stat()
        #expect(lstat(location.directory, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR && st.st_mode & 0o777 == 0o700)
        #expect(lstat(location.statsPath, &st) == 0 && st.st_mode & S_IFMT == S_IFREG && st.st_mode & 0o777 == 0o600)
        #expect(Int(st.st_size) == L.fileBytes && st.st_uid == geteuid())
        #expect(TemporaryDirectory.names(in: location.directory) == ["\(getpid()).stats"])
        let stats = try PublishedStatsReader.read(path: publisher.path, pid: getpid(), uid: geteuid())
        #expect(stats.pid == getpid() && stats.schemaVersion == Int(L.schemaVersion) && stats.arenas.isEmpty)
        publisher.remove()
        #expect(TemporaryDirectory.names(in: location.directory).isEmpty)
    }

    @Test func anOpenDirectoryIsClosedToOthers() throws {
        let location = try Location()
        #expect(mkdir(location.directory, 0o755) == 0 && chmod(location.directory, 0o755) == 0)
        let publisher = try #require(try create(location).0.get())
        var st = stat()
        #expect(stat(location.directory, &st) == 0 && st.st_mode & 0o777 == 0o700)
        publisher.remove()
    }

    /// A failure at each step of creation is a `.system` error naming the call, with nothing left in the directory.
    @Test(arguments: [
        (SyscallMock.Call.mkdir, Errno.permissionDenied), (.lstat, .ioError), (.chmod, .notPermitted), (.open, .noSpace),
        (.ftruncate, .noSpace), (.mmapFile, .noMemory), (.rename, .ioError),
    ])
    func aFailedStepOfCreationIsACleanError(call: SyscallMock.Call, errno: Errno) throws {
        let location = try Location()
        if call == .chmod {
            #expect(mkdir(location.directory, 0o700) == 0 && chmod(location.directory, 0o755) == 0)  // so chmod is needed
        }
        let (result, mock) = create(location, failing: call, with: errno)
        let dir = location.directory, temp = location.temporaryPath
        let expected: String = switch call {
        case .mkdir: "mkdir(\(dir), 0700)"
        case .lstat: "lstat(\(dir))"
        case .chmod: "chmod(\(dir), 0700)"
        case .open: "open(\(temp), O_CREAT|O_EXCL, 0600)"
        case .ftruncate: "ftruncate(\(temp), \(L.fileBytes))"
        case .mmapFile: "mmap(\(temp), \(L.fileBytes))"
        default: "rename(\(temp), \(location.statsPath))"
        }
        #expect(mock.injected(call) == 1)
        switch result {
        case .success: Issue.record("\(call) failing with \(errno) was not reported")
        case .failure(let error):
            #expect(error == .system(expected, errno: errno.rawValue))
            #expect(error.description.hasPrefix(expected + ": "), "\(error)")
        }
        #expect(TemporaryDirectory.names(in: dir).isEmpty, "left behind: \(TemporaryDirectory.names(in: dir))")
        if call == .mkdir { #expect(TemporaryDirectory.names(in: location.parent.path).isEmpty) }
    }

    @Test func aMissingParentIsRefusedBeforeAnyChange() throws {
        let location = try Location()
        let missing = location.parent.path + "/absent/memprobe-\(geteuid())"
        #expect(throws: StatsPublishError.unsafeDirectory(location.parent.path + "/absent", reason: "missing or not a directory")) {
            try StatsFilePublisher.create(directory: missing)
        }
        #expect(location.parent.names().isEmpty)
    }

    @Test func aPublicationMakesNoSystemCall() throws {
        let location = try Location()
        let publisher = try #require(try create(location).0.get())
        defer { publisher.remove() }
        let arena = PageArena(strategy: .dontNeed)
        arena.label = "no-syscalls"
        let p = try arena.allocate(byteCount: 4096)
        defer { arena.deallocate(p, byteCount: 4096) }
        let arenas = PageArena.liveArenas.filter { $0.arena === arena }
        let mock = SyscallMock()
        for call in SyscallMock.Call.allCases { mock.fail(call, with: .ioError, count: Int.max) }
        SyscallMock.$current.withValue(mock) {
            for _ in 0..<3 { publisher.publish(arenas: arenas, governor: GovernorState()) }
        }
        #expect(SyscallMock.Call.allCases.allSatisfy { mock.injected($0) == 0 }, "a publication went through a choke point")
        let stats = try PublishedStatsReader.read(path: publisher.path, pid: getpid(), uid: geteuid())
        #expect(stats.arenas.map(\.name) == ["no-syscalls"] && stats.governor != nil)
    }

    @Test func readerRetriesAnInterruptedPreadAndReportsEIO() throws {
        let location = try Location()
        let publisher = try #require(try create(location).0.get())
        defer { publisher.remove() }
        let path = publisher.path
        let interrupted = SyscallMock()
        interrupted.fail(.read, with: .interrupted, count: 3)
        let stats = try SyscallMock.$current.withValue(interrupted) {
            try PublishedStatsReader.read(path: path, pid: getpid(), uid: geteuid())
        }
        #expect(stats.pid == getpid() && interrupted.injected(.read) == 3)

        let failing = SyscallMock()
        failing.fail(.read, with: .ioError)
        SyscallMock.$current.withValue(failing) {
            #expect(throws: PublishedStatsError.system(call: "pread(\(path))", errno: EIO)) {
                try PublishedStatsReader.read(path: path, pid: getpid(), uid: geteuid())
            }
        }
        #expect(failing.injected(.read) == 1)
    }

    @Test func readerMapsOpenAndStatusFailures() throws {
        let location = try Location()
        let publisher = try #require(try create(location).0.get())
        defer { publisher.remove() }
        let path = publisher.path
        let cases: [(SyscallMock.Call, Errno, PublishedStatsError)] = [
            (.open, .permissionDenied, .notPermitted(path: path)),
            (.open, .noSuchFileOrDirectory, .notPublished(pid: getpid())),
            (.open, .tooManySymbolicLinkLevels, .corrupt(reason: "\(path) is a symbolic link")),
            (.open, .tooManyOpenFiles, .system(call: "open(\(path))", errno: EMFILE)),
            (.fstat, .ioError, .system(call: "fstat(\(path))", errno: EIO)),
        ]
        for (call, errno, expected) in cases {
            let mock = SyscallMock()
            mock.fail(call, with: errno)
            SyscallMock.$current.withValue(mock) {
                #expect(throws: expected) { try PublishedStatsReader.read(path: path, pid: getpid(), uid: geteuid()) }
            }
        }
    }

    @Test func requestClientWritesThroughTheChokePointsAndReportsAFailedPwrite() throws {
        let location = try Location()
        let publisher = try #require(try create(location).0.get())
        defer { publisher.remove() }
        let file = publisher.path
        let failing = SyscallMock()
        failing.fail(.pwrite, with: .ioError)
        SyscallMock.$current.withValue(failing) {
            #expect(throws: PublishedStatsError.system(call: "pwrite(\(file))", errno: EIO)) {
                try PublishedRequestClient.send(file: file, pid: getpid(), kind: PublishedRequest.heapProfile, path: "/tmp/p.pb.gz")
            }
        }
        #expect(failing.injected(.pwrite) == 1)
        #expect(publisher.pendingRequest() == nil, "a failed request never reaches the governor")

        let interrupted = SyscallMock()
        interrupted.fail(.pwrite, with: .interrupted, count: 2)
        let sequence = try SyscallMock.$current.withValue(interrupted) {
            try PublishedRequestClient.send(file: file, pid: getpid(), kind: PublishedRequest.heapProfile, path: "/tmp/p.pb.gz")
        }
        #expect(interrupted.injected(.pwrite) == 2)
        let request = try #require(publisher.pendingRequest())
        #expect(request.sequence == sequence && request.kind == PublishedRequest.heapProfile && request.path == "/tmp/p.pb.gz")
        publisher.reply(to: request, status: ENOSPC)
        let reply = try PublishedRequestClient.reply(file: file, pid: getpid())
        #expect(reply.sequence == sequence && reply.status == Int64(ENOSPC))

        let unreadable = SyscallMock()
        unreadable.fail(.read, with: .ioError)
        SyscallMock.$current.withValue(unreadable) {
            #expect(throws: PublishedStatsError.system(call: "pread(\(file))", errno: EIO)) {
                try PublishedRequestClient.reply(file: file, pid: getpid())
            }
        }
        let refused = SyscallMock()
        refused.fail(.open, with: .permissionDenied)
        SyscallMock.$current.withValue(refused) {
            #expect(throws: PublishedStatsError.notPermitted(path: file)) {
                try PublishedRequestClient.send(file: file, pid: getpid(), kind: PublishedRequest.heapProfile, path: "/tmp/p.pb.gz")
            }
        }
    }

    /// `memprobe profile <pid> -o FILE`: the governor's default handler answers the failed write's own errno, and
    /// FILE does not appear.
    @Test(.enabled(if: Backtrace.isAvailable && HeapProfileRate.processDefault != 0, "heap profiling unavailable"))
    func aHeapProfileRequestWhoseWriteFailsAnswersItsErrno() throws {
        let dir = try TemporaryDirectory()
        let request = PublishedRequest(sequence: 1, kind: PublishedRequest.heapProfile, path: dir.path + "/heap.pb.gz")
        let mock = SyscallMock()
        mock.fail(.write, with: .noSpace)
        #expect(SyscallMock.$current.withValue(mock) { HeapProfileRequestHandler.handle(request) } == ENOSPC)
        #expect(dir.names().isEmpty, "left: \(dir.names())")
        #expect(HeapProfileRequestHandler.handle(request) == 0)
        #expect(dir.names() == ["heap.pb.gz"])
    }
}
