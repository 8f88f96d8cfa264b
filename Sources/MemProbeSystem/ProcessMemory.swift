#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Why the memory of a process could not be read.
public enum ProcessMemoryError: Error, Hashable, Sendable, CustomStringConvertible {
    /// There is no process with this pid (`ENOENT`).
    case noSuchProcess(pid: Int32)
    /// None of smaps_rollup, status and statm could be read (`EACCES`/`EPERM`).
    case notPermitted(pid: Int32, reason: String)
    /// The process has no address space: a zombie or a kernel thread.
    case noAddressSpace(pid: Int32)
    /// The process exited while it was being read; no partial figures are returned.
    case exitedDuringRead(pid: Int32)
    /// A file had unexpected content, or a call failed for another reason.
    case failed(pid: Int32, reason: String)

    /// The pid the error is about.
    public var pid: Int32 {
        switch self {
        case .noSuchProcess(let p), .notPermitted(let p, _), .noAddressSpace(let p), .exitedDuringRead(let p),
            .failed(let p, _):
            p
        }
    }

    /// One line, e.g. `"process 999999: no such process"`.
    public var description: String {
        switch self {
        case .noSuchProcess(let p): "process \(p): no such process"
        case .notPermitted(let p, let r): "process \(p): not permitted to read its memory (\(r))"
        case .noAddressSpace(let p): "process \(p): no address space (zombie or kernel thread)"
        case .exitedDuringRead(let p): "process \(p): exited while its memory was being read"
        case .failed(let p, let r): "process \(p): \(r)"
        }
    }
}

/// One reading of a process's memory as the kernel reports it: `smaps_rollup`, `status` and `statm`.
///
/// A figure that could not be read is `nil` and listed in ``missing`` with the reason (for example `smaps_rollup`
/// of another user's process is `EACCES` while `status` and `statm` are readable by anyone).
public struct ProcessMemory: Codable, Sendable, Hashable {
    /// How much to read.
    public enum Mode: String, Codable, Sendable, Hashable, CaseIterable {
        /// smaps_rollup (O(resident pages), holds the target's mmap lock), status and statm.
        case full
        /// status and statm only (a few µs, no lock): no Pss, LazyFree or AnonHugePages.
        case fast
    }

    /// A source file of figures.
    public enum Figure: String, Codable, Sendable, Hashable, CaseIterable {
        /// `/proc/<pid>/smaps_rollup` (or summed `smaps`).
        case smapsRollup
        /// `/proc/<pid>/status`.
        case status
        /// `/proc/<pid>/statm`.
        case statm
    }

    /// A figure the mode asked for that could not be read, and why.
    public struct MissingFigure: Codable, Sendable, Hashable, CustomStringConvertible {
        /// Which figure.
        public var figure: Figure
        /// Why, in one line (e.g. the `EACCES` error).
        public var reason: String

        /// Creates a value.
        public init(figure: Figure, reason: String) {
            self.figure = figure
            self.reason = reason
        }

        /// `"smapsRollup: <reason>"`.
        public var description: String { "\(figure.rawValue): \(reason)" }
    }

    /// The pid read (the caller's own pid when read with `pid: nil`).
    public var pid: Int32
    /// The mode used.
    public var mode: Mode
    /// smaps_rollup figures (`nil` in `.fast` mode or when missing).
    public var rollup: SmapsRollup?
    /// status figures (`nil` when missing).
    public var status: ProcStatus?
    /// statm figures (`nil` when missing).
    public var statm: Statm?
    /// Figures the mode asked for that could not be read. Figures a mode does not read are not listed.
    public var missing: [MissingFigure]

    /// Creates a value from parts (for tests and decoding).
    public init(
        pid: Int32, mode: Mode, rollup: SmapsRollup?, status: ProcStatus?, statm: Statm?, missing: [MissingFigure]
    ) {
        self.pid = pid
        self.mode = mode
        self.rollup = rollup
        self.status = status
        self.statm = statm
        self.missing = missing
    }

    /// Resident bytes from the best source read: smaps_rollup `Rss`, else status `VmRSS`, else statm.
    public var residentBytes: Int? { rollup?.rss ?? status?.vmRSS ?? statm?.resident }

    /// Rss − LazyFree: what the process would keep if the kernel reclaimed its lazily freed pages.
    /// `nil` without smaps_rollup (only it reports LazyFree).
    public var effectiveResidentBytes: Int? {
        guard let r = rollup?.rss, let l = rollup?.lazyFree else { return nil }
        return r - l
    }

    /// Reads the memory of `pid` (`nil`: the calling process, through `/proc/self`).
    ///
    /// - `.full` reads smaps_rollup first (falling back to summed smaps on kernels < 4.14), then status and statm;
    ///   `.fast` reads status and statm.
    /// - `EACCES`/`EPERM` on one file: that figure is listed in ``missing``; on every file: ``ProcessMemoryError/notPermitted(pid:reason:)``.
    /// - Zombie or kernel thread (smaps_rollup `ESRCH` at open, status without `VmRSS` or in state Z, all-zero
    ///   statm): ``ProcessMemoryError/noAddressSpace(pid:)``.
    /// - The process exits between or during the reads: ``ProcessMemoryError/exitedDuringRead(pid:)``.
    public static func read(pid: Int32? = nil, mode: Mode = .full) throws(ProcessMemoryError) -> ProcessMemory {
        let shownPid = pid ?? Int32(getpid())
        var missing: [MissingFigure] = []
        var rollup: SmapsRollup?
        var status: ProcStatus?
        var statm: Statm?
        // Set once any file of this pid was opened: a later ENOENT then means it exited.
        var seenAlive = false
        var noAddressSpace = false
        var permissionDenied = false

        func classify(_ e: ProcFileError, _ figure: Figure) throws(ProcessMemoryError) {
            switch e {
            case .noSuchProcess:
                throw seenAlive ? .exitedDuringRead(pid: shownPid) : .noSuchProcess(pid: shownPid)
            case .exitedDuringRead:
                throw .exitedDuringRead(pid: shownPid)
            case .noAddressSpace:
                // ESRCH at open: the process exists without an mm (zombie, kernel thread) or is exiting now.
                seenAlive = true
                noAddressSpace = true
                missing.append(MissingFigure(figure: figure, reason: e.description))
            case .notPermitted:
                seenAlive = true
                permissionDenied = true
                missing.append(MissingFigure(figure: figure, reason: e.description))
            case .malformed, .system:
                missing.append(MissingFigure(figure: figure, reason: e.description))
            }
        }

        if mode == .full {
            do {
                let r = try SmapsRollup.read(pid: pid)
                seenAlive = true
                if r.source == .smaps, r.fields.isEmpty {
                    // An empty smaps is the fallback's zombie / kernel-thread case.
                    noAddressSpace = true
                } else if r.rss == nil {
                    let path = ProcFile.path(pid: pid, "smaps_rollup")
                    missing.append(MissingFigure(
                        figure: .smapsRollup, reason: ProcFileError.malformed(path: path, detail: "no Rss field").description))
                } else {
                    rollup = r
                }
            } catch { try classify(error, .smapsRollup) }
        }
        do {
            status = try ProcStatus.read(pid: pid)
            seenAlive = true
        } catch { try classify(error, .status) }
        do {
            statm = try Statm.read(pid: pid)
            seenAlive = true
        } catch { try classify(error, .statm) }

        if let s = status, s.isZombie || s.vmRSS == nil { noAddressSpace = true }
        if let s = statm, s.isEmpty { noAddressSpace = true }
        if noAddressSpace {
            // smaps_rollup ESRCH at open also happens when a live process exits between our reads: status says which.
            if let s = status, !s.isZombie, s.vmRSS != nil, let m = statm, !m.isEmpty {
                throw .exitedDuringRead(pid: shownPid)
            }
            throw .noAddressSpace(pid: shownPid)
        }
        if rollup == nil, status == nil, statm == nil {
            let reason = missing.map(\.description).joined(separator: "; ")
            if permissionDenied {
                throw .notPermitted(pid: shownPid, reason: reason)
            }
            throw .failed(pid: shownPid, reason: reason)
        }
        return ProcessMemory(pid: shownPid, mode: mode, rollup: rollup, status: status, statm: statm, missing: missing)
    }
}
