// swift-tools-version: 6.1
// libFuzzer targets for heloguard's parsers: a package of its own so that the normal build and
// `swift test` of the main package never see it. Built and run by scripts/fuzz with
// `swift build --sanitize=fuzzer --sanitize=address` (see Fuzz/README.md).
import PackageDescription

/// One executable per parser; each defines `LLVMFuzzerTestOneInput` and gets libFuzzer's `main`.
let fuzzTargets = [
    "FuzzHeloName", "FuzzMainCf", "FuzzPostmap", "FuzzRegexp", "FuzzPCRE", "FuzzCIDR",
    "FuzzInline", "FuzzMyNetworks", "FuzzSMTPReply", "FuzzMilterReply",
]

let package = Package(
    name: "heloguard-fuzz",
    dependencies: [
        .package(name: "heloguard", path: ".."),
    ],
    targets: [
        // Input splitting and the property checks shared by the targets.
        .target(
            name: "FuzzSupport",
            dependencies: [
                .product(name: "HeloPolicy", package: "heloguard"),
                .product(name: "MilterKit", package: "heloguard"),
            ]
        ),
    ] + fuzzTargets.map { name in
        .executableTarget(
            name: name,
            dependencies: [
                "FuzzSupport",
                .product(name: "HeloPolicy", package: "heloguard"),
                .product(name: "MilterKit", package: "heloguard"),
            ],
            // The file defines no top-level code: libFuzzer supplies main().
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        )
    }
)
