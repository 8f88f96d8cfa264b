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

extension ProfileReader {
    /// The fuzz target's body: parses arbitrary bytes and, when they are a profile, checks what every valid
    /// profile must satisfy — it re-encodes to the same profile, and every sample type gives a report. Traps
    /// (precondition) only on a reader or encoder bug, never on bad input. Returns whether the bytes parsed.
    @discardableResult
    package static func fuzzOne(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let profile = try? parse(Array(bytes), limit: 16 << 20) else { return false }
        let again = try? PprofProfile(decoding: profile.encoded()[...])
        precondition(again == profile, "a parsed profile does not survive re-encoding")
        for t in profile.sampleTypes {
            precondition((try? ProfileTopReport(profile, sampleType: t.type, top: 5)) != nil, "no report for \(t.type)")
        }
        return true
    }
}
