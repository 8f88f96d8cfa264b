/// Reads pprof profiles from untrusted bytes.
package enum ProfileReader {
    /// Uncompressed profiles larger than this are refused (a gzip bomb must not exhaust memory).
    package static let maxDecodedBytes = 256 << 20

    /// Parses a profile, gzip'ed or not. Never traps: anything that is not a valid profile throws.
    package static func parse(_ bytes: [UInt8]) throws(ProfileDecodeError) -> PprofProfile {
        guard !bytes.isEmpty else { throw .truncated("empty file") }
        let raw = Gzip.isCompressed(bytes[...]) ? try Gzip.decompress(bytes[...], limit: maxDecodedBytes) : bytes
        return try PprofProfile(decoding: raw[...])
    }
}
