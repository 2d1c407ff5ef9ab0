import Compiler
import Diagnostics
import KVM
import Launcher
import Manifest
import Plan
import Rules
import TestSupport
import Testing

/// `kvmplan check --host PROFILE` and `kvmplan launch` judge a plan's requirements with one checker
/// (`RequirementsCheck`): the same host, as a profile or as live facts, gives the same shortfalls.
struct OneRequirementsCheckerTests {
    /// A host with the same answers twice: as the launcher's `HostFacts` and as a `check --host` profile.
    struct Host {
        var vmTypes: [String] = ["default"]
        var system: [Capability: UInt64]
        var perVM: [Capability: UInt64] = [:]

        var facts: HostCheckTests.FakeHost {
            var bitmap = 0
            for name in vmTypes {
                if let bit = Platform(rawValue: name).flatMap({ PlatformTraits.of($0).vmTypeBit }) { bitmap |= 1 << bit }
            }
            var system = Dictionary(uniqueKeysWithValues: self.system.map { ($0.key.number, Int($0.value)) })
            system[Capability.vmTypes.number] = bitmap
            // A VM answers what /dev/kvm answers unless its type changes it (as a profile falls back to `caps`).
            let vm = self.system.merging(perVM) { $1 }
            return HostCheckTests.FakeHost(system: system, perVM: Dictionary(uniqueKeysWithValues: vm.map { ($0.key.number, Int($0.value)) }))
        }

        func profile(platform: String) -> HostProfile {
            HostProfile(
                kernel: "same-host", arch: "x86_64", vmTypes: vmTypes,
                caps: Dictionary(uniqueKeysWithValues: system.map { ($0.key.name, $0.value) }),
                perVMType: perVM.isEmpty ? [:] : [platform: Dictionary(uniqueKeysWithValues: perVM.map { ($0.key.name, $0.value) })],
                pageSize: 4096, cpuVendor: "AuthenticAMD", physAddrBits: 48, sevCBit: nil,
                maxMemslots: Int(system[.nrMemslots] ?? 0), maxVCPUs: Int(system[.maxVCPUs] ?? 0))
        }
    }

    static let full: [Capability: UInt64] = [
        .nrMemslots: 32764, .maxVCPUs: 1024, .userMemory2: 1, .guestMemfd: 1, .readonlyMem: 1, .exitHypercall: 1 << 12,
        .guestMemfdFlags: 3, .memoryAttributes: 8,
    ]

    static func without(_ caps: Capability...) -> [Capability: UInt64] { full.filter { !caps.contains($0.key) } }

    @Test(
        arguments: [
            ("memtest", Host(system: without(.userMemory2, .guestMemfd))),
            ("hello-elf", Host(system: full, perVM: [.guestMemfdFlags: 1])),
            ("mmio", Host(system: without(.readonlyMem))),
            ("sw-protected", Host(vmTypes: ["default", "sw-protected"], system: full, perVM: [.memoryAttributes: 0])),
            ("sw-protected", Host(vmTypes: ["default", "sw-protected"], system: without(.exitHypercall))),
            ("hello-long", Host(system: full)),
        ] as [(String, Host)])
    func aProfileAndTheLiveHostGiveTheSameShortfalls(_ name: String, _ host: Host) throws {
        let sample = try Samples.compile(name)
        let live = HostCheck.shortfalls(of: sample.plan, on: host.facts)
        let url = Repo.path("Manifests/\(name).yaml")
        let (_, diagnostics) = CompilerPipeline(host: host.profile(platform: sample.plan.platform.rawValue))
            .check(bytes: Array(try String(contentsOfFile: url, encoding: .utf8).utf8), file: url)
        let profile = diagnostics.all.filter { $0.id.rawValue.hasPrefix("host.") }
        #expect(profile.map(\.message) == live.map(\.message))
        #expect(profile.map(\.location.description) == live.map { $0.source ?? "" })
        if name != "hello-long" { #expect(!live.isEmpty) }
    }

    /// The probe reads what a profile holds (both lists come from the uapi table's `probe` marks); a capability it
    /// reads reads as 0 when a profile lacks it.
    @Test func theProbedCapabilitiesAreTheProfilesKnownOnes() {
        #expect(Set(HostInfo.systemCapabilities.map(\.name)).isSubset(of: HostProfile.probedCapabilities))
        #expect(HostProfile.probedCapabilities.contains("KVM_CAP_GUEST_MEMFD"))
        #expect(Set(HostInfo.perVMCapabilities.map(\.name)).isSubset(of: HostProfile.probedCapabilities))
    }
}
