import Diagnostics
import Manifest
import Rules

/// Which platforms a host can run: for each platform of the host's architecture, a minimal guest (one
/// 2 MiB region, private or convertible where the platform has private memory) is checked against the
/// profile with the same host rules `check --host` uses. A platform runs when that guest has no error.
public enum HostVerdict {
    public struct Entry: Sendable, Hashable {
        public var platform: Platform
        /// The host.* (or limit) errors the minimal guest got; empty when the platform runs here.
        public var problems: [String]
        public var runs: Bool { problems.isEmpty }
    }

    public static func platforms(on host: HostProfile) -> [Entry] {
        guard let arch = Architecture(rawValue: host.arch) else { return [] }
        let platforms: [Platform] = arch == .x86_64 ? [.default, .swProtected, .sevSnp, .tdx] : [.default, .pkvm, .cca]
        return platforms.map { platform in
            let (_, diagnostics) = CompilerPipeline(host: host).check(
                bytes: Array(minimalManifest(platform, arch: arch, host: host).utf8), file: "<\(platform.rawValue)>")
            let problems = diagnostics.filter { $0.severity == .error }.map { "\($0.id): \($0.message)" }
            return Entry(platform: platform, problems: problems)
        }
    }

    /// One line: `this host can run: default, sw-protected` (or `nothing`).
    public static func summary(_ entries: [Entry]) -> String {
        let runs = entries.filter(\.runs).map(\.platform.rawValue)
        return "this host can run: " + (runs.isEmpty ? "nothing" : runs.joined(separator: ", "))
    }

    static func minimalManifest(_ platform: Platform, arch: Architecture, host: HostProfile) -> String {
        let traits = PlatformTraits.of(platform, on: arch)
        var region = "{name: ram, base: 0x0, size: 2MiB"
        if traits.hasPrivateMemory { region += platform == .pkvm ? ", access: private" : ", access: convertible" }
        region += "}"
        var text = "kvmplan: 1\nname: probe\narch: \(arch.rawValue)\nplatform: \(platform.rawValue)\n"
        // The widest address the platform allows within what the host's CPU has (TDX: 48 or 52 only).
        if arch == .x86_64, host.physAddrBits > 0 {
            let width =
                traits.discreteGPABits.map { widths in widths.filter { $0 <= host.physAddrBits }.max() ?? widths[0] }
                ?? min(traits.defaultGPABits, host.physAddrBits)
            text += "gpa-bits: \(width)\n"
        }
        text += "memory:\n  regions:\n    - \(region)\n"
        return text
    }
}
