import Synchronization

/// Counts instances of ``Tracked`` created and destroyed: a leak or a double destroy shows as a mismatch
/// (a double destroy of a class instance also crashes the runtime, or ASan, before that).
public final class LifetimeTracker: Sendable {
    private let counts = Mutex((created: 0, destroyed: 0))

    public init() {}

    public var created: Int { counts.withLock { $0.created } }
    public var destroyed: Int { counts.withLock { $0.destroyed } }
    public var live: Int { counts.withLock { $0.created - $0.destroyed } }

    public func instance(_ payload: Int) -> Tracked { Tracked(payload, tracker: self) }

    fileprivate func didCreate() { counts.withLock { $0.created += 1 } }
    fileprivate func didDestroy() { counts.withLock { $0.destroyed += 1 } }
}

/// A value whose every instance is counted by its ``LifetimeTracker``.
public final class Tracked: Hashable, CustomStringConvertible, Sendable {
    public let payload: Int
    public let tracker: LifetimeTracker

    public init(_ payload: Int, tracker: LifetimeTracker) {
        self.payload = payload
        self.tracker = tracker
        tracker.didCreate()
    }

    deinit { tracker.didDestroy() }

    public static func == (a: Tracked, b: Tracked) -> Bool { a.payload == b.payload }
    public func hash(into hasher: inout Hasher) { hasher.combine(payload) }
    public var description: String { "T\(payload)" }
}

/// A non-trivial struct value: a class reference, a String and padding, so a missed or doubled
/// deinitialization shows up in the tracker, ASan or the runtime.
public struct Payload: Equatable, Sendable {
    public var tracked: Tracked
    public var name: String
    public var number: Int

    public init(tracked: Tracked, name: String, number: Int) {
        self.tracked = tracked
        self.name = name
        self.number = number
    }

    public static func == (a: Payload, b: Payload) -> Bool {
        a.tracked == b.tracked && a.name == b.name && a.number == b.number
    }
}
