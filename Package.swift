// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "kvmplan",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "kvmplan", targets: ["kvmplan"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // MARK: - Compiler half (builds and tests anywhere)
        .target(name: "Diagnostics"),
        // The guest-physical layout the launcher promises a guest (boot area, Linux boot addresses, firmware):
        // one home for the rules, the plan and the launcher.
        .target(name: "GuestLayout"),
        // YAML comes from libyaml's event API directly: every node's position, anchor, alias and tag is seen
        // exactly (no alias is ever expanded), and no Foundation is linked (start-up time; see README).
        .systemLibrary(name: "CLibYAML", providers: [.apt(["libyaml-dev"]), .brew(["libyaml"])]),
        .target(
            name: "Manifest", dependencies: ["Diagnostics", "CLibYAML", "GuestLayout"],
            linkerSettings: [
                .linkedLibrary(":libyaml.a", .when(platforms: [.linux])), .linkedLibrary("yaml", .when(platforms: [.macOS])),
            ]),
        .target(name: "Rules", dependencies: ["Manifest", "Diagnostics", "GuestLayout"]),
        .target(name: "Plan", dependencies: ["Diagnostics", "GuestLayout", .product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "Compiler",
            dependencies: [
                "Manifest", "Rules", "Plan", "Diagnostics", .product(name: "SystemPackage", package: "swift-system"),
            ]),

        // MARK: - Kernel half (Linux only)
        .target(name: "CKVM"),
        .target(name: "KVM", dependencies: ["CKVM", .product(name: "SystemPackage", package: "swift-system")]),
        .target(
            name: "Launcher",
            dependencies: ["Plan", "KVM", "GuestLayout", .product(name: "SystemPackage", package: "swift-system")]),

        // MARK: - CLI
        .executableTarget(
            name: "kvmplan",
            dependencies: [
                "Diagnostics", "Manifest", "Rules", "Plan", "Compiler", "KVM", "Launcher",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            // A position-dependent executable: no start-up relocation of the statically linked Swift
            // runtime (about 0.6 ms of every `kvmplan launch`; see Benchmarks/launch).
            linkerSettings: [.unsafeFlags(["-Xlinker", "-no-pie", "-Xlinker", "--no-export-dynamic"])],
            // `kvmplan --version` names the commit it was built from.
            plugins: ["GitVersion"]
        ),
        .plugin(name: "GitVersion", capability: .buildTool()),

        // MARK: - Tests
        .testTarget(name: "DiagnosticsTests", dependencies: ["Diagnostics"]),
        .testTarget(name: "ManifestTests", dependencies: ["Manifest", "Diagnostics", "TestSupport"]),
        .testTarget(name: "RulesTests", dependencies: ["Rules", "Manifest", "Compiler", "Diagnostics", "TestSupport"]),
        .testTarget(name: "PlanTests", dependencies: ["Plan", "Diagnostics", "TestSupport"], exclude: ["Golden"]),
        .testTarget(
            name: "CompilerTests", dependencies: ["Compiler", "Plan", "Rules", "Manifest", "TestSupport"], exclude: ["Golden"]),
        .testTarget(name: "KVMTests", dependencies: ["KVM", "Plan", "TestSupport"]),
        .testTarget(
            name: "LauncherTests",
            dependencies: ["Launcher", "Plan", "KVM", "Compiler", "TestSupport", .product(name: "SystemPackage", package: "swift-system")]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport"]),
        .target(name: "TestSupport", dependencies: ["Diagnostics"], path: "Tests/TestSupport"),
    ]
)
