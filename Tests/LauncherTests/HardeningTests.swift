import Compiler
import KVM
import Launcher
import Plan
import TestSupport
import Testing

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
        guard case .loadPayload(let it) = plan.steps[index].operation, case let into = it.into, case let gpa = it.gpa else { return }
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

    /// A host whose KVM_CHECK_EXTENSION (or KVM_GET_API_VERSION) fails: a failed call, not a missing capability.
    struct FailingHost: HostFacts, Sendable {
        var architecture: PlanArch = .x86_64
        var failAPIVersion = false
        var failCheck = false
        var failOnVM: KVMError?

        func apiVersion() throws(KVMError) -> Int {
            if failAPIVersion { throw KVMError(operation: .ioctl(.getAPIVersion), errno: .ioError) }
            return 12
        }
        func checkExtension(_ number: UInt32) throws(KVMError) -> Int {
            if failCheck { throw KVMError(operation: .ioctl(.checkExtension), errno: .ioError) }
            return number == Capability.nrMemslots.number ? 32764 : number == Capability.guestMemfdFlags.number ? 3 : 1
        }
        func checkExtensionsOnVM(type: UInt64, _ numbers: [UInt32]) throws(KVMError) -> [UInt32: Int] {
            if let failOnVM { throw failOnVM }
            return Dictionary(uniqueKeysWithValues: numbers.map { ($0, 3) })
        }
    }

    /// Before the fix, a failing host-check ioctl was reported as "host lacks a capability" (126).
    @Test(
        "a failing KVM call during the host check is exit 125, a type KVM refuses to create is 126",
        arguments: [
            (FailingHost(failAPIVersion: true), Int32(125)), (FailingHost(failCheck: true), Int32(125)),
            (FailingHost(failOnVM: KVMError(operation: .ioctl(.checkExtension), errno: .ioError)), Int32(125)),
            (FailingHost(failOnVM: KVMError(operation: .ioctl(.createVM), errno: .invalidArgument)), Int32(126)),
        ] as [(FailingHost, Int32)])
    func hostCheckCallFailures(host: FailingHost, status: Int32) throws {
        let plan = try Samples.compile("hello-elf").plan
        let shortfalls = HostCheck.shortfalls(of: plan, on: host)
        #expect(!shortfalls.isEmpty)
        #expect(HostCheck.status(of: shortfalls) == status, "\(shortfalls)")
    }
}
