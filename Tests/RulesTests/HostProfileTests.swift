import Diagnostics
import Foundation
import Rules
import TestSupport
import Testing

/// Host profiles (`Manifests/hosts/*.json`, `kvmplan probe --format json`) round-trip through
/// `HostProfile`, and a bad profile names the bad field.
@Suite("Host profiles")
struct HostProfileTests {
    static let profileNames: [String] = {
        let directory = Repo.path("Manifests/hosts")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted()
    }()

    static func text(_ name: String) throws -> String {
        try String(contentsOfFile: Repo.path("Manifests/hosts/\(name)"), encoding: .utf8)
    }

    @Test func theShippedProfilesAreThere() {
        for name in [
            "this-machine-kind.json", "linux-6.18-x86-sw-protected.json", "linux-6.16-tdx.json",
            "linux-6.11-sev-snp.json", "linux-7.1-arm64-pkvm.json",
        ] {
            #expect(Self.profileNames.contains(name), "Manifests/hosts/\(name) is missing")
        }
    }

    @Test(arguments: profileNames)
    func roundTrips(name: String) throws {
        let text = try Self.text(name)
        let profile = try HostProfile(jsonText: text)
        // Value round trip: JSON → profile → JSON → profile.
        #expect(try HostProfile(json: profile.toJSON()) == profile)
        // Byte round trip: the shipped file is in canonical form (sorted keys, pretty, final newline).
        #expect(profile.serialized() == text)
        #expect(try JSONValue.parse(text) == profile.toJSON())
    }

    @Test(arguments: profileNames)
    func profileIsConsistent(name: String) throws {
        let profile = try HostProfile(jsonText: try Self.text(name))
        #expect(profile.apiVersion == 12)
        #expect(profile.vmTypes.contains("default"))
        #expect(Set(profile.perVMType.keys).isSubset(of: Set(profile.vmTypes)))
        #expect(profile.maxMemslots == Int(profile.caps["KVM_CAP_NR_MEMSLOTS"] ?? 0))
        #expect(profile.maxVCPUs == Int(profile.caps["KVM_CAP_MAX_VCPUS"] ?? 0))
        #expect(!profile.notes.isEmpty)
        if profile.arch == "x86_64" {
            // The VM types are exactly the bits of KVM_CAP_VM_TYPES (KVM_UAPI.md §1.2).
            let names = ["default", "sw-protected", "sev", "sev-es", "sev-snp", "tdx"]
            let bitmap = profile.caps["KVM_CAP_VM_TYPES"] ?? 0
            let decoded = names.indices.filter { bitmap & (1 << UInt64($0)) != 0 }.map { names[$0] }
            #expect(decoded == profile.vmTypes)
        }
        if name.hasPrefix("linux-") {
            // Hand-written profiles trace their values to KVM_UAPI.md.
            #expect(profile.notes.contains { $0.contains("KVM_UAPI.md") })
        }
    }

    @Test func capabilityPrefersThePerVMAnswer() throws {
        let profile = try HostProfile(jsonText: try Self.text("linux-6.18-x86-sw-protected.json"))
        #expect(profile.capability("KVM_CAP_GUEST_MEMFD_FLAGS") == 3)
        #expect(profile.capability("KVM_CAP_GUEST_MEMFD_FLAGS", vmType: "sw-protected") == 1)
        #expect(profile.capability("KVM_CAP_USER_MEMORY2", vmType: "sw-protected") == 1)
        #expect(profile.capability("KVM_CAP_NO_SUCH_THING") == nil)
        #expect(profile.supportsVMType("sw-protected") && !profile.supportsVMType("tdx"))
    }

    @Test func optionalCBitIsOmittedWhenAbsent() throws {
        let profile = HostProfile(
            kernel: "6.18.0", arch: "x86_64", vmTypes: ["default"], caps: ["KVM_CAP_GUEST_MEMFD": 1],
            perVMType: [:], pageSize: 4096, cpuVendor: "GenuineIntel", physAddrBits: 46, maxMemslots: 32764,
            maxVCPUs: 1024)
        #expect(profile.toJSON()["sevCBit"] == nil)
        var amd = profile
        amd.sevCBit = 51
        #expect(amd.toJSON()["sevCBit"] == .int(51))
        #expect(try HostProfile(json: amd.toJSON()) == amd)
        #expect(amd.toJSON()[HostProfile.formatKey] == .int(1))
    }

    /// Each case breaks one field of a valid profile; the error must name it.
    struct BadField: Sendable, CustomTestStringConvertible {
        let field: String
        let edit: @Sendable (inout [String: JSONValue]) -> Void
        var testDescription: String { field }
    }

    static let badFields: [BadField] = [
        BadField(field: "kernel") { $0["kernel"] = nil },
        BadField(field: "arch") { $0["arch"] = .string("riscv64") },
        BadField(field: "apiVersion") { $0["apiVersion"] = .int(-1) },
        BadField(field: "kvmplan-host-profile") { $0["kvmplan-host-profile"] = .int(2) },
        BadField(field: "vmTypes[1]") { $0["vmTypes"] = .array([.string("default"), .int(4)]) },
        BadField(field: "caps.KVM_CAP_GUEST_MEMFD") { $0["caps"] = .object(["KVM_CAP_GUEST_MEMFD": .string("yes")]) },
        BadField(field: "caps.GUEST_MEMFD") { $0["caps"] = .object(["GUEST_MEMFD": .int(1)]) },
        BadField(field: "perVMType.default") { $0["perVMType"] = .object(["default": .array([])]) },
        BadField(field: "sevCBit") { $0["sevCBit"] = .int(99) },
        BadField(field: "notes") { $0["notes"] = .string("one string") },
        BadField(field: "capabilities") { $0["capabilities"] = .object([:]) },
    ]

    @Test(arguments: badFields)
    func errorNamesTheBadField(bad: BadField) throws {
        let good = try HostProfile(jsonText: try Self.text("linux-6.11-sev-snp.json")).toJSON()
        var object = try #require(good.objectValue)
        bad.edit(&object)
        let error = #expect(throws: HostProfile.DecodingError.self) { try HostProfile(json: .object(object)) }
        #expect(error?.field == bad.field)
        #expect(error?.description.contains("'\(bad.field)'") == true)
    }

    @Test func invalidJSONTextIsADecodingError() {
        let error = #expect(throws: HostProfile.DecodingError.self) { try HostProfile(jsonText: "{\"kernel\": ") }
        #expect(error?.description.hasPrefix("host profile: invalid JSON") == true)
    }
}
