#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Synchronization

/// A thread of this process that does nothing until the object goes away: its id is a task id that is not a
/// process id (tests of commands that must refuse a thread id where a pid is expected).
public final class ParkedThread: Sendable {
    private final class State: Sendable {
        let id = Atomic<Int32>(0)
        let stop = Atomic<Bool>(false)
    }

    private let state = State()
    private let thread: pthread_t

    /// The thread's task id (what `gettid()` returns in it; listed in /proc/self/task).
    public var id: Int32 { state.id.load(ordering: .acquiring) }

    /// Starts the thread and waits until it runs.
    public init() throws(ParkedThreadError) {
        var t = pthread_t()
        let context = Unmanaged.passRetained(state).toOpaque()
        let rc = pthread_create(&t, nil, { context in
            let state = Unmanaged<State>.fromOpaque(context!).takeRetainedValue()
            state.id.store(ParkedThread.currentTaskID(), ordering: .releasing)
            while !state.stop.load(ordering: .acquiring) { usleep(2_000) }
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<State>.fromOpaque(context).release()
            throw ParkedThreadError(code: rc)
        }
        thread = t
        while state.id.load(ordering: .acquiring) == 0 { usleep(1_000) }
    }

    /// The calling thread's task id, from the `/proc/thread-self` link (`<pid>/task/<tid>`); -1 when unreadable.
    static func currentTaskID() -> Int32 {
        var buffer = [CChar](repeating: 0, count: 64)
        let n = readlink("/proc/thread-self", &buffer, buffer.count - 1)
        guard n > 0 else { return -1 }
        let text = String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.split(separator: "/").last.flatMap { Int32($0) } ?? -1
    }

    deinit {
        state.stop.store(true, ordering: .releasing)
        pthread_join(thread, nil)
    }
}

/// `pthread_create` failed with this code.
public struct ParkedThreadError: Error {
    public var code: Int32
}
