import CShims
import SystemPackage

/// What can go wrong when capturing a backtrace.
public enum BacktraceError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `libunwind.so.8` could not be loaded (or lacks `unw_backtrace`).
    case libunwindUnavailable(Errno)
    /// libunwind failed to walk the stack.
    case unwindFailed(Errno)

    public var description: String {
        switch self {
        case .libunwindUnavailable(let e):
            "libunwind.so.8 could not be loaded (\(e)); install it: apt-get install libunwind8 (or libunwind-dev)"
        case .unwindFailed(let e): "libunwind could not walk the stack: \(e)"
        }
    }
}

/// A captured call stack: the return addresses of the calling thread, innermost first.
///
/// Captured with libunwind's `unw_backtrace` (~25× faster than glibc's `backtrace`). libunwind is loaded
/// with `dlopen(RTLD_LOCAL)`, so it never replaces the process's own unwinder (`_Unwind_*`, `backtrace`)
/// that Swift and C++ error handling use.
public struct Backtrace: Hashable, Sendable, Codable {
    /// Return addresses, innermost frame first (the first is inside `capture`'s caller chain).
    public let addresses: [UInt]

    /// Creates a backtrace from addresses.
    public init(addresses: [UInt]) { self.addresses = addresses }

    /// Whether libunwind could be loaded. The first call loads it (a few hundred microseconds).
    public static var isAvailable: Bool { cshims_unwind_load() == 0 }

    /// Loads libunwind now, so the first capture (perhaps in a signal handler) does not have to.
    public static func prepare() throws(BacktraceError) {
        let rc = cshims_unwind_load()
        if rc != 0 { throw .libunwindUnavailable(Errno(rawValue: rc)) }
    }

    /// Captures up to `maxFrames` return addresses of the calling thread.
    public static func capture(maxFrames: Int = 64) throws(BacktraceError) -> Backtrace {
        precondition(maxFrames > 0, "capture(maxFrames:) needs at least one frame")
        try prepare()
        var failure: Int = 0
        let frames = [UnsafeMutableRawPointer?](unsafeUninitializedCapacity: maxFrames) { buf, initialized in
            let n = capture(into: buf)
            if n < 0 { failure = -n }
            initialized = Swift.max(n, 0)
        }
        if failure != 0 { throw .unwindFailed(Errno(rawValue: Int32(failure))) }
        return Backtrace(addresses: frames.map { UInt(bitPattern: $0) })
    }

    /// Captures into a caller-owned buffer without allocating (for samplers and signal handlers, once
    /// ``prepare()`` has loaded libunwind). Returns the frame count, or a negative errno.
    public static func capture(into buffer: UnsafeMutableBufferPointer<UnsafeMutableRawPointer?>) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        return Int(cshims_unwind_backtrace(base, Int32(clamping: buffer.count)))
    }
}
