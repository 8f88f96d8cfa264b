/// Asks another process that links memprobe to write its current heap profile to a path, and waits.
///
/// `memprobe profile <pid> -o FILE` is written against this protocol. The service layer's published-stats file
/// carries the request (a request word with a sequence number, polled by the governor, which answers by calling
/// ``HeapProfile/write(toPath:)``); its implementation is plugged in where `ProfileCommand.requester` is set.
package protocol HeapProfileRequesting: Sendable {
    /// Returns once the target has written `path` (the caller then validates the file), or throws.
    func requestHeapProfile(pid: Int32, path: String, timeout: Duration) throws(HeapProfileRequestError)
}

/// Why a process did not hand over a profile. Every case is "target unavailable" (exit 2) for the CLI.
package enum HeapProfileRequestError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No such process.
    case noSuchProcess(Int32)
    /// The process does not publish memprobe figures (does not link memprobe, or runs no governor).
    case notPublishing(Int32, String)
    /// It publishes but did not answer in time.
    case noAnswer(Int32, Duration)
    /// It answered with an error (e.g. profiling off in that process).
    case refused(Int32, String)

    package var description: String {
        switch self {
        case .noSuchProcess(let p): "process \(p) does not exist"
        case .notPublishing(let p, let why): "process \(p) cannot be asked for a heap profile: \(why)"
        case .noAnswer(let p, let t): "process \(p) did not write its heap profile within \(t)"
        case .refused(let p, let why): "process \(p) did not write a heap profile: \(why)"
        }
    }
}

/// The requester until the published-stats request word is wired in: it says so (exit 2), never pretends.
package struct UnwiredHeapProfileRequester: HeapProfileRequesting {
    package init() {}
    package func requestHeapProfile(pid: Int32, path: String, timeout: Duration) throws(HeapProfileRequestError) {
        throw .notPublishing(pid, "this memprobe build has no published-stats request channel (service layer not linked in)")
    }
}
