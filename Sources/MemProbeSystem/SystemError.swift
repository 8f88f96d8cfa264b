import SystemPackage

/// A system call that failed: which call, and the errno it returned.
///
/// Every error the system layer throws carries one of these, so a log line says both *what* was attempted
/// (`madvise(MADV_FREE)`, `open(/proc/42/smaps_rollup)`) and *why* the kernel refused.
public struct SystemCallError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The call and its salient argument, e.g. `"madvise(MADV_FREE)"`.
    public let call: String
    /// The errno the kernel returned.
    public let errno: Errno

    /// Creates an error for `call` failing with `errno`.
    public init(call: String, errno: Errno) {
        self.call = call
        self.errno = errno
    }

    public var description: String { "\(call): \(errno) (errno \(errno.rawValue))" }
}

extension Errno {
    /// `EFAULT` and `EBADF` mean the caller passed a bad pointer or descriptor: a programmer error,
    /// not a condition a user can act on (the same rule SwiftNIO applies).
    @inlinable
    var isProgrammerError: Bool { self == .badAddress || self == .badFileDescriptor }
}

@inlinable
func preconditionNotProgrammerError(_ errno: Errno, _ call: @autoclosure () -> String) {
    precondition(!errno.isProgrammerError, "\(call()) failed with \(errno): programmer error")
}
