import Compiler
import Diagnostics
import Foundation
import Manifest
import Rules
import TestSupport
import Testing

/// `kvmplan probe`'s verdict and decoded flags, from the shipped host profiles.
@Suite("Host verdict")
struct HostVerdictTests {
    static func profile(_ name: String) throws -> HostProfile {
        let text = try String(contentsOfFile: Repo.path("Manifests/hosts/\(name).json"), encoding: .utf8)
        return try HostProfile(json: try JSONValue.parse(text))
    }

    @Test(
        "each shipped profile runs the platforms its VM types and capabilities allow",
        arguments: [
            ("linux-6.18-x86-sw-protected", "this host can run: default, sw-protected"),
            ("linux-6.16-tdx", "this host can run: default, tdx"),
            ("linux-6.11-sev-snp", "this host can run: default, sev-snp"),
            ("linux-7.1-arm64-pkvm", "this host can run: default, pkvm"),
            ("this-machine-kind", "this host can run: default"),
        ])
    func verdict(_ name: String, _ expected: String) throws {
        let entries = HostVerdict.platforms(on: try Self.profile(name))
        #expect(HostVerdict.summary(entries) == expected, "\(entries)")
        for entry in entries where !entry.runs {
            #expect(entry.problems.allSatisfy { $0.hasPrefix("host.") || $0.hasPrefix("platform.") }, "\(entry)")
        }
    }

    @Test("a host without guest_memfd cannot run private memory, whatever its VM types")
    func missingCapability() throws {
        var profile = try Self.profile("linux-6.18-x86-sw-protected")
        profile.caps["KVM_CAP_GUEST_MEMFD"] = 0
        for key in profile.perVMType.keys { profile.perVMType[key]?["KVM_CAP_GUEST_MEMFD"] = 0 }
        let entries = HostVerdict.platforms(on: profile)
        let sw = try #require(entries.first { $0.platform == .swProtected })
        #expect(!sw.runs)
        #expect(sw.problems.contains { $0.hasPrefix("host.capability") }, "\(sw.problems)")
        #expect(HostVerdict.summary(entries) == "this host can run: default")
    }

    @Test(
        "flag-valued capabilities are decoded; counts are not",
        arguments: [
            ("KVM_CAP_GUEST_MEMFD_FLAGS", 3, "MMAP|INIT_SHARED"), ("KVM_CAP_GUEST_MEMFD_FLAGS", 1, "MMAP"),
            ("KVM_CAP_GUEST_MEMFD_FLAGS", 0, "none"), ("KVM_CAP_MEMORY_ATTRIBUTES", 8, "PRIVATE"),
            ("KVM_CAP_EXIT_HYPERCALL", 4096, "KVM_HC_MAP_GPA_RANGE"), ("KVM_CAP_VM_TYPES", 33, "default|tdx"),
            ("KVM_CAP_VM_TYPES", 0x43, "default|sw-protected|0x40"),
        ] as [(String, UInt64, String)])
    func decode(_ name: String, _ value: UInt64, _ expected: String) {
        #expect(HostProfile.decode(capability: name, value: value) == expected)
    }

    @Test func countsStayNumbers() {
        #expect(HostProfile.decode(capability: "KVM_CAP_NR_MEMSLOTS", value: 32764) == nil)
    }
}
