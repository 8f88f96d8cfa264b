// Modes: `memprobe-bench snapshot [MiB]` (SnapshotBenchmarks.swift); `memprobe-bench map [options]` runs the ArenaMap benchmarks (MapBenchmarks.swift).
if CommandLine.arguments.dropFirst().first == "map" {
    MapBenchmarks.run(Array(CommandLine.arguments.dropFirst(2)))
} else if CommandLine.arguments.dropFirst().first == "snapshot" {
    SnapshotBenchmarks.run(Array(CommandLine.arguments.dropFirst(2)))
} else if CommandLine.arguments.dropFirst().first == "arena" {
    ArenaBenchmarks.run(Array(CommandLine.arguments.dropFirst(2)))  // PageArena (ArenaBenchmarks.swift)
} else if CommandLine.arguments.dropFirst().first == "service" {
    await ServiceBenchmarks.run(Array(CommandLine.arguments.dropFirst(2)))  // governor, metrics, publish (ServiceBenchmarks.swift)
} else if CommandLine.arguments.dropFirst().first == "_publish" {
    ServiceBenchmarks.publishOnly(Array(CommandLine.arguments.dropFirst(2)))
} else if CommandLine.arguments.dropFirst().first == "_serve" {
    await ServiceBenchmarks.serve(Array(CommandLine.arguments.dropFirst(2)))
} else if CommandLine.arguments.dropFirst().first == "_hold" {
    SnapshotBenchmarks.hold(Array(CommandLine.arguments.dropFirst(2)))
} else {
    print("usage: memprobe-bench map|snapshot|arena|service [options]")
}
