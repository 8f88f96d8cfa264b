// swift-tools-version:6.1
import PackageDescription

// Layers, bottom-up: CShims (C) → MemProbeSystem → MemProbeArena → MemProbeMap → MemProbe → memprobe (CLI).
// No unsafeFlags anywhere: SwiftPM refuses them when a service depends on this package by version.
let mocking: [SwiftSetting] = [.define("ENABLE_MOCKING", .when(configuration: .debug))]

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
        .target(name: "MemProbeMap", dependencies: ["MemProbeArena"], swiftSettings: mocking),
        // Heap profiles (pprof encoder/reader, symbols); no Foundation, so services can use it.
        .target(name: "MemProbeProfile", dependencies: ["MemProbeArena", "MemProbeSystem", "CShims"]),
        .target(name: "MemProbe", dependencies: ["MemProbeSystem", "MemProbeArena", "MemProbeMap"]),
        .executableTarget(
            name: "MemProbeCLI",
            dependencies: ["MemProbe", "MemProbeProfile", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(name: "MemProbeBench", dependencies: ["MemProbe", "MemProbeProfile", "CShims"]),
        // libFuzzer target for the /proc parsers (tools/fuzz-parsers.sh); a plain build links its replay mode.
        .target(name: "CFuzz"),
        .executableTarget(name: "FuzzProcParsers", dependencies: ["MemProbeSystem", "CFuzz"]),
        .testTarget(name: "CShimsTests", dependencies: ["CShims"]),
        .testTarget(name: "MemProbeSystemTests", dependencies: ["MemProbeSystem", "CShims"], swiftSettings: mocking),
        .testTarget(
            name: "MemProbeArenaTests",
            dependencies: ["MemProbeArena", "CShims", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: mocking
        ),
        .testTarget(
            name: "MemProbeMapTests",
            dependencies: ["MemProbeMap", "CShims", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: mocking
        ),
        .testTarget(name: "MemProbeCLITests", dependencies: ["MemProbe", "MemProbeCLI", "MemProbeProfile"]),
        .testTarget(name: "MemProbeProfileTests", dependencies: ["MemProbeProfile", "MemProbeMap", "MemProbeArena", "CShims"]),
    ]
)
