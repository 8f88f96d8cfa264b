import CShims

/// gzip compression through zlib (CShims/heapprofile.c): pprof files are gzip'ed protobuf.
package enum Gzip {
    /// gzip-compresses `bytes` (level 6, zlib's default).
    package static func compress(_ bytes: [UInt8]) -> [UInt8] {
        let capacity = cshims_gzip_bound(bytes.count)
        var written = 0
        var rc: Int32 = 0
        let out = [UInt8](unsafeUninitializedCapacity: capacity) { buf, initialized in
            rc = bytes.withUnsafeBufferPointer { cshims_gzip($0.baseAddress, $0.count, 6, buf.baseAddress, capacity, &written) }
            initialized = rc == 0 ? written : 0
        }
        // deflateBound makes ENOSPC impossible; ENOMEM/EFBIG (> 4 GiB of profile) are not worth a typed error.
        precondition(rc == 0, "zlib deflate failed: \(rc)")
        return out
    }

    /// Whether `bytes` start with the gzip magic number.
    package static func isCompressed(_ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.count >= 2 && bytes[bytes.startIndex] == 0x1f && bytes[bytes.startIndex + 1] == 0x8b
    }

    /// Inflates a gzip stream of at most `limit` output bytes.
    package static func decompress(_ bytes: ArraySlice<UInt8>, limit: Int) throws(ProfileDecodeError) -> [UInt8] {
        var capacity = max(bytes.count * 4, 4096)
        while true {
            capacity = min(capacity, limit)
            var written = 0, consumed = 0
            var rc: Int32 = 0
            let out = [UInt8](unsafeUninitializedCapacity: capacity) { buf, initialized in
                rc = bytes.withUnsafeBufferPointer {
                    cshims_gunzip($0.baseAddress, $0.count, buf.baseAddress, capacity, &written, &consumed)
                }
                initialized = rc == 0 ? written : 0
            }
            switch rc {
            case 0: return out
            case ENOSPC_:
                guard capacity < limit else { throw .tooLarge("more than \(limit) bytes uncompressed") }
                capacity = capacity > limit / 4 ? limit : capacity * 4
            case EINVAL_: throw .badCompression("the gzip stream is corrupt or truncated")
            default: throw .badCompression("zlib error \(rc)")
            }
        }
    }

    private static let ENOSPC_: Int32 = 28
    private static let EINVAL_: Int32 = 22
}
