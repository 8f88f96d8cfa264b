// swift-tools-version:6.1
import PackageDescription

// An HTTP key-value cache that links memprobe: Hummingbird server, swift-prometheus /metrics, and the memprobe
// governor in one ServiceGroup. A separate package (depends on the main one by path) so nothing that links the
// library pulls in an HTTP stack.
// SwiftPM names a path dependency after its directory (a clone may be called anything): take that name from here.
let memprobeRoot = String(#filePath.split(separator: "/").dropLast(3).last ?? "memprobe")

let package = Package(
    name: "KVCache",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kvcache", targets: ["KVCache"]),
    ],
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
    ],
    targets: [
        .executableTarget(
            name: "KVCache",
            dependencies: [
                .product(name: "MemProbe", package: memprobeRoot),
                .product(name: "MemProbeProfile", package: memprobeRoot),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
    ]
)
