import Foundation
import Plan
import TestSupport
import Testing

/// The step-kind registries (`Operation`, `OperationKind`, the launcher's dispatch) are what
/// Scripts/generate-steps.py writes today from Scripts/steps.txt and the files of Sources/Plan/Steps: it runs into a
/// temporary directory and each output must equal the repository's copy byte for byte.
@Suite("step registry: generated files are fresh")
struct StepRegistryTests {
    static let outputs = ["Sources/Plan/Operation+Generated.swift"]

    @Test func checkedInFilesAreNotStale() throws {
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-steps-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let result = try Command.run("/usr/bin/env", ["python3", Repo.path("Scripts/generate-steps.py"), "--output", temporary])
        try #require(result.status == 0, "generate-steps.py failed: \(result.stderr)")
        for output in Self.outputs {
            let fresh = try String(contentsOfFile: temporary + "/" + output, encoding: .utf8)
            let checkedIn = try String(contentsOfFile: Repo.path(output), encoding: .utf8)
            #expect(fresh == checkedIn, "\(output) is stale: run `python3 Scripts/generate-steps.py`")
        }
    }

    /// One file per step kind: every kind's type lives in Sources/Plan/Steps/<Type>.swift, named in the registry.
    @Test func everyKindHasItsFile() throws {
        let registry = try String(contentsOfFile: Repo.path("Scripts/steps.txt"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "" }
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        #expect(registry.count == OperationKind.allCases.count)
        for type in registry {
            let file = try String(contentsOfFile: Repo.path("Sources/Plan/Steps/\(type).swift"), encoding: .utf8)
            #expect(file.contains("public struct \(type): StepKind"), "\(type).swift declares \(type)")
        }
    }

    /// A step kind the generator finds no registry line for is an error, not a silently missing case.
    @Test func unregisteredStepKindIsRefused() throws {
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-steps-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let copy = try Command.run("/bin/sh", ["-c", "mkdir -p '\(temporary)' && cp -r '\(Repo.path("Scripts"))' '\(Repo.path("Sources"))' '\(temporary)/'"])
        try #require(copy.status == 0, "copy failed: \(copy.stderr)")
        try "public struct ExtraStep: StepKind {}\n".write(toFile: temporary + "/Sources/Plan/Steps/ExtraStep.swift", atomically: true, encoding: .utf8)
        let result = try Command.run("/usr/bin/env", ["python3", temporary + "/Scripts/generate-steps.py"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("ExtraStep (ExtraStep.swift) is not listed in Scripts/steps.txt"))
    }

    /// Step kinds that share a protocol keep its specialised defaults (VMX's address steps are x86 only).
    @Test func sharedStepDefaultsApply() {
        for kind in [OperationKind.setTSSAddr, .setIdentityMapAddr] {
            #expect(kind.architectures == [.x86_64])
            #expect(kind.allowedKinds == [.vm])
        }
        for kind in OperationKind.allCases where kind.command != nil {
            #expect(kind.op == "KVM_MEMORY_ENCRYPT_OP" && kind.architectures == [.x86_64] && kind.hardwareNote != nil)
        }
        #expect(Operation.snpLaunchStart(policy: 0x30000).fdUses.map(\.field) == ["fd", "sev"])
        #expect(Operation.tdxInitVCPU(vcpu: .vcpu(0)).on == .vcpu(0))
        #expect(PlanTextRenderer.line(for: Step("tss", .setTSSAddr(address: 0xfffb_d000))) == "KVM_SET_TSS_ADDR %vm addr=0xfffbd000")
    }
}
