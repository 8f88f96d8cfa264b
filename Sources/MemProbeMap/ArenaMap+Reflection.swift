extension ArenaMap: CustomReflectable {
    /// The entries as `(key, value)` children with the `.dictionary` display style, like `Dictionary`'s mirror.
    ///
    /// Without it, `dump` and `Mirror` would walk the storage class and print the hash seeds, which would let anyone
    /// who sees a dump craft colliding keys for that map (issue 13).
    public var customMirror: Mirror {
        Mirror(self, unlabeledChildren: self.map { $0 }, displayStyle: .dictionary)
    }
}

extension ArenaMap {
    /// Index slots a successful lookup of every key compares, summed over the entries (displacement from the home
    /// bucket + 1 each); and the longest single probe sequence. Deterministic: the cost of a hash-flooding key set
    /// shows here whatever the machine's timing noise (used by the flooding tests; O(table size)).
    public func _probeStatistics() -> (totalProbes: Int, longestProbe: Int) {
        let s = _storage
        var total = 0, longest = 0
        for (t, mask) in [(s.table, s.tableMask), (s.oldTable, s.oldMask)] {
            guard let t else { continue }
            for b in 0...mask {
                let slot = t[b]
                if slot == 0 || slot & 0xFFFF_FFFF == 0xFFFF_FFFF { continue }
                let home = Int(truncatingIfNeeded: slot &>> 32) & mask
                let probes = ((b &- home) & mask) + 1
                total += probes
                longest = Swift.max(longest, probes)
            }
        }
        return (total, longest)
    }
}
