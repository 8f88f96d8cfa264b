/// A bounds-checked protocol-buffers decoder over untrusted bytes: every length and varint is checked, nothing
/// traps on any input.
struct ProtobufReader {
    enum Field {
        case varint(UInt64)
        case fixed64(UInt64)
        case bytes(ArraySlice<UInt8>)
        case fixed32(UInt32)
    }

    private let data: ArraySlice<UInt8>
    private var position: Int

    init(_ data: ArraySlice<UInt8>) {
        self.data = data
        position = data.startIndex
    }

    var isAtEnd: Bool { position >= data.endIndex }

    /// Byte offset from the start of this reader's bytes (for error messages).
    var offset: Int { position - data.startIndex }

    mutating func varint() throws(ProfileDecodeError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < data.endIndex else { throw .truncated("varint at byte \(offset)") }
            let b = data[position]
            position += 1
            if shift == 63 && b > 1 { throw .malformed("varint longer than 64 bits at byte \(offset)") }
            result |= UInt64(b & 0x7f) << shift
            if b < 0x80 { return result }
            shift += 7
            if shift > 63 { throw .malformed("varint longer than 10 bytes at byte \(offset)") }
        }
    }

    /// The next field number and value, or nil at the end.
    mutating func next() throws(ProfileDecodeError) -> (field: Int, value: Field)? {
        guard !isAtEnd else { return nil }
        let key = try varint()
        let fieldNumber = key >> 3
        guard fieldNumber > 0, fieldNumber <= 536_870_911 else { throw .malformed("field number \(fieldNumber) at byte \(offset)") }
        let field = Int(fieldNumber)
        switch key & 7 {
        case 0: return (field, .varint(try varint()))
        case 1: return (field, .fixed64(try fixed(8)))
        case 2:
            let n = try varint()
            guard n <= UInt64(data.endIndex - position) else {
                throw .truncated("field \(field) wants \(n) bytes, \(data.endIndex - position) left")
            }
            let start = position
            position += Int(n)
            return (field, .bytes(data[start..<position]))
        case 5: return (field, .fixed32(UInt32(truncatingIfNeeded: try fixed(4))))
        default: throw .malformed("wire type \(key & 7) of field \(field) at byte \(offset)")
        }
    }

    private mutating func fixed(_ n: Int) throws(ProfileDecodeError) -> UInt64 {
        guard data.endIndex - position >= n else { throw .truncated("fixed\(n * 8) at byte \(offset)") }
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(data[position + i]) << UInt64(8 * i) }
        position += n
        return v
    }

    /// Varints of a repeated field, packed or not.
    static func appendVarints(_ value: Field, to out: inout [UInt64]) throws(ProfileDecodeError) {
        switch value {
        case .varint(let v): out.append(v)
        case .bytes(let b):
            var r = ProtobufReader(b)
            while !r.isAtEnd { out.append(try r.varint()) }
        default: throw .malformed("a repeated integer field has a fixed-size wire type")
        }
    }
}

/// Why bytes are not a valid profile.
public enum ProfileDecodeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The bytes end in the middle of something.
    case truncated(String)
    /// The bytes are not the profile format (bad wire data, ids or indices that point nowhere).
    case malformed(String)
    /// The gzip stream is corrupt or truncated.
    case badCompression(String)
    /// Bigger than the reader accepts.
    case tooLarge(String)

    public var description: String {
        switch self {
        case .truncated(let s): "truncated profile: \(s)"
        case .malformed(let s): "not a valid pprof profile: \(s)"
        case .badCompression(let s): "corrupt gzip data: \(s)"
        case .tooLarge(let s): "profile too large: \(s)"
        }
    }
}
