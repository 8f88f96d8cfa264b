#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CShims
import Synchronization
import SystemPackage

// One internal choke point per system call. In debug builds (ENABLE_MOCKING) a test can make any of them
// fail with a chosen errno through `SyscallMock`, the way apple/swift-system's mocking layer works.
// Everything above this file calls the kernel only through these functions.

#if ENABLE_MOCKING
@inline(__always)
func mockedErrno(_ call: SyscallMock.Call) -> Int32? { SyscallMock.current?.take(call) }
#else
/// Release builds: no mock, the check folds away.
@inline(__always)
func mockedErrno(_ call: SyscallCall) -> Int32? { nil }
/// The names `mockedErrno` takes in release builds.
enum SyscallCall { case mmap, munmap, madvise, mincore, open, read, write, mkdir, rmdir }
#endif

/// mmap(PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS[|MAP_NORESERVE]).
func system_mmapAnonymous(_ length: Int, noReserve: Bool) -> Result<UnsafeMutableRawPointer, Errno> {
    if let e = mockedErrno(.mmap) { return .failure(Errno(rawValue: e)) }
    var out: UnsafeMutableRawPointer? = nil
    let rc = cshims_mmap_anonymous(length, noReserve ? 1 : 0, &out)
    guard rc == 0, let p = out else { return .failure(Errno(rawValue: rc)) }
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

/// open(path, O_RDONLY|O_CLOEXEC), retrying EINTR.
func system_openReadOnly(_ path: String) -> Result<Int32, Errno> {
    while true {
        if let e = mockedErrno(.open) {
            if e == EINTR { continue }
            return .failure(Errno(rawValue: e))
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { return .success(fd) }
        let e = errno
        if e == EINTR { continue }
        return .failure(Errno(rawValue: e))
    }
}

/// pread, retrying EINTR. Returns the byte count (0 at end of file).
func system_pread(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, _ offset: Int) -> Result<Int, Errno> {
    while true {
        if let e = mockedErrno(.read) {
            if e == EINTR { continue }
            return .failure(Errno(rawValue: e))
        }
        let n = pread(fd, buffer.baseAddress, buffer.count, off_t(offset))
        if n >= 0 { return .success(n) }
        let e = errno
        if e == EINTR { continue }
        return .failure(Errno(rawValue: e))
    }
}

/// prctl(PR_SET_PDEATHSIG, signal).
func system_setParentDeathSignal(_ signal: Int32) -> Result<Void, Errno> {
    let rc = cshims_set_parent_death_signal(signal)
    return rc == 0 ? .success(()) : .failure(Errno(rawValue: rc))
}

func system_close(_ fd: Int32) {
    _ = close(fd)
}

/// open(path, O_WRONLY|O_CLOEXEC), retrying EINTR (cgroup control files).
func system_openWriteOnly(_ path: String) -> Result<Int32, Errno> {
    if let e = mockedErrno(.open) { return .failure(Errno(rawValue: e)) }
    while true {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        if fd >= 0 { return .success(fd) }
        let e = errno
        if e != EINTR { return .failure(Errno(rawValue: e)) }
    }
}

/// One write(2), retrying EINTR. Returns the byte count written (a control file takes it whole or refuses).
func system_write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> {
    if let e = mockedErrno(.write) { return .failure(Errno(rawValue: e)) }
    while true {
        let n = write(fd, buffer.baseAddress, buffer.count)
        if n >= 0 { return .success(n) }
        let e = errno
        if e != EINTR { return .failure(Errno(rawValue: e)) }
    }
}

/// mkdir(path, 0755), retrying EINTR.
func system_mkdir(_ path: String) -> Result<Void, Errno> {
    if let e = mockedErrno(.mkdir) { return .failure(Errno(rawValue: e)) }
    while true {
        if mkdir(path, 0o755) == 0 { return .success(()) }
        let e = errno
        if e != EINTR { return .failure(Errno(rawValue: e)) }
    }
}

/// rmdir(path), retrying EINTR.
func system_rmdir(_ path: String) -> Result<Void, Errno> {
    if let e = mockedErrno(.rmdir) { return .failure(Errno(rawValue: e)) }
    while true {
        if rmdir(path) == 0 { return .success(()) }
        let e = errno
        if e != EINTR { return .failure(Errno(rawValue: e)) }
    }
}

#if ENABLE_MOCKING
/// Test hook: makes the next calls of chosen system calls fail with a chosen errno.
///
/// Installed for the current task with `SyscallMock.$current.withValue(mock) { … }`, so tests that run in
/// parallel do not see each other's faults. Internal and compiled into debug builds only (ENABLE_MOCKING):
/// tests reach it with `@testable import MemProbeSystem`; a release build has no trace of it.
final class SyscallMock: Sendable {
    /// The system calls that can be made to fail.
    enum Call: String, Sendable, CaseIterable {
        case mmap, munmap, madvise, mincore, open, read, write, mkdir, rmdir
    }

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
