import MemProbeSystem

/// What can go wrong in a ``PageArena``.
public enum ArenaError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The arena needed more address space and the kernel refused it (ENOMEM under `RLIMIT_AS`, say).
    /// The arena is unchanged and still usable.
    case outOfMemory(requested: Int, underlying: VirtualMemoryError)
    /// A release strategy name that is not one of `valid`.
    case invalidStrategy(String, valid: [String])
    /// The kernel refused an advice for the arena's memory (EINVAL). The affected runs stay dirty.
    case unsupportedAdvice(MemoryAdvice)
    /// A negative or absurdly large byte count.
    case invalidSize(Int)
    /// An alignment that is not a power of two, or larger than the page size.
    case invalidAlignment(Int)
    /// A NUMA call failed: the arena's policy could not be applied to a new region (nothing was mapped then), or
    /// per-node residency could not be read (no such node, libnuma missing, …).
    case numa(NUMAError)
    /// A system call on memory the arena already holds failed for another reason than address space (a `munmap`
    /// refused with ENOMEM at `vm.max_map_count`, a failed `mincore`): not an allocation that ran out of memory.
    case systemCallFailed(VirtualMemoryError)

    public var description: String {
        switch self {
        case .outOfMemory(let n, let e): "arena out of memory: could not map \(n) bytes (\(e))"
        case .invalidStrategy(let s, let valid):
            "unknown release strategy '\(s)'; valid: \(valid.joined(separator: ", ")) (decay and freeThenPageOut take an optional ':<delay>' such as ':500ms')"
        case .unsupportedAdvice(let a): "\(a) is not supported by this kernel for the arena's memory"
        case .invalidSize(let n): "invalid allocation size \(n)"
        case .invalidAlignment(let a): "invalid alignment \(a): must be a power of two no larger than the page size"
        case .numa(let e): "arena NUMA: \(e)"
        case .systemCallFailed(let e): "arena system call failed: \(e)"
        }
    }

    /// Maps a system-layer error from a release call to the arena's error.
    static func fromRelease(_ e: VirtualMemoryError) -> ArenaError {
        switch e {
        case .unsupportedAdvice(let a): .unsupportedAdvice(a)
        case .outOfAddressSpace(let n, _): .outOfMemory(requested: n, underlying: e)
        case .system: .systemCallFailed(e)
        }
    }
}
