// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "heloguard",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "heloguard", targets: ["heloguard"]),
        .library(name: "HeloPolicy", targets: ["HeloPolicy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // The only code that includes <pcre2.h>: PCRE2 names its functions through macros
        // that Swift cannot import, so a small C shim exposes plain functions.
        .target(
            name: "CPCRE2",
            linkerSettings: [.linkedLibrary("pcre2-8")]
        ),
        // libidn2, for UTF-8 HELO names (A-label conversion).
        .systemLibrary(name: "CIDN2"),
        .target(
            name: "HeloPolicy",
            dependencies: ["CPCRE2", "CIDN2"]
        ),
        .executableTarget(
            name: "heloguard",
            dependencies: [
                "HeloPolicy",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "HeloPolicyTests",
            dependencies: ["HeloPolicy"]
        ),
        .testTarget(
            name: "HeloGuardCLITests",
            dependencies: ["HeloPolicy", "heloguard"]
        ),
    ]
)
