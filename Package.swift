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
        .executable(name: "memprobe", targets: ["MemProbeCLI"]),
        .executable(name: "memprobe-bench", targets: ["MemProbeBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        .target(
            name: "CShims",
            path: "CShims",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [
                .linkedLibrary("numa", .when(platforms: [.linux])),
                // libunwind is NOT linked: it is dlopen'ed RTLD_LOCAL so it never interposes _Unwind_*/backtrace.
                .linkedLibrary("dl", .when(platforms: [.linux])),
            ]
        ),
        .target(
            name: "MemProbeSystem",
            dependencies: ["CShims", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: mocking
        ),
        .target(name: "MemProbeArena", dependencies: ["MemProbeSystem"], swiftSettings: mocking),
        .target(name: "MemProbeMap", dependencies: ["MemProbeArena"], swiftSettings: mocking + internalChecks),
        .target(name: "MemProbe", dependencies: ["MemProbeSystem", "MemProbeArena", "MemProbeMap"]),
        .executableTarget(
            name: "MemProbeCLI",
            dependencies: ["MemProbe", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(name: "MemProbeBench", dependencies: ["MemProbe", "CShims"]),
        // libFuzzer target for the /proc parsers (tools/fuzz-parsers.sh); a plain build links its replay mode.
        .target(name: "CFuzz"),
        .executableTarget(name: "FuzzProcParsers", dependencies: ["MemProbeSystem", "CFuzz"]),
        // Helpers every test target shares (environment conditions for skips, Collider keys, lifetime tracking,
        // seeded RNG, medians, arena invariants): one copy, not one per test target.
        .target(name: "MemProbeTestSupport", dependencies: ["MemProbeSystem", "MemProbeArena"], path: "Tests/MemProbeTestSupport"),
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
        .testTarget(name: "MemProbeCLITests", dependencies: ["MemProbe", "MemProbeCLI", "MemProbeTestSupport"]),
        // MemStats and its renderings in process, so the ASan and TSan passes cover them (tools/test.sh).
        .testTarget(name: "MemProbeTests", dependencies: ["MemProbe", "MemProbeTestSupport"]),
    ]
)
