// swift-tools-version:6.0
import PackageDescription

// Swift 5 language mode: the server shares shard state between event-loop threads by
// explicit message passing, which strict Sendable checking cannot express without
// wrapping every hop in @unchecked boxes. The discipline is documented in
// docs/ARCHITECTURE.md instead.
// Release builds skip Swift's dynamic exclusivity checks (swift_beginAccess on every access to
// a class's stored property): a quarter of a pipelined GET's instructions under callgrind. The
// single-owner discipline per shard (docs/ARCHITECTURE.md) is what keeps accesses exclusive.
let swift5: [SwiftSetting] = [
    .swiftLanguageMode(.v5),
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "Larder",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "larder", targets: ["larder"]),
        .executable(name: "larder-bench", targets: ["larder-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // C libraries from Debian -dev packages.
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd"),
        .systemLibrary(name: "CSnappy", path: "Sources/CSnappy"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib"),
        .systemLibrary(name: "CLZ4", path: "Sources/CLZ4", pkgConfig: "liblz4"),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3"),
        .systemLibrary(name: "CHiredis", path: "Sources/CHiredis", pkgConfig: "hiredis"),
        // TLS (libssl-dev): Debian's OpenSSL, not swift-nio-ssl, so no BoringSSL is compiled on
        // every build and TLS is not tied to NIO (LarderTLS works over memory BIOs).
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl"),
        // epoll, timerfd, TCP_NODELAY and prctl for larder-bench (Swift's Glibc module leaves them out).
        .systemLibrary(name: "CBenchSys", path: "Sources/CBenchSys"),
        // io_uring (liburing-dev) for the `--io uring` engine (Sources/LarderServer/Engine/Uring*): a
        // C target, so liburing.h (which defines _GNU_SOURCE) stays out of what Swift imports.
        .target(name: "CLiburing", linkerSettings: [.linkedLibrary("uring", .when(platforms: [.linux]))]),
        // Thread pinning and process CPU time (needs _GNU_SOURCE, which Swift cannot set).
        .target(name: "CLarderSupport"),

        // Logging facade over swift-log: text or JSON lines, secrets redacted (docs/deployment.md).
        .target(name: "LarderLog", dependencies: [.product(name: "Logging", package: "swift-log")],
                swiftSettings: swift5),
        // Version, git commit and build configuration for `larder --version` (BuildInfoPlugin).
        .target(name: "LarderBuildInfo", swiftSettings: swift5, plugins: ["BuildInfoPlugin"]),
        .plugin(name: "BuildInfoPlugin", capability: .buildTool()),

        // Protocol: RESP2/RESP3 parsing and reply encoding. No I/O, no dependencies,
        // so the fuzzer can compile it with plain swiftc.
        .target(name: "LarderRESP", swiftSettings: swift5),
        // Data structures: keyspace tables, compact values, expiry. Knows nothing of sockets.
        .target(name: "LarderStore", dependencies: ["CLarderSupport"], swiftSettings: swift5),
        // TLS over OpenSSL memory BIOs: ciphertext in, plaintext out, no sockets (docs/security.md).
        .target(name: "LarderTLS", dependencies: ["COpenSSL"], swiftSettings: swift5),
        // Snapshots (Redis RDB) and their loading, over the store. No sockets, no commands.
        .target(name: "LarderPersistence", dependencies: ["LarderStore"], swiftSettings: swift5),
        // NIO bootstrap, per-core loops, connection handler, command table and families.
        .target(name: "LarderServer", dependencies: [
            "LarderRESP", "LarderStore", "LarderPersistence", "CLarderSupport", "LarderLog", "LarderTLS",
            .target(name: "CLiburing", condition: .when(platforms: [.linux])),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Atomics", package: "swift-atomics"),
        ], swiftSettings: swift5),
        // Feature repo model, YAML loader, Feast registry reader, Feast key/value encoding.
        .target(name: "LarderFeatures", dependencies: [
            "CSQLite",
            .product(name: "Yams", package: "Yams"),
        ], swiftSettings: swift5),
        // Online serving: the FEATURES.* command family, the HTTP feature server, metrics.
        .target(name: "LarderServing", dependencies: [
            "LarderServer", "LarderFeatures", "LarderRESP", "LarderStore", "LarderLog",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], swiftSettings: swift5),
        // Parquet reader and writer.
        .target(name: "LarderParquet", dependencies: ["CZstd", "CSnappy", "CZlib", "CLZ4"],
                swiftSettings: swift5),
        // Offline sources (Parquet, CSV), materialization, point-in-time join.
        .target(name: "LarderOffline", dependencies: ["LarderParquet", "LarderFeatures", "LarderStore", "LarderRESP", "LarderTLS"],
                swiftSettings: swift5),
        // Parquet decode benchmark (bench/parquet/bench.py drives it).
        .executableTarget(name: "larder-parquet-bench", dependencies: ["LarderParquet"],
                          path: "Sources/larder-parquet-bench", swiftSettings: swift5),
        // Load generator (hiredis reply reader, one epoll loop, HdrHistogram latencies); bench/README.md.
        .executableTarget(name: "larder-bench", dependencies: [
            "CHiredis", "CBenchSys",
            .product(name: "Histogram", package: "hdrhistogram-swift"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/larder-bench", swiftSettings: swift5),
        .executableTarget(name: "larder", dependencies: [
            "LarderServer", "LarderOffline", "LarderParquet", "LarderFeatures", "LarderStore", "LarderServing",
            "LarderLog", "LarderBuildInfo", "LarderTLS",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: swift5),

        .testTarget(name: "LarderRESPTests", dependencies: ["LarderRESP"], swiftSettings: swift5),
        .testTarget(name: "LarderLogTests", dependencies: ["LarderLog", "LarderBuildInfo"], swiftSettings: swift5),
        .testTarget(name: "LarderTLSTests", dependencies: ["LarderTLS"], swiftSettings: swift5),
        .testTarget(name: "LarderStoreTests", dependencies: ["LarderStore"], swiftSettings: swift5),
        .testTarget(name: "LarderPersistenceTests", dependencies: ["LarderPersistence", "LarderStore"],
                    resources: [.copy("Fixtures")], swiftSettings: swift5),
        .testTarget(name: "LarderServerTests", dependencies: ["LarderServer", "LarderRESP", "LarderStore", "LarderPersistence"], swiftSettings: swift5),
        .testTarget(name: "LarderFeaturesTests", dependencies: ["LarderFeatures"],
                    resources: [.copy("Fixtures")], swiftSettings: swift5),
        .testTarget(name: "LarderServingTests", dependencies: ["LarderServing", "LarderServer", "LarderFeatures", "LarderStore", "LarderRESP"],
                    swiftSettings: swift5),
        .testTarget(name: "LarderParquetTests", dependencies: ["LarderParquet"],
                    resources: [.copy("Fixtures")], swiftSettings: swift5),
        .testTarget(name: "LarderOfflineTests", dependencies: ["LarderOffline", "LarderStore", "LarderTLS"],
                    resources: [.copy("Fixtures")], swiftSettings: swift5),
    ]
)
