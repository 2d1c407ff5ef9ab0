import Compiler
import Foundation
import KVM
import Launcher
import Plan
import Rules
import TestSupport
import Testing

/// A Linux plan executed on this host's real /dev/kvm: every new step (VMX pages, IRQ chip, PIT, kernel and
/// initrd loads, zero page, MP table, boot mode linux) runs through the KVM module. The "kernel" is a synthetic
/// bzImage whose 64-bit entry writes 42 to the exit port: this host's KVM cannot boot a real Linux (LAB.md),
/// the lab does that (Tests/Lab, linux.boot-to-init).
@Suite(.serialized, .requiresKVM)
struct LinuxLaunchTests {
    struct Files: FileAccess {
        let files: [String: [UInt8]]
        func payload(at path: String) -> PayloadFile? {
            files[path].map { PayloadFile(kind: .regular, size: UInt64($0.count), bytes: $0) }
        }
    }

    static let manifest = """
        kvmplan: 1
        name: linux-stub
        arch: x86_64
        platform: default
        vcpus: 2
        memory:
          regions:
            - {name: ram, base: 0x0, size: 32MiB}
        payload:
          format: linux
          path: bzImage
          initrd: initrd.cpio
          cmdline: "console=ttyS0 reboot=k"
        """

    /// A bzImage whose protected-mode code at +0x200 (the 64-bit entry) checks RSI = `zeroPage` and the zero
    /// page's `cmd_line_ptr` = 0x9000, then writes 42 (or 1 when either is wrong) to the exit port. Assembled
    /// with GNU as from:
    ///     cmp $ZP, %rsi; jne fail; cmpl $0x9000, 0x228(%rsi); jne fail; mov $42, %al; out %al, $0xf4
    ///     1: hlt; jmp 1b; fail: mov $1, %al; out %al, $0xf4; hlt
    static func stubKernel(zeroPage: UInt32 = 0x8000) -> [UInt8] {
        var image = BzImageBuilder(initSize: 0x40_0000, kernelSize: 4096).bytes
        let zp = (0..<4).map { UInt8(truncatingIfNeeded: zeroPage >> (8 * UInt32($0))) }
        let code: [UInt8] =
            [0x48, 0x81, 0xfe] + zp + [0x75, 0x13]
            + [0x81, 0xbe, 0x28, 0x02, 0x00, 0x00, 0x00, 0x90, 0x00, 0x00, 0x75, 0x07]
            + [0xb0, 0x2a, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd]
            + [0xb0, 0x01, 0xe6, 0xf4, 0xf4]
        let entry = 1024 + 0x200
        image.replaceSubrange(entry..<entry + code.count, with: code)
        return image
    }

    func launch(_ kernel: [UInt8], trace: Bool = false) throws -> (LaunchOutcome, CapturedOutput) {
        let files = Files(files: ["bzImage": kernel, "initrd.cpio": [UInt8](repeating: 0x30, count: 3000)])
        let (checked, diagnostics) = CompilerPipeline(files: files).check(bytes: Array(Self.manifest.utf8), file: "linux.yaml")
        let context = try #require(checked, "\(diagnostics.all)")
        let output = CapturedOutput()
        let outcome = Launcher(options: LaunchOptions(timeout: 20, trace: trace), output: output)
            .launch(Lowering().lower(context), payload: files.files["bzImage"], initrd: files.files["initrd.cpio"])
        return (outcome, output)
    }

    @Test("the stub tells a wrong zero-page address apart (status 1), so its 42 means something")
    func stubDiscriminates() throws {
        let (outcome, _) = try launch(Self.stubKernel(zeroPage: 0x7000))
        #expect(outcome.status == 1)
    }

    @Test("the steps of a Linux plan execute on /dev/kvm and the guest is entered as the boot protocol says")
    func stubBoots() throws {
        let (outcome, output) = try launch(Self.stubKernel(), trace: true)
        #expect(outcome.status == 42, "\(output.messages.joined(separator: "\n"))")
        #expect(outcome.termination == .exitPort(status: 42, vcpu: 0))
        for id in ["irqchip", "pit", "tss-addr", "identity-map-addr", "load.kernel", "load.initrd", "boot-params", "mp-table", "boot.0"] {
            #expect(outcome.executedStepIDs.contains(id), "\(id)")
        }
        #expect(output.messages.contains { $0.contains("mp-table") && $0.contains("2 processors") })
    }

    @Test("an initrd that is not the plan's is refused before anything is created")
    func wrongInitrd() throws {
        let files = Files(files: ["bzImage": Self.stubKernel(), "initrd.cpio": [1, 2, 3]])
        let (checked, _) = CompilerPipeline(files: files).check(bytes: Array(Self.manifest.utf8), file: "linux.yaml")
        let plan = Lowering().lower(try #require(checked))
        let output = CapturedOutput()
        let outcome = Launcher(output: output).launch(plan, payload: files.files["bzImage"], initrd: [9, 9, 9])
        #expect(outcome.status == 125)
        #expect(output.messages.contains { $0.contains("initrd.cpio has sha256:") && $0.contains("refusing to load it") })
        #expect(outcome.trace.isEmpty)
    }
}
