import MemProbeProfile
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// What the governor does with a request a tool wrote into the published file when the application set no
/// ``MemoryGovernor/Configuration/requestHandler`` of its own: `memprobe profile <pid> -o FILE` asks for the heap
/// profile of every arena, written atomically to FILE as the service's user. Runs on the governor's thread.
enum HeapProfileRequestHandler {
    /// Returns 0 or the errno value the tool reports: ENOSYS for an unknown kind, ENODATA when nothing samples
    /// (profiling off, libunwind missing), the write's own errno when FILE cannot be written.
    static func handle(_ request: PublishedRequest) -> Int32 {
        guard request.kind == PublishedRequest.heapProfile else { return ENOSYS }
        // A relative path would land in the service's working directory, not the tool's: the tool sends absolute ones.
        guard request.path.hasPrefix("/") else { return EINVAL }
        do {
            try HeapProfile.write(toPath: request.path)
            return 0
        } catch {
            switch error {
            case .notSampling: return ENODATA
            case .file(.open(_, let e)), .file(.read(_, let e)), .file(.write(_, let e)): return e.errno.rawValue
            case .file(.tooLarge): return EFBIG
            }
        }
    }
}
