import MemProbeArena
import MemProbeSystem
import PropertyBased
import MemProbeTestSupport
import Testing

/// Random alloc/free/release sequences against a simple model (live allocations and their bytes),
/// with the invariants and every live allocation's contents checked after every step.
@Suite struct PropertyTests {
    struct Live { var pointer: UnsafeMutableRawPointer; var size: Int; var fill: UInt8 }

    static let strategies: [ReleaseStrategy] = [
        .retain, .lazyFree, .dontNeed, .unmap, .decay(delay: .milliseconds(1)), .freeThenPageOut(delay: .milliseconds(1)),
    ]

    @Test func randomOperationsAgainstAModel() async {
        var runs = 0
        var steps = 0
        await propertyCheck(count: 100, input: Gen.int(in: 0...100_000).array(of: 1...60)) { ops in
            runs += 1
            steps += ops.count
            let first = ops.first ?? 0
            let arena = PageArena(
                strategy: Self.strategies[first % Self.strategies.count],
                                // 256 KiB regions keep every run in the exact-size bins; 2 MiB regions exercise the sorted large-run index.
                configuration: .init(regionSize: (first / 8) % 2 == 0 ? 256 * 1024 : 2 * MiB, hugePages: false,
                                     maxReleaseBytesPerCall: 64 * 1024, threadCache: (first / 16) % 2 == 1))
            var live: [Live] = []
            var fillCounter: UInt8 = 0
            for v in ops {
                let arg = v / 8
                switch v % 8 {
                case 0, 1, 2:  // small block
                    let size = arg % 2049
                    try allocate(arena, size, alignment: 1 << (arg % 7), &live, &fillCounter)
                case 3, 4:  // page run, sometimes bigger than a region
                    let size = 1 + arg % (80 * pageSize)
                    try allocate(arena, size, alignment: 16, &live, &fillCounter)
                case 5, 6:
                    if !live.isEmpty {
                        let l = live.remove(at: arg % live.count)
                        arena.deallocate(l.pointer, byteCount: l.size)
                    }
                default:
                    if arg % 3 == 0 {
                        arena.setStrategy(Self.strategies[arg % Self.strategies.count])
                    } else {
                        try arena.release(using: Self.strategies[arg % Self.strategies.count])
                    }
                }
                try check(arena, live)
            }
            for l in live { arena.deallocate(l.pointer, byteCount: l.size) }
            try arena.release(using: .unmap)
            let s = arena.stats
            expectInvariants(s)
            #expect(s.alloc == 0 && s.heapInuse == 0 && s.sys == 0, "everything back: \(s)")
        }
        #expect(runs >= 100, "\(runs) sequences, \(steps) steps")
    }

    func allocate(_ arena: PageArena, _ size: Int, alignment: Int, _ live: inout [Live], _ fill: inout UInt8) throws {
        let p = try arena.allocate(byteCount: size, alignment: alignment)
        #expect(Int(bitPattern: p) % alignment == 0)
        fill &+= 1
        if size > 0 {
            p.initializeMemory(as: UInt8.self, repeating: fill, count: min(size, 64))
            p.storeBytes(of: fill, toByteOffset: size - 1, as: UInt8.self)
        }
        live.append(Live(pointer: p, size: size, fill: fill))
    }

    func check(_ arena: PageArena, _ live: [Live]) throws {
        let s = arena.stats
        expectInvariants(s)
        #expect(s.alloc == live.reduce(0) { $0 + $1.size }, "Alloc matches the model")
        #expect(s.heapInuse >= live.reduce(0) { $0 + arena.reservedSize(forByteCount: $1.size) } / 2)
        try expectResidencyInvariant(arena)
        // Contents intact, no two live allocations overlap.
        for l in live where l.size > 0 {
            #expect(l.pointer.load(as: UInt8.self) == l.fill)
            #expect(l.pointer.load(fromByteOffset: l.size - 1, as: UInt8.self) == l.fill)
        }
        let sorted = live.sorted { UInt(bitPattern: $0.pointer) < UInt(bitPattern: $1.pointer) }
        for (a, b) in zip(sorted, sorted.dropFirst()) {
            #expect(UInt(bitPattern: a.pointer) + UInt(max(a.size, 1)) <= UInt(bitPattern: b.pointer), "overlap")
        }
    }
}
