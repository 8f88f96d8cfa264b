import Hummingbird
import NIOCore

/// A request the cache refuses: a 4xx status and a one-line reason (sent as `text/plain`).
struct KVRequestError: Error {
    var status: HTTPResponse.Status
    var reason: String

    static func bad(_ reason: String) -> KVRequestError { KVRequestError(status: .badRequest, reason: reason) }

    var response: Response {
        Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: reason + "\n")))
    }
}

/// Checks of what a client sends.
enum KVInput {
    /// Longest key accepted (bytes).
    static let maximumKeyLength = 250
    /// Largest `count` of one `_fill`.
    static let maximumFillCount = 100_000_000
    /// Largest total of one `_fill` (count × size).
    static let maximumFillBytes = 64 << 30

    /// A key: 1–250 characters of `A–Z a–z 0–9 . _ - ~ :`, not starting with `_` (reserved for bulk operations).
    static func key(_ raw: String?) throws(KVRequestError) -> String {
        guard let raw, !raw.isEmpty else { throw .bad("missing key") }
        guard raw.utf8.count <= maximumKeyLength else { throw .bad("key longer than \(maximumKeyLength) bytes") }
        guard raw.utf8.allSatisfy(isKeyByte) else {
            throw .bad("key may contain only A-Z a-z 0-9 . _ - ~ :")
        }
        guard raw.first != "_" else { throw .bad("keys starting with '_' are reserved") }
        return raw
    }

    static func isKeyByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "~"), UInt8(ascii: ":"):
            return true
        default:
            return false
        }
    }

    /// A non-negative decimal query parameter no larger than `maximum`; `defaultValue` when absent.
    static func number(
        _ request: Request, _ name: String, maximum: Int, default defaultValue: Int? = nil
    ) throws(KVRequestError) -> Int {
        guard let raw = request.uri.queryParameters.get(name) else {
            if let defaultValue { return defaultValue }
            throw .bad("missing query parameter '\(name)'")
        }
        guard !raw.isEmpty, raw.utf8.count <= 20, raw.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = Int(raw) else {
            throw .bad("'\(name)' must be a non-negative decimal integer, got '\(raw.prefix(40))'")
        }
        guard n <= maximum else { throw .bad("'\(name)' must be at most \(maximum), got \(n)") }
        return n
    }
}
