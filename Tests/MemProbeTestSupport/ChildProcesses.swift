#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// posix_spawn failed (`code` is its error number).
public struct SpawnError: Error, CustomStringConvertible {
    public var path: String
    public var code: Int32
    public var description: String { "posix_spawn(\(path)) failed: \(code)" }
}

/// Starts `path` with `arguments` (posix_spawn, this process's environment), optionally with `stdin` and `stdout`
/// on the given descriptors; returns the child's pid. The caller reaps it (``reap(_:)``).
public func spawnProcess(_ path: String, _ arguments: [String] = [], stdin: Int32? = nil, stdout: Int32? = nil) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if let stdin { posix_spawn_file_actions_adddup2(&actions, stdin, 0) }
    if let stdout { posix_spawn_file_actions_adddup2(&actions, stdout, 1) }
    let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
    defer { for a in argv { free(a) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
    guard rc == 0 else { throw SpawnError(path: path, code: rc) }
    return pid
}

/// Waits for the child `pid` to end and returns its wait status (retried on EINTR).
@discardableResult
public func reap(_ pid: pid_t) -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return status
}

/// Whether `pid` is a zombie (ended, not yet reaped): the state field of /proc/<pid>/stat, after the command name.
public func isZombie(_ pid: pid_t) -> Bool {
    readWholeFile("/proc/\(pid)/stat")?.split(separator: ")").last?.split(separator: " ").first == "Z"
}

/// Direct children of `pid` from /proc/<pid>/task/*/children.
public func childPids(of pid: pid_t) -> [pid_t] {
    guard let dir = opendir("/proc/\(pid)/task") else { return [] }
    defer { closedir(dir) }
    var children: [pid_t] = []
    while let entry = readdir(dir) {
        let task = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard Int32(task) != nil, let text = readWholeFile("/proc/\(pid)/task/\(task)/children") else { continue }
        children += text.split { $0 == " " || $0 == "\n" }.compactMap { Int32($0) }
    }
    return children
}

/// The first child `pid` starts within `timeout` (polled every 10 ms), or nil.
public func firstChild(of pid: pid_t, within timeout: Duration) -> pid_t? {
    var child: pid_t?
    _ = eventually(within: timeout) {
        child = childPids(of: pid).first
        return child != nil
    }
    return child
}
