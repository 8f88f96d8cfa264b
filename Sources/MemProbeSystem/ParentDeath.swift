#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CShims
import SystemPackage

/// Ties a child process's life to its parent's.
public enum ParentDeath {
    /// Asks the kernel to send `signal` (default SIGKILL) to this process when its parent dies
    /// (`PR_SET_PDEATHSIG`), then checks the parent is still `expectedParent`: a parent that died before the
    /// request (we were already re-parented) is reported as ``ParentDeathError/parentAlreadyGone``.
    ///
    /// The kernel sends the signal when the *thread* that forked us exits; memprobe spawns its workers from the
    /// main thread, which lives as long as the process.
    public static func killThisProcessWhenParentDies(expectedParent: Int32, signal: Int32 = SIGKILL) throws(ParentDeathError) {
        if case .failure(let e) = system_setParentDeathSignal(signal) {
            throw .call(SystemCallError(call: "prctl(PR_SET_PDEATHSIG)", errno: e))
        }
        if getppid() != expectedParent { throw .parentAlreadyGone(expected: expectedParent) }
    }
}

/// Why ``ParentDeath/killThisProcessWhenParentDies(expectedParent:signal:)`` failed.
public enum ParentDeathError: Error, Hashable, Sendable, CustomStringConvertible {
    case call(SystemCallError)
    case parentAlreadyGone(expected: Int32)

    public var description: String {
        switch self {
        case .call(let e): "\(e)"
        case .parentAlreadyGone(let p): "parent process \(p) already exited"
        }
    }
}
