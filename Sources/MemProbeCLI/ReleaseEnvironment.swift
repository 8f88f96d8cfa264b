import MemProbeArena

/// `MEMPROBE_RELEASE` and the CLI: the variable chooses the strategy of `PageArena.shared`, which the CLI never
/// uses (every `compare` contender names its own strategy; `snapshot` allocates no arena). So the CLI says so
/// rather than appearing to honour it, and a misspelt value is still the usage error the docs promise.
enum ReleaseEnvironment {
    /// Exits 64 when `MEMPROBE_RELEASE` names no strategy; prints one note when it is set for `compare`.
    static func check(command: String?) {
        do {
            guard let strategy = try ReleaseStrategy.fromEnvironment() else { return }
            if command == "compare" {
                printError("memprobe compare: note: MEMPROBE_RELEASE=\(strategy) has no effect here: each contender sets its own release strategy (choose them with --contenders)")
            }
        } catch {
            printError("memprobe: MEMPROBE_RELEASE: \(error)")
            MemProbeCommand.exit(withError: ExitStatus.usage)
        }
    }
}
