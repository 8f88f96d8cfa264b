#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CShims
import Synchronization
import SystemPackage

// One internal choke point per system call. In debug builds (ENABLE_MOCKING) a test can make any of them
// fail with a chosen errno through `SyscallMock`, the way apple/swift-system's mocking layer works.
// Everything above this file calls the kernel only through these functions (the exceptions, and why, are listed in
// docs/system-layer.md, "Choke points"). Each returns the errno as a value; the ones that can be interrupted retry
// EINTR, an injected EINTR included, so a test can prove the retry.

/// The system calls a test can make fail, one name per choke point. Defined in every build so release builds need
/// no second list; only debug builds have a ``SyscallMock`` that reads it.
enum SyscallCall: String, Sendable, CaseIterable {
    /// mmap of anonymous memory (arenas, compare's pressure mapping).
    case mmap
    /// mmap of a file (the published-stats file, ELF images).
    case mmapFile
    case munmap, madvise, mincore
    /// open(2), every flag combination.
    case open
    /// pread(2). (Named before read(2) had a choke point of its own; existing tests inject it.)
    case read
    /// read(2): files read front to back, pipes included.
    case readStream
    /// write(2).
    case write
    case pwrite, ftruncate, fsync, close
    case stat, lstat, fstat, chmod, access
    case mkdir, rmdir, rename, unlink
    /// opendir(3) and its readdir(3) loop: one directory listing.
    case opendir
    /// prctl(PR_SET_PDEATHSIG).
    case prctl
    /// mbind(2), through libnuma's loader (CShims/numa.c).
    case mbind
    /// numa_move_pages in query mode (move_pages(2) with no target nodes).
    case movePages
}

#if ENABLE_MOCKING
@inline(__always)
func mockedErrno(_ call: SyscallCall) -> Int32? { SyscallMock.current?.take(call) }
#else
/// Release builds: no mock, the check folds away.
@inline(__always)
func mockedErrno(_ call: SyscallCall) -> Int32? { nil }
#endif

/// Calls `attempt` until it succeeds or fails with anything but EINTR. The mock is consulted before each attempt,
/// so an injected EINTR is retried exactly like a real one.
@inline(__always)
private func retryingInterrupts<T>(_ call: SyscallCall, _ attempt: () -> Result<T, Errno>) -> Result<T, Errno> {
    while true {
        if let e = mockedErrno(call) {
            if e == EINTR { continue }
            return .failure(Errno(rawValue: e))
        }
        let r = attempt()
        if case .failure(.interrupted) = r { continue }
        return r
    }
}

/// `rc == 0` → success, else the errno of the call that just returned.
@inline(__always)
private func zeroOrErrno(_ rc: Int32) -> Result<Void, Errno> {
    rc == 0 ? .success(()) : .failure(Errno(rawValue: errno))
}

// MARK: Memory

/// mmap(PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS[|MAP_NORESERVE]).
func system_mmapAnonymous(_ length: Int, noReserve: Bool) -> Result<UnsafeMutableRawPointer, Errno> {
    if let e = mockedErrno(.mmap) { return .failure(Errno(rawValue: e)) }
    var out: UnsafeMutableRawPointer? = nil
    let rc = cshims_mmap_anonymous(length, noReserve ? 1 : 0, &out)
    guard rc == 0, let p = out else { return .failure(Errno(rawValue: rc)) }
    return .success(p)
}

/// mmap of `length` bytes of file `fd` from offset 0: `PROT_READ|PROT_WRITE, MAP_SHARED` when `sharedWritable`
/// (stores reach the file), else `PROT_READ, MAP_PRIVATE`.
func system_mmapFile(_ fd: Int32, _ length: Int, sharedWritable: Bool) -> Result<UnsafeMutableRawPointer, Errno> {
    if let e = mockedErrno(.mmapFile) { return .failure(Errno(rawValue: e)) }
    let protection = sharedWritable ? PROT_READ | PROT_WRITE : PROT_READ
    let flags = sharedWritable ? MAP_SHARED : MAP_PRIVATE
    guard let p = mmap(nil, length, protection, flags, fd, 0), p != MAP_FAILED else {
        return .failure(Errno(rawValue: errno))
    }
    return .success(p)
}

func system_munmap(_ address: UnsafeMutableRawPointer, _ length: Int) -> Result<Void, Errno> {
    if let e = mockedErrno(.munmap) { return .failure(Errno(rawValue: e)) }
    let rc = cshims_munmap(address, length)
    return rc == 0 ? .success(()) : .failure(Errno(rawValue: rc))
}

func system_madvise(_ address: UnsafeMutableRawPointer, _ length: Int, _ advice: Int32) -> Result<Void, Errno> {
    if let e = mockedErrno(.madvise) { return .failure(Errno(rawValue: e)) }
    let rc = cshims_madvise(address, length, advice)
    return rc == 0 ? .success(()) : .failure(Errno(rawValue: rc))
}

func system_mincore(
    _ address: UnsafeMutableRawPointer, _ length: Int, _ vector: UnsafeMutablePointer<UInt8>
) -> Result<Void, Errno> {
    if let e = mockedErrno(.mincore) { return .failure(Errno(rawValue: e)) }
    let rc = cshims_mincore(address, length, vector)
    return rc == 0 ? .success(()) : .failure(Errno(rawValue: rc))
}

// MARK: File descriptors

/// open(path, flags, mode), retrying EINTR. `O_CLOEXEC` is the caller's to pass (every caller does).
func system_open(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> Result<Int32, Errno> {
    retryingInterrupts(.open) {
        let fd = open(path, flags, mode)
        return fd >= 0 ? .success(fd) : .failure(Errno(rawValue: errno))
    }
}

/// open(path, O_RDONLY|O_CLOEXEC), retrying EINTR (/proc and cgroup files).
func system_openReadOnly(_ path: String) -> Result<Int32, Errno> {
    system_open(path, O_RDONLY | O_CLOEXEC)
}

/// open(path, O_WRONLY|O_CLOEXEC), retrying EINTR (cgroup control files).
func system_openWriteOnly(_ path: String) -> Result<Int32, Errno> {
    system_open(path, O_WRONLY | O_CLOEXEC)
}

/// close(fd). Never retried: Linux releases the descriptor even when close reports EINTR, and a retry could close
/// a descriptor another thread just opened. A writer must check the result (NFS, for one, reports a failed
/// write-back here); a reader may ignore it.
func system_close(_ fd: Int32) -> Result<Void, Errno> {
    if let e = mockedErrno(.close) {
        _ = close(fd)  // the descriptor is released whatever close answers
        return .failure(Errno(rawValue: e))
    }
    return zeroOrErrno(close(fd))
}

/// pread, retrying EINTR. Returns the byte count (0 at end of file).
func system_pread(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, _ offset: Int) -> Result<Int, Errno> {
    retryingInterrupts(.read) {
        let n = pread(fd, buffer.baseAddress, buffer.count, off_t(offset))
        return n >= 0 ? .success(n) : .failure(Errno(rawValue: errno))
    }
}

/// read(2), retrying EINTR. Returns the byte count (0 at end of file).
func system_read(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
    retryingInterrupts(.readStream) {
        let n = read(fd, buffer.baseAddress, buffer.count)
        return n >= 0 ? .success(n) : .failure(Errno(rawValue: errno))
    }
}

/// One write(2), retrying EINTR. Returns the byte count written (a control file takes it whole or refuses).
func system_write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> {
    retryingInterrupts(.write) {
        let n = write(fd, buffer.baseAddress, buffer.count)
        return n >= 0 ? .success(n) : .failure(Errno(rawValue: errno))
    }
}

/// One pwrite(2), retrying EINTR. Returns the byte count written.
func system_pwrite(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, _ offset: Int) -> Result<Int, Errno> {
    retryingInterrupts(.pwrite) {
        let n = pwrite(fd, buffer.baseAddress, buffer.count, off_t(offset))
        return n >= 0 ? .success(n) : .failure(Errno(rawValue: errno))
    }
}

/// ftruncate(fd, length), retrying EINTR.
func system_ftruncate(_ fd: Int32, _ length: Int) -> Result<Void, Errno> {
    retryingInterrupts(.ftruncate) { zeroOrErrno(ftruncate(fd, off_t(length))) }
}

/// fsync(fd), retrying EINTR.
func system_fsync(_ fd: Int32) -> Result<Void, Errno> {
    retryingInterrupts(.fsync) { zeroOrErrno(fsync(fd)) }
}

/// fstat(fd).
func system_fstat(_ fd: Int32) -> Result<stat, Errno> {
    retryingInterrupts(.fstat) {
        var st = stat()
        return fstat(fd, &st) == 0 ? .success(st) : .failure(Errno(rawValue: errno))
    }
}

// MARK: Paths

/// stat(path): follows a final symbolic link.
func system_stat(_ path: String) -> Result<stat, Errno> {
    retryingInterrupts(.stat) {
        var st = stat()
        return stat(path, &st) == 0 ? .success(st) : .failure(Errno(rawValue: errno))
    }
}

/// lstat(path): a final symbolic link is reported as itself.
func system_lstat(_ path: String) -> Result<stat, Errno> {
    retryingInterrupts(.lstat) {
        var st = stat()
        return lstat(path, &st) == 0 ? .success(st) : .failure(Errno(rawValue: errno))
    }
}

/// chmod(path, mode), retrying EINTR.
func system_chmod(_ path: String, _ mode: mode_t) -> Result<Void, Errno> {
    retryingInterrupts(.chmod) { zeroOrErrno(chmod(path, mode)) }
}

/// access(path, mode) (`F_OK`, `W_OK`, …), retrying EINTR.
func system_access(_ path: String, _ mode: Int32) -> Result<Void, Errno> {
    retryingInterrupts(.access) { zeroOrErrno(access(path, mode)) }
}

/// mkdir(path, mode), retrying EINTR. The umask applies, as always.
func system_mkdir(_ path: String, _ mode: mode_t = 0o755) -> Result<Void, Errno> {
    retryingInterrupts(.mkdir) { zeroOrErrno(mkdir(path, mode)) }
}

/// rmdir(path), retrying EINTR.
func system_rmdir(_ path: String) -> Result<Void, Errno> {
    retryingInterrupts(.rmdir) { zeroOrErrno(rmdir(path)) }
}

/// rename(from, to), retrying EINTR: atomically replaces `to` (same file system).
func system_rename(_ from: String, _ to: String) -> Result<Void, Errno> {
    retryingInterrupts(.rename) { zeroOrErrno(rename(from, to)) }
}

/// unlink(path), retrying EINTR.
func system_unlink(_ path: String) -> Result<Void, Errno> {
    retryingInterrupts(.unlink) { zeroOrErrno(unlink(path)) }
}

/// The entries of directory `path` other than `.` and `..`, with their `d_type` (`DT_UNKNOWN` on file systems that
/// do not fill it): opendir, readdir until the end (errno tells the end from a failure), closedir.
func system_readDirectory(_ path: String) -> Result<[(name: String, type: UInt8)], Errno> {
    if let e = mockedErrno(.opendir) { return .failure(Errno(rawValue: e)) }
    guard let dir = opendir(path) else { return .failure(Errno(rawValue: errno)) }
    defer { closedir(dir) }
    var entries: [(name: String, type: UInt8)] = []
    while true {
        errno = 0
        guard let entry = readdir(dir) else {
            let e = errno
            return e == 0 ? .success(entries) : .failure(Errno(rawValue: e))
        }
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { entries.append((name, entry.pointee.d_type)) }
    }
}

// MARK: NUMA (libnuma, loaded by CShims/numa.c)

/// mbind(address, length, mode, nodemask, maxnode, flags).
func system_mbind(
    _ address: UnsafeMutableRawPointer, _ length: Int, _ mode: Int32, _ nodemask: UnsafePointer<UInt>?, _ maxnode: UInt,
    _ flags: UInt32
) -> Result<Void, Errno> {
    if let e = mockedErrno(.mbind) { return .failure(Errno(rawValue: e)) }
    let rc = cshims_mbind(address, length, mode, nodemask, maxnode, flags)
    return rc == 0 ? .success(()) : .failure(Errno(rawValue: rc))
}

/// The node of each of `count` pages (`numa_move_pages` query: nothing moves); per-page results in `status`.
func system_numaPageNodes(
    _ pages: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ count: Int, _ status: UnsafeMutablePointer<Int32>
) -> Result<Void, Errno> {
    if let e = mockedErrno(.movePages) { return .failure(Errno(rawValue: e)) }
    let rc = cshims_numa_page_nodes(pages, count, status)
    return rc == 0 ? .success(()) : .failure(Errno(rawValue: rc))
}

// MARK: Processes

/// prctl(PR_SET_PDEATHSIG, signal).
func system_setParentDeathSignal(_ signal: Int32) -> Result<Void, Errno> {
    if let e = mockedErrno(.prctl) { return .failure(Errno(rawValue: e)) }
    let rc = cshims_set_parent_death_signal(signal)
    return rc == 0 ? .success(()) : .failure(Errno(rawValue: rc))
}

#if ENABLE_MOCKING
/// Test hook: makes the next calls of chosen system calls fail with a chosen errno.
///
/// Installed for the current task with `SyscallMock.$current.withValue(mock) { … }`, so tests that run in
/// parallel do not see each other's faults. Internal and compiled into debug builds only (ENABLE_MOCKING):
/// tests reach it with `@testable import MemProbeSystem`; a release build has no trace of it.
final class SyscallMock: Sendable {
    /// The system calls that can be made to fail (one name per choke point).
    typealias Call = SyscallCall

    /// The mock in force for the current task, if any.
    @TaskLocal static var current: SyscallMock?

    private struct State {
        var rules: [Call: (errno: Int32, remaining: Int)] = [:]
        var counts: [Call: Int] = [:]
    }
    private let state = Mutex(State())

    init() {}

    /// Makes the next `count` calls of `call` fail with `errno` (count `Int.max`: every call).
    func fail(_ call: Call, with errno: Errno, count: Int = 1) {
        state.withLock { $0.rules[call] = (errno.rawValue, count) }
    }

    /// How many injected failures of `call` were consumed.
    func injected(_ call: Call) -> Int { state.withLock { $0.counts[call, default: 0] } }

    func take(_ call: Call) -> Int32? {
        state.withLock { s in
            guard let rule = s.rules[call], rule.remaining > 0 else { return nil }
            s.rules[call] = (rule.errno, rule.remaining == Int.max ? Int.max : rule.remaining - 1)
            s.counts[call, default: 0] += 1
            return rule.errno
        }
    }
}
#endif
