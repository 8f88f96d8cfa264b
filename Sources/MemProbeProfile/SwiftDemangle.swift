#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The Swift runtime's demangler (exported by libswiftCore on every platform).
@_silgen_name("swift_demangle")
private func _swiftDemangle(
    _ mangledName: UnsafePointer<CChar>?, _ mangledNameLength: Int, _ outputBuffer: UnsafeMutablePointer<CChar>?,
    _ outputBufferSize: UnsafeMutablePointer<Int>?, _ flags: UInt32
) -> UnsafeMutablePointer<CChar>?

enum SwiftDemangle {
    /// The demangled name of a Swift symbol (`$s…`, `_$s…`), or nil for other names.
    static func demangle(_ symbol: String) -> String? {
        guard symbol.hasPrefix("$s") || symbol.hasPrefix("_$s") || symbol.hasPrefix("$S") || symbol.hasPrefix("_T0") else { return nil }
        return symbol.withCString { p -> String? in
            guard let out = _swiftDemangle(p, strlen(p), nil, nil, 0) else { return nil }
            defer { free(out) }
            return String(cString: out)
        }
    }
}
