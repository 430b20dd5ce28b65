// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "tether",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tetherd", targets: ["tetherd"]),
        .executable(name: "tether", targets: ["tether"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.20.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.24.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // TLS: the listener and the client's remote agents (mutual TLS), and trust roots for
        // Keystone and Cinder (cacert); the names a client certificate carries (subject CN, SAN)
        // read with swift-certificates.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.6.0"),
        // clouds.yaml, as openstacksdk reads it.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // System libraries: shims only, no logic. One Swift module imports each.
        .systemLibrary(name: "CISCSI", pkgConfig: "libiscsi", providers: [.apt(["libiscsi-dev"])]),
        .systemLibrary(name: "CRBD", providers: [.apt(["librbd-dev", "librados-dev"])]),
        .systemLibrary(name: "CUDev", pkgConfig: "libudev", providers: [.apt(["libudev-dev"])]),
        // No pkgConfig: its `-lvirt` would link libvirt, which CVirtLoader loads on first use.
        .systemLibrary(name: "CVirt", providers: [.apt(["libvirt-dev"])]),
        // librados/librbd and libvirt loaded on first use (dlopen), so a node that uses neither
        // does not carry them: the functions the Swift modules call, forwarded (issue #17).
        .target(name: "CRBDLoader"),
        .target(name: "CVirtLoader"),

        .target(
            name: "TetherCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TetherLinux",
            dependencies: ["TetherCore", "CUDev", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TetherISCSI",
            dependencies: ["TetherCore", "TetherMultipath", "CISCSI", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TetherMultipath",
            dependencies: ["TetherCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TetherTarget",
            dependencies: ["TetherCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TetherRBD",
            dependencies: ["TetherCore", "TetherCeph", "CRBD", "CRBDLoader", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TetherLibvirt",
            dependencies: ["TetherCore", "CVirt", "CVirtLoader"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TetherCeph",
            dependencies: ["TetherCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TetherCinder",
            dependencies: [
                "TetherCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TetherAPI",
            dependencies: ["TetherCore"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TetherClient",
            dependencies: [
                "TetherCore", "TetherAPI",
                // HTTPS to a remote agent (--agent https://HOST:PORT).
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                // clouds.yaml (--os-cloud).
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TetherAgent",
            dependencies: [
                "TetherCore", "TetherAPI", "TetherCeph", "TetherCinder", "TetherISCSI", "TetherLibvirt", "TetherRBD", "TetherTarget", "TetherLinux",
                // connect: this agent calls storage nodes' agents as `tether --agent` does.
                "TetherClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
                // The API's channel handlers: peer credentials, HTTP framing errors.
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                // SIGHUP reloads the TLS listener's certificates.
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Test support. Fakes: in-process stand-ins (a scripted host, connector, exporter), no
        // root. Labs: real peers a test starts and stops (tgtd, Ceph, Cinder, libvirtd, tetherd).
        .target(name: "TetherFakes", dependencies: ["TetherCore"], swiftSettings: swiftSettings),
        .target(name: "TetherLabs", dependencies: ["TetherCore", "TetherCeph", "TetherLinux", "TetherFakes"], swiftSettings: swiftSettings),
        .target(name: "TetherTesting", dependencies: ["TetherFakes", "TetherLabs"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "tetherd",
            dependencies: [
                "TetherAgent",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // The singleton event loops' size (capThreads).
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings,
            // Idle memory (issue #17), measured by scripts/idle-memory.sh: lld, so that the
            // relative relocations are packed (DT_RELR, glibc >= 2.36: 30 KB instead of a 3.6 MB
            // .rela.dyn read at every start), and no symbol exported: nothing looks tetherd's
            // symbols up at run time, yet the tables of all 56,000 (.dynsym, .dynstr, .gnu.hash)
            // were resident, 3.5 MB. Unstripped builds keep the names in .symtab.
            linkerSettings: [
                .unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic"])
            ]
        ),
        .executableTarget(
            name: "tether",
            dependencies: [
                "TetherAPI", "TetherCore", "TetherClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "tether-bench",
            // CRBD and CISCSI: the compare floors call the C libraries themselves (not through TetherRBD/TetherISCSI).
            dependencies: ["CISCSI", "CRBD", "TetherAPI", "TetherCeph", "TetherClient", "TetherCore", "TetherLinux", "TetherRBD", "TetherTesting"],
            swiftSettings: swiftSettings
        ),

        // Fuzz targets: libFuzzer entry points built by scripts/fuzz.sh (-sanitize=fuzzer); a plain
        // build replays the files named on the command line. Corpus: Fuzz/Corpus/<target>/.
        .target(name: "FuzzSupport", path: "Fuzz/Support", swiftSettings: swiftSettings),
        .executableTarget(
            name: "FuzzConnectionInfo", dependencies: ["FuzzSupport", "TetherCore", "TetherCeph"], path: "Fuzz/ConnectionInfo",
            swiftSettings: swiftSettings),
        .executableTarget(name: "FuzzConnector", dependencies: ["FuzzSupport", "TetherCore"], path: "Fuzz/Connector", swiftSettings: swiftSettings),
        .executableTarget(
            name: "FuzzConfig", dependencies: ["FuzzSupport", "TetherAgent", "TetherCeph", "TetherCore"], path: "Fuzz/Config",
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "FuzzRequest",
            dependencies: [
                "FuzzSupport", "TetherAgent", "TetherAPI", "TetherCore", "TetherTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            path: "Fuzz/Request", swiftSettings: swiftSettings),

        .testTarget(name: "TetherCoreTests", dependencies: ["TetherCore", "TetherFakes"], swiftSettings: swiftSettings),
        .testTarget(name: "TetherLinuxTests", dependencies: ["TetherLinux", "TetherFakes"], swiftSettings: swiftSettings),
        .testTarget(name: "TetherISCSITests", dependencies: ["TetherISCSI", "TetherMultipath", "TetherFakes"], swiftSettings: swiftSettings),
        .testTarget(name: "TetherMultipathTests", dependencies: ["TetherMultipath", "TetherFakes"], swiftSettings: swiftSettings),
        .testTarget(name: "TetherClientTests", dependencies: ["TetherClient", "TetherAPI", "TetherCore"], swiftSettings: swiftSettings),
        .testTarget(name: "TetherCLITests", dependencies: ["tether", "TetherClient", "TetherAPI", "TetherCore", "TetherLinux", "TetherFakes"], swiftSettings: swiftSettings),
        .testTarget(name: "TetherAPITests", dependencies: ["TetherAPI", "TetherCore"], swiftSettings: swiftSettings),
        .testTarget(name: "TetherRBDTests", dependencies: ["TetherRBD", "TetherCeph", "TetherFakes", "tether"], swiftSettings: swiftSettings),
        .testTarget(name: "TetherCephTests", dependencies: ["TetherCeph", "TetherFakes", "TetherLinux"], swiftSettings: swiftSettings),
        .testTarget(name: "TetherCinderTests", dependencies: ["TetherCinder", "TetherFakes"], swiftSettings: swiftSettings),
        .testTarget(name: "TetherTargetTests", dependencies: ["TetherTarget", "TetherFakes"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TetherAgentTests",
            dependencies: [
                "TetherAgent", "TetherAPI", "TetherCinder", "TetherClient", "TetherFakes", "TetherLabs",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            // tomli_w's files, read by path (TOMLFileTests).
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TetherBenchTests",
            dependencies: ["tether-bench", "TetherAgent", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["TetherAgent", "TetherAPI", "TetherCinder", "TetherClient", "TetherISCSI", "TetherRBD", "TetherTarget", "TetherTesting", "TetherLinux"],
            swiftSettings: swiftSettings
        ),
    ]
)
