import SystemPackage

/// A file mapped into memory (`mmap` of a ``SystemFile`` from offset 0), unmapped once: by ``unmap()`` or when
/// the value is released.
///
/// The mapping outlives the descriptor it came from: the file may be closed right after mapping. Loads and stores
/// through ``base`` are plain memory accesses — no system call — which is what makes a published-stats update cheap.
public final class FileMapping {
    /// How the file is mapped.
    public enum Access: Sendable, Hashable {
        /// `PROT_READ, MAP_PRIVATE`: read the file's bytes (a store faults).
        case readOnly
        /// `PROT_READ|PROT_WRITE, MAP_SHARED`: stores reach the file and every process that maps it.
        case sharedReadWrite
    }

    /// The first mapped byte. Valid until ``unmap()`` (or release); never store through a ``Access/readOnly`` mapping.
    public let base: UnsafeMutableRawPointer
    /// The mapped length in bytes.
    public let byteCount: Int
    /// The mapped file's path (used in error messages).
    public let path: String
    private var isMapped = true

    /// Maps the first `byteCount` bytes of `file` (which must be open with at least the access the mapping needs:
    /// read for ``Access/readOnly``, read-write for ``Access/sharedReadWrite``).
    ///
    /// Accessing pages past the file's end raises SIGBUS: size the file first (``SystemFile/truncate(toByteCount:)``).
    public init(_ file: SystemFile, byteCount: Int, access: Access) throws(SystemCallError) {
        precondition(file.isOpen, "mmap(\(file.path)) of a closed SystemFile")
        switch system_mmapFile(file.descriptor, byteCount, sharedWritable: access == .sharedReadWrite) {
        case .success(let p): base = p
        case .failure(let e): throw SystemCallError(call: "mmap(\(file.path), \(byteCount))", errno: e)
        }
        self.byteCount = byteCount
        path = file.path
    }

    deinit {
        if isMapped { _ = system_munmap(base, byteCount) }
    }

    /// Unmaps the file now (idempotent). ``base`` must not be used afterwards.
    public func unmap() throws(SystemCallError) {
        guard isMapped else { return }
        isMapped = false
        if case .failure(let e) = system_munmap(base, byteCount) {
            throw SystemCallError(call: "munmap(\(path), \(byteCount))", errno: e)
        }
    }
}
