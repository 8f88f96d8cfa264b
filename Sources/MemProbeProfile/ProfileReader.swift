/// Reads pprof profiles from untrusted bytes.
package enum ProfileReader {
    /// Uncompressed profiles larger than this are refused (a gzip bomb must not exhaust memory).
    package static let maxDecodedBytes = 256 << 20

    /// Parses a profile, gzip'ed or not. Never traps: anything that is not a valid profile throws.
    /// This is the fuzzing entry point: any bytes in, a profile or a ``ProfileDecodeError`` out.
    package static func parse(_ bytes: [UInt8], limit: Int = maxDecodedBytes) throws(ProfileDecodeError) -> PprofProfile {
        guard !bytes.isEmpty else { throw .truncated("empty file") }
        guard bytes.count <= limit else { throw .tooLarge("\(bytes.count) bytes") }
        let raw = Gzip.isCompressed(bytes[...]) ? try Gzip.decompress(bytes[...], limit: limit) : bytes
        return try PprofProfile(decoding: raw[...])
    }
}
