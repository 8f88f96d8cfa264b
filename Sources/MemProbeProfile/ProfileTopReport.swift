/// The top allocation sites of a profile for one sample type, as `pprof -top` computes them: a function's *flat*
/// value is what samples whose innermost frame it is carry, its *cum* value what every sample it appears in carries.
package struct ProfileTopReport: Sendable, Hashable {
    package struct Site: Sendable, Hashable {
        package var function: String
        package var flat: Int64
        package var cum: Int64
    }

    package var sampleType: String
    package var unit: String
    package var total: Int64
    package var sites: [Site]
    /// Sites not shown (past `top`).
    package var omitted: Int

    /// - Parameter sampleType: a sample type name, or nil for the profile's default (`inuse_space` in ours).
    package init(_ profile: PprofProfile, sampleType: String?, top: Int) throws(ProfileReportError) {
        let wanted = sampleType ?? profile.defaultSampleType ?? profile.sampleTypes.last!.type
        guard let index = profile.sampleTypes.firstIndex(where: { $0.type == wanted }) else {
            throw .unknownSampleType(wanted, available: profile.sampleTypes.map(\.type))
        }
        self.sampleType = wanted
        unit = profile.sampleTypes[index].unit
        var functionNames: [UInt64: String] = [:]
        for f in profile.functions { functionNames[f.id] = f.name.isEmpty ? f.systemName : f.name }
        var locationNames: [UInt64: [String]] = [:]
        for l in profile.locations {
            // Inlined frames first; a location without symbols shows as its address, as pprof does.
            let names = l.lines.compactMap { functionNames[$0.functionID] }
            locationNames[l.id] = names.isEmpty ? ["0x" + String(l.address, radix: 16)] : names
        }
        var flat: [String: Int64] = [:], cum: [String: Int64] = [:]
        var total: Int64 = 0
        for s in profile.samples {
            let v = s.values[index]
            total &+= v
            let frames = s.locationIDs.flatMap { locationNames[$0] ?? [] }
            if let innermost = frames.first { flat[innermost, default: 0] &+= v }
            var seen = Set<String>()
            for f in frames where seen.insert(f).inserted { cum[f, default: 0] &+= v }
        }
        self.total = total
        let all = cum.keys.map { Site(function: $0, flat: flat[$0] ?? 0, cum: cum[$0]!) }
            .sorted { ($0.flat, $0.cum, $1.function) > ($1.flat, $1.cum, $0.function) }
        sites = Array(all.prefix(max(top, 0)))
        omitted = all.count - sites.count
    }

    private func amount(_ v: Int64) -> String {
        guard unit == "bytes" else { return String(v) }
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var x = Double(v), u = 0
        while abs(x) >= 1024 && u < units.count - 1 { x /= 1024; u += 1 }
        if u == 0 { return "\(v)B" }
        let tenths = Int((x * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))\(units[u])"
    }

    private func percent(_ v: Int64) -> String {
        guard total != 0 else { return "0.0%" }
        let tenths = Int((Double(v) / Double(total) * 1000).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))%"
    }

    /// Text in `pprof -top`'s layout.
    package func table() -> String {
        var lines = ["\(sampleType): total \(amount(total)), \(sites.count) sites shown\(omitted > 0 ? ", \(omitted) more" : "")"]
        let rows = sites.map { [amount($0.flat), percent($0.flat), amount($0.cum), percent($0.cum)] }
        let header = ["flat", "flat%", "cum", "cum%"]
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(w - s.count, 0)) + s }
        lines.append(zip(header, widths).map { pad($0, $1) }.joined(separator: " ") + "  function")
        for (r, s) in zip(rows, sites) {
            lines.append(zip(r, widths).map { pad($0, $1) }.joined(separator: " ") + "  " + s.function)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One JSON object.
    package func json() -> String {
        let sitesJSON = sites.map { "{\"function\":\(JSONText.quoted($0.function)),\"flat\":\($0.flat),\"cum\":\($0.cum)}" }
        return "{\"sampleType\":\(JSONText.quoted(sampleType)),\"unit\":\(JSONText.quoted(unit)),\"total\":\(total),\"omitted\":\(omitted),\"sites\":["
            + sitesJSON.joined(separator: ",") + "]}\n"
    }
}

/// A report that cannot be made from a valid profile.
package enum ProfileReportError: Error, Hashable, Sendable, CustomStringConvertible {
    case unknownSampleType(String, available: [String])
    package var description: String {
        switch self {
        case .unknownSampleType(let t, let a): "no sample type '\(t)' in the profile; it has \(a.joined(separator: ", "))"
        }
    }
}
