/// A key whose hash value the test controls: many distinct keys can share one hash (swift-collections' `Collider`
/// idea; written here from scratch).
public struct Collider: Hashable, CustomStringConvertible, Sendable {
    public var identity: Int
    public var hash: Int

    public init(_ identity: Int, hash: Int) {
        self.identity = identity
        self.hash = hash
    }

    /// `identity` collides with every other identity in the same residue class modulo `buckets`.
    public init(_ identity: Int, buckets: Int) {
        self.init(identity, hash: identity % buckets)
    }

    public static func == (a: Collider, b: Collider) -> Bool { a.identity == b.identity }
    public func hash(into hasher: inout Hasher) { hasher.combine(hash) }
    public var description: String { "C(\(identity)#\(hash))" }
}
