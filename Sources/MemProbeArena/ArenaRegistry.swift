/// Every live ``PageArena`` of the process, weakly held, so a background governor and the published figures can
/// find arenas the application never handed over. An arena registers itself in `init` and leaves in `deinit`.
///
/// The registry is read a few times per second by the governor and written once per arena lifetime; one small
/// pthread mutex guards it (never taken on the allocation path).
enum ArenaRegistry {
    struct Entry {
        weak var arena: PageArena?
        var id: Int
        var label: String
    }

    struct Table {
        var entries: [ObjectIdentifier: Entry] = [:]
        var nextID = 1
    }

    static let table = ArenaLock(Table())

    static func register(_ arena: PageArena) {
        table.withLock { t in
            let id = t.nextID
            t.nextID += 1
            t.entries[ObjectIdentifier(arena)] = Entry(arena: arena, id: id, label: "arena-\(id)")
        }
    }

    static func unregister(_ key: ObjectIdentifier) {
        _ = table.withLock { $0.entries.removeValue(forKey: key) }
    }

    static func setLabel(_ label: String, for arena: PageArena) {
        table.withLock { t in t.entries[ObjectIdentifier(arena)]?.label = label }
    }

    static func entry(for arena: PageArena) -> (id: Int, label: String)? {
        table.withLock { t in t.entries[ObjectIdentifier(arena)].map { ($0.id, $0.label) } }
    }

    /// Live arenas in registration order (strong references: an arena being torn down is skipped).
    static func live() -> [RegisteredArena] {
        let found: [RegisteredArena] = table.withLock { t in
            t.entries.values.compactMap { e in e.arena.map { RegisteredArena(id: e.id, label: e.label, arena: $0) } }
        }
        return found.sorted { $0.id < $1.id }
    }
}

/// One live arena as the registry lists it.
public struct RegisteredArena: Sendable {
    /// A process-unique number, in creation order (1 is the first arena created).
    public var id: Int
    /// The label set with ``PageArena/label``, else `arena-<id>` (`shared` for ``PageArena/shared``).
    public var label: String
    /// The arena.
    public var arena: PageArena
}
