// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "heloguard",
    products: [
        .executable(name: "heloguard", targets: ["heloguard"]),
        .library(name: "HeloPolicy", targets: ["HeloPolicy"]),
        .library(name: "MilterKit", targets: ["MilterKit"]),
        .library(name: "HeloGuard", targets: ["HeloGuard"]),
        .library(name: "HeloState", targets: ["HeloState"]),
        .library(name: "HeloStatePostgres", targets: ["HeloStatePostgres"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // Already required by postgres-nio; named here for its no-op log handler (postgres-nio
        // wants a Logger, heloguard logs through its own MailLog).
        .package(url: "https://github.com/apple/swift-log.git", from: "1.5.3"),
        // Prometheus metrics: the registry and its text exposition.
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.1.0"),
        // Already required by postgres-nio; named here for NIOHTTP1 (the /metrics endpoint runs
        // on the event loop group postgres-nio uses, no web framework).
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.65.0"),
    ],
    targets: [
        // The only code that includes <pcre2.h>: PCRE2 names its functions through macros
        // that Swift cannot import, so a small C shim exposes plain functions.
        .target(
            name: "CPCRE2",
            linkerSettings: [.linkedLibrary("pcre2-8")]
        ),
        // The only code that includes ICU headers: ICU versions its C symbol names through
        // macros (uidna_openUTS46 -> uidna_openUTS46_72), so a small C shim exposes plain
        // functions for UTS #46 names (UTF-8 HELO names) and case folding (table keys).
        .target(
            name: "CICU",
            linkerSettings: [.linkedLibrary("icuuc")]
        ),
        // Postfix's syntax primitives, one copy each (logical lines, file reading, CIDR patterns,
        // C-locale character classes, list splitting, the sanitiser): a leaf, Glibc only.
        .target(
            name: "PostfixSyntax"
        ),
        .target(
            name: "HeloPolicy",
            dependencies: ["PostfixSyntax", "CPCRE2", "CICU"]
        ),
        // Locks ThreadSanitizer can see (pthread mutexes; the standard library's Mutex it cannot).
        .target(name: "Locking"),
        // libunbound, through a module map of our own (Debian's pkg-config file for it is broken).
        .systemLibrary(name: "CUnbound"),
        // The real resolver behind the rule core's DNS restrictions: one shared libunbound
        // context with a hard deadline per lookup.
        .target(
            name: "HeloDNS",
            dependencies: ["HeloPolicy", "CUnbound", "Locking"]
        ),
        // libsqlite3, for the embedded state store.
        .systemLibrary(name: "CSQLite"),
        // Memory across connections: the penalty box, the HELO log and the stores behind them.
        .target(
            name: "HeloState",
            dependencies: ["HeloPolicy", "CSQLite", "Locking"]
        ),
        // The shared state store on PostgreSQL (postgres-nio). Kept apart so that SwiftNIO stays
        // out of the rule core and out of HeloState.
        .target(
            name: "HeloStatePostgres",
            dependencies: [
                "HeloState",
                "HeloPolicy",
                "Locking",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The only code that includes <libmilter/mfapi.h>: const-correct, non-variadic wrappers
        // around libmilter that Swift can call (see CMilter/include/CMilter.h).
        .target(
            name: "CMilter",
            path: "CMilter",
            linkerSettings: [.linkedLibrary("milter"), .linkedLibrary("pthread")]
        ),
        // The Swift face of libmilter: callbacks, contexts, replies, the runner. Knows nothing of HELO.
        .target(
            name: "MilterKit",
            dependencies: ["PostfixSyntax", "CMilter", "Locking"]
        ),
        // The application as a library: the per-connection session, logging, reload, the penalty box.
        // MilterTesting (the MTA side of the protocol): the systemd watchdog probes our own socket
        // with its client, as an MTA would.
        .target(
            name: "HeloGuard",
            dependencies: [
                "HeloPolicy", "HeloDNS", "HeloState", "HeloStatePostgres", "MilterKit", "MilterTesting",
                "Locking",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // The sanitiser for log lines and the list syntax of Postfix's main.cf.
                "PostfixSyntax",
            ]
        ),
        // Test support: the MTA side of the milter protocol.
        .target(
            name: "MilterTesting",
            dependencies: ["MilterKit"]
        ),
        .executableTarget(
            name: "heloguard",
            dependencies: [
                "PostfixSyntax",
                "HeloPolicy",
                "HeloDNS",
                "HeloGuard",
                "HeloState",
                "HeloStatePostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "PostfixSyntaxTests",
            dependencies: ["PostfixSyntax"]
        ),
        .testTarget(
            name: "HeloPolicyTests",
            dependencies: ["HeloPolicy", "PostfixSyntax"]
        ),
        .testTarget(
            name: "HeloStateTests",
            dependencies: ["HeloState", "HeloPolicy"]
        ),
        .testTarget(
            name: "HeloStatePostgresTests",
            // heloguard: the stats command is run against the test cluster.
            dependencies: ["HeloStatePostgres", "HeloState", "HeloPolicy", "HeloGuard", "heloguard"]
        ),
        .testTarget(
            name: "HeloDNSTests",
            // HeloGuard, HeloState: `heloguard replay` is run against the loopback test DNS here.
            dependencies: ["HeloDNS", "HeloPolicy", "HeloGuard", "HeloState", "Locking"]
        ),
        .testTarget(
            name: "HeloGuardCLITests",
            dependencies: ["HeloPolicy", "HeloState", "heloguard"]
        ),
        .testTarget(
            name: "MilterKitTests",
            dependencies: ["MilterKit", "CMilter"]
        ),
        .testTarget(
            name: "HeloGuardTests",
            dependencies: ["HeloGuard", "HeloPolicy", "HeloState", "MilterKit", "MilterTesting"]
        ),
        .testTarget(
            name: "MilterProtocolTests",
            dependencies: ["MilterTesting", "MilterKit", "heloguard"]
        ),
    ]
)
