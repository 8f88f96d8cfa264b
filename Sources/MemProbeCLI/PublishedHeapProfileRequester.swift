import MemProbe
import MemProbeProfile
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Asks a process for its heap profile through the request words of its published-stats file: writes the request
/// (kind "heap profile", the absolute output path), then polls the reply word until the governor answered it on a
/// tick or `timeout` passed. No signal, no socket: only the file's owner and root can write the request.
struct PublishedHeapProfileRequester: HeapProfileRequesting {
    /// How often the reply word is read while waiting (the governor ticks every 100 ms by default).
    static let pollInterval: Duration = .milliseconds(20)

    /// The protocol's view: every failure is a `HeapProfileRequestError` (a failed write becomes `.refused`).
    func requestHeapProfile(pid: Int32, path: String, timeout: Duration) throws(HeapProfileRequestError) {
        do { try fetch(pid: pid, path: path, timeout: timeout) } catch {
            switch error {
            case .request(let e): throw e
            case .writeFailed(let pid, let path, let status): throw .refused(pid, Self.reason(status, path: path))
            }
        }
    }

    /// Sends the request and waits for the reply; a reply that says the target could not write `path` (its
    /// errno) is told apart from a target that cannot or will not profile.
    func fetch(pid: Int32, path: String, timeout: Duration) throws(ProfileFetchError) {
        let absolute = Self.absolute(path)
        let sequence: UInt64
        do {
            sequence = try PublishedRequestClient.send(pid: pid, kind: PublishedRequest.heapProfile, path: absolute)
        } catch {
            throw .request(.notPublishing(pid, error.description))
        }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let reply: (sequence: UInt64, status: Int64)
            do { reply = try PublishedRequestClient.reply(pid: pid) } catch {
                if kill(pid, 0) != 0 && errno == ESRCH { throw .request(.noSuchProcess(pid)) }
                throw .request(.notPublishing(pid, error.description))
            }
            if reply.sequence >= sequence {
                if reply.status == 0 { return }
                let status = Int32(truncatingIfNeeded: reply.status)
                if Self.cannotProfile.contains(status) { throw .request(.refused(pid, Self.reason(status, path: absolute))) }
                throw .writeFailed(pid: pid, path: absolute, errno: status)
            }
            var pause = timespec(tv_sec: 0, tv_nsec: Int(Self.pollInterval.components.attoseconds / 1_000_000_000))
            nanosleep(&pause, nil)
        }
        throw .request(.noAnswer(pid, timeout))
    }

    /// Replies that mean "this process gives no profile" rather than "writing the file failed".
    static let cannotProfile: Set<Int32> = [ENODATA, ENOSYS]

    /// The target resolves paths against its own working directory: send an absolute one.
    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return cwd.hasSuffix("/") ? cwd + path : cwd + "/" + path
    }

    static func reason(_ status: Int32, path: String) -> String {
        switch status {
        case ENODATA: "it samples no allocations (MEMPROBE_PROFILE_RATE=0, or libunwind missing there)"
        case ENOSYS: "its governor does not handle heap-profile requests"
        default: "writing \(path) failed: \(String(cString: strerror(status))) (errno \(status))"
        }
    }
}

/// Why `memprobe profile <pid> -o FILE` got no profile: the request failed (exit 2: the process is gone, does not
/// publish, did not answer, or gives no profile), or the process answered that writing FILE failed (exit 1, like
/// any file this CLI cannot write).
enum ProfileFetchError: Error, CustomStringConvertible {
    case request(HeapProfileRequestError)
    case writeFailed(pid: Int32, path: String, errno: Int32)

    var description: String {
        switch self {
        case .request(let e): e.description
        case .writeFailed(let pid, let path, let e): "process \(pid) could not write \(path): \(String(cString: strerror(e)))"
        }
    }
}
