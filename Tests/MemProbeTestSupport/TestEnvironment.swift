#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MemProbeSystem

/// What the machine running the tests offers, for `.enabled(if:)` conditions: a test that cannot run here is
/// reported as skipped by the framework (and counted by tools/test.sh), never passed after a `print("SKIP")`.
public enum TestEnvironment {
    /// The process runs under AddressSanitizer or ThreadSanitizer (their runtimes export these symbols).
    public static let isSanitized: Bool =
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__asan_init") != nil
        || dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__tsan_init") != nil
    /// Under ThreadSanitizer specifically.
    public static let isThreadSanitized: Bool = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__tsan_init") != nil
    /// Running as root (euid 0).
    public static let isRoot: Bool = geteuid() == 0
    /// Child memory cgroups can be created under ours (root and a writable memory hierarchy).
    public static let cgroupSupport: CgroupManagementSupport = MemoryCgroup.managementSupport()
    public static var canManageCgroups: Bool { cgroupSupport.parent != nil }
    /// This process has a memory cgroup the kernel exposes.
    public static let hasMemoryCgroup: Bool = (try? MemoryCgroup.current()) != nil
    /// CPUs this process may run on.
    public static let onlineCPUs: Int = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    /// libnuma works and reports this many nodes (0 when unavailable).
    public static let numaNodes: Int = NUMA.isAvailable ? NUMA.nodes.count : 0
    /// An executable exists at `path`.
    public static func hasTool(_ path: String) -> Bool { access(path, X_OK) == 0 }
}

extension TestEnvironment {
    /// Transparent huge pages can back an `MADV_HUGEPAGE` range (THP `enabled` is `always` or `madvise`).
    public static let transparentHugePages: Bool = {
        guard let text = try? ProcFile.read("/sys/kernel/mm/transparent_hugepage/enabled") else { return false }
        return text.contains("[always]") || text.contains("[madvise]")
    }()
}
