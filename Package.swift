// swift-tools-version:6.1
import PackageDescription

// Layers, bottom-up: CShims (C) → MemProbeSystem → MemProbeArena → MemProbeMap → MemProbe → memprobe (CLI).
// No unsafeFlags anywhere: SwiftPM refuses them when a service depends on this package by version.
let mocking: [SwiftSetting] = [.define("ENABLE_MOCKING", .when(configuration: .debug))]
// Structural self-checks (`ArenaMap._checkInvariants`): debug builds only, which is what the tests run.
let internalChecks: [SwiftSetting] = [.define("MEMPROBE_INTERNAL_CHECKS", .when(configuration: .debug))]

let package = Package(
    name: "memprobe",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MemProbeSystem", targets: ["MemProbeSystem"]),
        .library(name: "MemProbeArena", targets: ["MemProbeArena"]),
        .library(name: "MemProbeMap", targets: ["MemProbeMap"]),
        .library(name: "MemProbe", targets: ["MemProbe"]),
        .library(name: "MemProbeProfile", targets: ["MemProbeProfile"]),
        .executable(name: "memprobe", targets: ["MemProbeCLI"]),
        .executable(name: "memprobe-bench", targets: ["MemProbeBench"]),
        .executable(name: "memprobe-demo", targets: ["MemProbeDemo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .target(
            name: "CShims",
            path: "CShims",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [
                // libunwind and libnuma are NOT linked: they are dlopen'ed RTLD_LOCAL (libunwind so it never
                // interposes _Unwind_*/backtrace; libnuma so services run without libnuma1).
                .linkedLibrary("dl", .when(platforms: [.linux])),
                // Heap profiles are gzip'ed pprof files (CShims/heapprofile.c); Debian zlib1g-dev.
                .linkedLibrary("z", .when(platforms: [.linux])),
                .linkedLibrary("m", .when(platforms: [.linux])),
            ]
        ),
        .target(
            name: "MemProbeSystem",
            dependencies: ["CShims", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: mocking
        ),
        .target(name: "MemProbeArena", dependencies: ["MemProbeSystem"], swiftSettings: mocking),
        .target(name: "MemProbeMap", dependencies: ["MemProbeArena"], swiftSettings: mocking + internalChecks),
        // Heap profiles (pprof encoder/reader, symbols); no Foundation, so services can use it.
        .target(name: "MemProbeProfile", dependencies: ["MemProbeArena", "MemProbeSystem", "CShims"]),
        .target(
            name: "MemProbe",
            dependencies: [
                "MemProbeSystem", "MemProbeArena", "MemProbeMap", "MemProbeProfile",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The compare experiment, the snapshot report renderers and their helpers: used by the CLI, the benchmarks and
        // tests only, so a service that depends on the MemProbe product never builds them (not a product).
        .target(name: "MemProbeCompare", dependencies: ["MemProbe", "MemProbeSystem", "MemProbeArena", "MemProbeMap"]),
        .executableTarget(
            name: "MemProbeCLI",
            dependencies: ["MemProbe", "MemProbeCompare", "MemProbeProfile", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "MemProbeBench",
            dependencies: ["MemProbe", "MemProbeCompare", "MemProbeProfile", "CShims", .product(name: "CoreMetrics", package: "swift-metrics")]
        ),
        // libFuzzer targets (fuzz/targets, run by tools/fuzz-parsers.sh); a plain build links their replay mode.
        .target(name: "CFuzz"),
        .target(name: "FuzzDriver", dependencies: ["CFuzz"]),
        .executableTarget(name: "FuzzProcParsers", dependencies: ["MemProbeSystem", "FuzzDriver"]),
        .executableTarget(name: "FuzzPublishedStats", dependencies: ["MemProbe", "FuzzDriver"]),
        .executableTarget(name: "FuzzProfileReader", dependencies: ["MemProbeProfile", "FuzzDriver"]),
        // Helpers every test target shares (environment conditions for skips, Collider keys, lifetime tracking,
        // seeded RNG, medians, arena invariants): one copy, not one per test target.
        .target(
            name: "MemProbeTestSupport", dependencies: ["MemProbeSystem", "MemProbeArena", "MemProbeCompare"],
            path: "Tests/MemProbeTestSupport"
        ),
        .testTarget(name: "CShimsTests", dependencies: ["CShims", "MemProbeTestSupport"]),
        .testTarget(
            name: "MemProbeSystemTests", dependencies: ["MemProbeSystem", "CShims", "MemProbeTestSupport"], swiftSettings: mocking),
        .testTarget(
            name: "MemProbeArenaTests",
            dependencies: [
                "MemProbeArena", "CShims", "MemProbeTestSupport", .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: mocking
        ),
        .testTarget(
            name: "MemProbeMapTests",
            dependencies: [
                "MemProbeMap", "CShims", "MemProbeTestSupport", .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: mocking + internalChecks
        ),
        // The smallest service: links only the MemProbe product (what a service adopting memprobe gets).
        .executableTarget(
            name: "MemProbeDemo",
            dependencies: [
                "MemProbe",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "MemProbeServiceTests",
            dependencies: [
                "MemProbe", "MemProbeArena", "MemProbeMap", "MemProbeSystem", "MemProbeTestSupport",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "MemProbeCLITests",
            dependencies: ["MemProbe", "MemProbeCompare", "MemProbeCLI", "MemProbeProfile", "MemProbeTestSupport"]
        ),
        .testTarget(
            name: "MemProbeProfileTests",
            dependencies: ["MemProbeProfile", "MemProbeMap", "MemProbeArena", "MemProbeSystem", "CShims", "MemProbeTestSupport"]
        ),
        // MemStats and its renderings in process, so the ASan and TSan passes cover them (tools/test.sh).
        .testTarget(name: "MemProbeTests", dependencies: ["MemProbe", "MemProbeCompare", "MemProbeTestSupport"]),
    ]
)
