import Compiler
import Launcher
import Plan
import TestSupport
import Testing

@testable import Launcher

struct LaunchPreviewTests {
    @Test func dryRunListsTheChecksWithTheirManifestLines() throws {
        let plan = try Samples.compile("hello-elf").plan
        let text = LaunchPreview.render(plan, payloadStatus: "the payload x.elf: ok", timeout: 2)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first == "# dry run: nothing was opened or created. `kvmplan launch` would:")
        #expect(lines.allSatisfy { $0.hasPrefix("#") })
        #expect(lines.contains("#   check the plan (validate) and the payload x.elf: ok"))
        let memfdFlags = try #require(lines.first { $0.contains("KVM_CAP_GUEST_MEMFD_FLAGS") })
        #expect(memfdFlags.contains("check KVM_CAP_GUEST_MEMFD_FLAGS bits 0x3 on a temporary KVM_X86_DEFAULT_VM VM"))
        #expect(memfdFlags.contains("(\(Repo.path("Manifests/hello-elf.yaml")):"))
        #expect(lines.contains("#   run 1 vCPU, one thread each: run.0; handlers: serial 0x3f8, exit port 0xf4, halt"))
        #expect(lines.contains("#   timeout after 2 s of running (exit 124)"))
    }

    @Test func dryRunOfAnUnsupportedPlatformSaysWhichStepCannotRun() throws {
        let plan = try Samples.compile("cca").plan
        let text = LaunchPreview.render(plan, payloadStatus: "no payload", timeout: nil)
        #expect(text.contains("but cannot execute step vcpu-init.0: KVM_ARM_VCPU_INIT is not implemented (arm64) (exit 125)"))
    }

    /// SEV-SNP and TDX plans: every step executable, the repeated launch command, and what was (not) verified.
    @Test(arguments: [
        ("tdx", "check KVM_CAP_VM_TYPES has bit 5 (KVM_X86_TDX_VM)", "execute 37 steps, kvm … tdx.finalize", "KVM_TDX_INIT_MEM_REGION", "TDX"),
        ("sev-snp", "check KVM_CAP_VM_TYPES has bit 4 (KVM_X86_SNP_VM)", "execute 30 steps, kvm … snp.launch-finish", "KVM_SEV_SNP_LAUNCH_UPDATE", "SEV-SNP"),
    ])
    func dryRunOfAConfidentialPlanExecutesEveryStep(
        _ name: String, _ vmType: String, _ execute: String, _ repeated: String, _ platform: String
    ) throws {
        let plan = try Samples.compile(name).plan
        let text = LaunchPreview.render(plan, payloadStatus: "no payload", timeout: nil)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(text.contains(vmType))
        #expect(lines.contains("#   \(execute) (a step failing: undo in reverse, exit 125)"))
        #expect(!text.contains("cannot execute"))
        #expect(lines.contains("#   repeat each \(repeated) until KVM has done its whole range (16 calls in a row without progress: exit 125)"))
        #expect(
            lines.contains(
                "#   the \(platform) launch commands are implemented against the kernel's uapi layouts and ordering rules and checked with a recording kernel double, never run on \(platform) hardware"))
        #expect(plan.steps.allSatisfy { PlanExecutor.unsupportedReason($0) == nil })
    }
}

/// `PayloadDigest` (swift-crypto underneath) as the launcher uses it: NIST vectors, and slices of payload files.
struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
    ])
    func knownVectors(_ text: String, _ hex: String) {
        #expect(PayloadDigest.sha256(Array(text.utf8)) == "sha256:" + hex)
    }

    /// A slice (a load step's part of the payload file) digests like the same bytes copied out.
    @Test func slicesDigestLikeTheirBytes() {
        var bytes: [UInt8] = []
        for length in 0..<300 {
            if !bytes.isEmpty { #expect(PayloadDigest.sha256(bytes[1...]) == Lowering.digest(Array(bytes[1...])), "length \(length)") }
            bytes.append(UInt8(truncatingIfNeeded: length &* 37 &+ 11))
        }
    }
}
