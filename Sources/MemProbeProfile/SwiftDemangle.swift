#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The Swift runtime's demangler (exported by libswiftCore on every platform).
@_silgen_name("swift_demangle")
private func _swiftDemangle(
    _ mangledName: UnsafePointer<CChar>?, _ mangledNameLength: Int, _ outputBuffer: UnsafeMutablePointer<CChar>?,
    _ outputBufferSize: UnsafeMutablePointer<Int>?, _ flags: UInt32
) -> UnsafeMutablePointer<CChar>?

/// The C++ demangler of libstdc++, which the Swift runtime loads; looked up at run time so that nothing links
/// against libstdc++ for it.
private typealias CxaDemangle = @convention(c) (
    UnsafePointer<CChar>?, UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<Int>?, UnsafeMutablePointer<Int32>?
) -> UnsafeMutablePointer<CChar>?

private let cxaDemangle: CxaDemangle? = {
    guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__cxa_demangle") else { return nil }
    return unsafeBitCast(sym, to: CxaDemangle.self)
}()

enum SwiftDemangle {
    /// A symbol's readable name: Swift and C++ names demangled, others as they are. The optimizer's
    /// "function signature specialization <…> of " and "generic specialization <…> of " prefixes are dropped: a
    /// profile reader wants the source function (the mangled name stays in the profile's `system_name`).
    static func readable(_ symbol: String) -> String {
        if let s = demangle(symbol) { return withoutSpecializationPrefixes(s) }
        if symbol.hasPrefix("_Z") {
            return symbol.withCString { p -> String in
                var status: Int32 = 0
                guard let demangle = cxaDemangle, let out = demangle(p, nil, nil, &status), status == 0 else { return symbol }
                defer { free(out) }
                return String(cString: out)
            }
        }
        return symbol
    }

    /// The demangled name of a Swift symbol (`$s…`, `_$s…`), or nil for other names.
    static func demangle(_ symbol: String) -> String? {
        guard symbol.hasPrefix("$s") || symbol.hasPrefix("_$s") || symbol.hasPrefix("$S") || symbol.hasPrefix("_T0") else { return nil }
        return symbol.withCString { p -> String? in
            guard let out = _swiftDemangle(p, strlen(p), nil, nil, 0) else { return nil }
            defer { free(out) }
            return String(cString: out)
        }
    }

    static func withoutSpecializationPrefixes(_ name: String) -> String {
        var s = Substring(name)
        let prefixes = ["function signature specialization <", "generic specialization <", "generic not re-abstracted specialization <"]
        while let prefix = prefixes.first(where: { s.hasPrefix($0) }) {
            // Skip the balanced <…> and the " of " after it; leave the name alone if it is not there.
            var depth = 0
            var end: Substring.Index? = nil
            for i in s.indices[s.index(s.startIndex, offsetBy: prefix.count - 1)...] {
                if s[i] == "<" { depth += 1 } else if s[i] == ">" {
                    depth -= 1
                    if depth == 0 { end = s.index(after: i); break }
                }
            }
            guard let end, s[end...].hasPrefix(" of ") else { return String(s) }
            s = s[s.index(end, offsetBy: 4)...]
        }
        return String(s)
    }
}
