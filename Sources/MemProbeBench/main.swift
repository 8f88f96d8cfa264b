// Modes: `memprobe-bench map [options]` runs the ArenaMap benchmarks (MapBenchmarks.swift).
if CommandLine.arguments.dropFirst().first == "map" {
    MapBenchmarks.run(Array(CommandLine.arguments.dropFirst(2)))
} else {
    print("bench")
}
