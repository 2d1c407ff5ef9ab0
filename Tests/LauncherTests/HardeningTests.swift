import Compiler
import KVM
import Launcher
import Plan
import Testing
import TestSupport

/// Issue 15 in the launcher: what a tampered plan file could make it do.
struct LauncherHardeningTests {
    /// Before the fix, `serial + 5` and `serial + 7` trapped (SIGILL) on the guest's first port access when the
    /// plan's serial port was 0xfffb or above.
    @Test("a serial port at the top of the port space never traps the exit loop", arguments: [UInt16(0xfffb), 0xfffe, 0xffff])
    func serialPortAtTheTop(port: UInt16) {
        let vcpu = ReplayVCPU([Exits.inb(0xffff), Exits.out(0xfffa, [1]), Exits.out(port, Array("x".utf8)), Exits.out(0xf4, [3])])
        let output = CapturedOutput()
        let control = VMControl(vcpuCount: 1)
        let result = ExitLoop(port: vcpu, control: control, policy: ExitPolicy(serialPort: port), output: output).run()
        #expect(control.termination == .exitPort(status: 3, vcpu: 0))
        #expect(result.exits == 4)
        #expect(output.consoleText == "x")
        // 0xffff is the line status register only for a UART at 0xfffa; at 0xfffb+ it is another register.
        #expect(vcpu.answers.io == [[0]])
    }

    /// Before the fix, a `load` step of one byte with a wrong digest printed the digest of that byte: a plan
    /// file could read any file the launcher can open, byte by byte. Only the plan's own digest is named now.
    @Test("a load step whose digest does not match never reveals the digest of the bytes it chose", .requiresKVM)
    func loadMismatchIsNotAnOracle() throws {
        let sample = try Samples.compile("hello-long")
        let payload = try #require(sample.payload)
        var plan = sample.plan
        let index = try #require(plan.steps.firstIndex { $0.operation.kind == .loadPayload })
        guard case .loadPayload(let into, let gpa, _, _, _) = plan.steps[index].operation else { return }
        let wrong = "sha256:" + String(repeating: "0", count: 64)
        plan.steps[index].operation = .loadPayload(into: into, gpa: gpa, size: 1, fileOffset: 0, sha256: wrong)
        let output = CapturedOutput()
        // Skip validation (which refuses this plan since issue 15) to reach the step itself.
        let outcome = Launcher(options: LaunchOptions(timeout: 20, planIsValidated: true), output: output)
            .launch(plan, payload: payload)
        #expect(outcome.status == 125)
        let byteDigest = PayloadDigest.sha256([payload[0]])
        let text = output.messages.joined(separator: "\n")
        #expect(text.contains("do not match the plan's \(wrong)"), "\(text)")
        #expect(!text.contains(byteDigest), "\(text)")
        // And the validator refuses such a plan outright.
        #expect(plan.validate().contains { $0.id == "plan.payload-mismatch" })
    }
}
