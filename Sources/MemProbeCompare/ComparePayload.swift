/// A value of `memprobe compare`'s maps: a fixed number of bytes stored inline (like Go's `[1024]byte`).
///
/// Swift has no runtime-sized inline type, so the requested `--value-size` is rounded up to one of
/// ``CompareValueSize/supported`` and the run is dispatched on the matching `InlineArray<N, UInt8>`.
protocol ComparePayload {
    /// A value with every byte set to `fill` (so every page of the value is written).
    init(fill: UInt8)
    /// One byte of the value, read back so the stores cannot be optimized away.
    var firstByte: UInt8 { get }
}

extension InlineArray: ComparePayload where Element == UInt8 {
    init(fill: UInt8) { self.init(repeating: fill) }
    var firstByte: UInt8 { self[0] }
}

/// Something that runs with the payload type of a value size.
protocol ComparePayloadVisitor {
    associatedtype Result
    func visit<P: ComparePayload>(_ type: P.Type) throws -> Result
}

/// The value sizes `memprobe compare` can store inline.
package enum CompareValueSize {
    /// Powers of two from 8 B to 64 KiB.
    package static let supported: [Int] = (3...16).map { 1 << $0 }

    /// The smallest supported size ≥ `requested`, nil when `requested` is < 1 or above 64 KiB.
    package static func stored(forRequested requested: Int) -> Int? {
        guard requested >= 1 else { return nil }
        return supported.first { $0 >= requested }
    }

    static func visit<V: ComparePayloadVisitor>(size: Int, _ visitor: V) throws -> V.Result {
        switch size {
        case 8: try visitor.visit(InlineArray<8, UInt8>.self)
        case 16: try visitor.visit(InlineArray<16, UInt8>.self)
        case 32: try visitor.visit(InlineArray<32, UInt8>.self)
        case 64: try visitor.visit(InlineArray<64, UInt8>.self)
        case 128: try visitor.visit(InlineArray<128, UInt8>.self)
        case 256: try visitor.visit(InlineArray<256, UInt8>.self)
        case 512: try visitor.visit(InlineArray<512, UInt8>.self)
        case 1024: try visitor.visit(InlineArray<1024, UInt8>.self)
        case 2048: try visitor.visit(InlineArray<2048, UInt8>.self)
        case 4096: try visitor.visit(InlineArray<4096, UInt8>.self)
        case 8192: try visitor.visit(InlineArray<8192, UInt8>.self)
        case 16384: try visitor.visit(InlineArray<16384, UInt8>.self)
        case 32768: try visitor.visit(InlineArray<32768, UInt8>.self)
        default: try visitor.visit(InlineArray<65536, UInt8>.self)
        }
    }
}
