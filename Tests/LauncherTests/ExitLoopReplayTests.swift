import Compiler
import KVM
import Launcher
import Plan
import TestSupport
import Testing

/// The exit loop, driven by replayed exits (ReplayVCPU) instead of /dev/kvm. The conversion flows
/// (KVM_EXIT_MEMORY_FAULT, KVM_EXIT_HYPERCALL(KVM_HC_MAP_GPA_RANGE)) cannot happen on this host's KVM: it
/// has no private-memory VM type and a guest `vmcall` hangs KVM_RUN (KVM_UAPI.md §6). These tests replay
/// them; they never claim that the flows ran on hardware.
struct ExitLoopReplayTests {
    static let MiB: UInt64 = 1 << 20

    func loop(
        _ vcpu: ReplayVCPU, control: VMControl? = nil, policy: ExitPolicy = ExitPolicy(),
        sharing: SharingHandler? = nil, output: CapturedOutput, trace: Bool = false
    ) -> (ExitLoop, VMControl) {
        let control = control ?? VMControl(vcpuCount: 1)
        return (ExitLoop(port: vcpu, control: control, policy: policy, sharing: sharing, output: output, trace: trace), control)
    }

    // MARK: - Guest ABI

    @Test func serialLineStatusAndExitPort() {
        let vcpu = ReplayVCPU([
            Exits.inb(0x3fd), Exits.out(0x3f8, Array("hi".utf8)), Exits.out(0x3f9, [0]), Exits.inb(0x3f8),
            Exits.out(0xf4, [7]),
        ])
        let output = CapturedOutput()
        let (exitLoop, control) = loop(vcpu, output: output)
        let result = exitLoop.run()
        #expect(control.termination == .exitPort(status: 7, vcpu: 0))
        #expect(control.termination?.status == 7)
        #expect(result == VCPUResult(exits: 5, ending: "exit port 0xf4 ← 7"))
        #expect(output.consoleText == "hi")
        #expect(vcpu.answers.io == [[0x60], [0]])
        #expect(output.messages.isEmpty)
    }

    @Test func unknownPortsAreReportedAndReadZero() {
        let vcpu = ReplayVCPU([Exits.out(0x80, [1]), Exits.inb(0x71), Exits.hlt])
        let output = CapturedOutput()
        let (exitLoop, control) = loop(vcpu, output: output)
        _ = exitLoop.run()
        #expect(control.termination == .allHalted)
        #expect(output.messages == ["kvmplan: vcpu 0: out to port 0x80 ignored"])
        #expect(vcpu.answers.io == [[0]])
    }

    @Test func mmioWritesAreReportedAndReadsReturnZero() {
        let vcpu = ReplayVCPU([
            .exit(.mmio(MMIOExit(physAddr: 0xfe00_0000, data: [0xef, 0xbe, 0xad, 0xde], isWrite: true))),
            .exit(.mmio(MMIOExit(physAddr: 0xfe00_0008, data: [0, 0], isWrite: false))),
            Exits.hlt,
        ])
        let output = CapturedOutput()
        let (exitLoop, _) = loop(vcpu, output: output)
        _ = exitLoop.run()
        #expect(output.messages == ["mmio write 0xfe000000 4 bytes: efbeadde", "mmio read 0xfe000008 2 bytes"])
        #expect(vcpu.answers.mmio == [[0, 0]])
    }

    /// The policy made from a plan knows its MMIO regions: accesses inside them are reported as before, an access
    /// outside every one (unmapped guest memory), or a read of a read-only slot's range (which never exits for
    /// reads), is named as such. The mmio sample's own plan gives the regions.
    @Test func mmioOutsideThePlansRegionsIsNamed() throws {
        let sample = try Samples.compile("mmio")
        let policy = ExitPolicy(handlers: sample.plan.handlers)
        let regions = try #require(policy.mmioRegions)
        #expect(
            regions.map(\.name).sorted()
                == sample.plan.handlers.compactMap {
                    if case .mmio(let region, _, _) = $0.kind { return region }
                    return nil
                }.sorted())
        let hole = try #require(regions.first { !$0.readonly })
        let unmapped = try #require(
            [UInt64(0xdead_0000), 0x7_0000_0000].first { gpa in
                !regions.contains { $0.range.contains(GPARange(gpa: gpa, size: 1)) }
                    && !sample.plan.steps.contains { $0.operation.memslot.map { gpa >= $0.gpa && gpa - $0.gpa < $0.size } ?? false }
            })
        let vcpu = ReplayVCPU([
            .exit(.mmio(MMIOExit(physAddr: hole.range.gpa, data: [1], isWrite: true))),
            .exit(.mmio(MMIOExit(physAddr: unmapped, data: [0, 0, 0, 0], isWrite: false))),
            Exits.hlt,
        ])
        let output = CapturedOutput()
        let (exitLoop, _) = loop(vcpu, policy: policy, output: output)
        _ = exitLoop.run()
        #expect(
            output.messages == [
                "mmio write 0x\(String(hole.range.gpa, radix: 16)) 1 bytes: 01",
                "mmio read 0x\(String(unmapped, radix: 16)) 4 bytes (outside the plan's MMIO regions: unmapped guest memory)",
            ])
        #expect(vcpu.answers.mmio == [[0, 0, 0, 0]])
    }

    @Test func haltEndsTheVMOnlyWhenEveryVCPUHalted() {
        let control = VMControl(vcpuCount: 2)
        let output = CapturedOutput()
        _ = loop(ReplayVCPU(index: 0, [Exits.hlt]), control: control, output: output).0.run()
        #expect(control.termination == nil)
        _ = loop(ReplayVCPU(index: 1, [Exits.hlt]), control: control, output: output).0.run()
        #expect(control.termination == .allHalted)
        #expect(control.termination?.status == 0)
    }

    // MARK: - Deaths: 125 with the decoded reason and a register dump

    @Test(arguments: [
        (VCPUExit.shutdown, "kvmplan: vcpu 0: KVM_EXIT_SHUTDOWN: the guest shut down (triple fault)"),
        (
            .internalError(InternalErrorExit(suberror: 1, data: [0x0f0b])),
            "kvmplan: vcpu 0: KVM_EXIT_INTERNAL_ERROR: suberror 1 (KVM_INTERNAL_ERROR_EMULATION: instruction emulation failed), data 0xf0b"
        ),
        (
            .failEntry(FailEntryExit(hardwareEntryFailureReason: 0x21, cpu: 3)),
            "kvmplan: vcpu 0: KVM_EXIT_FAIL_ENTRY: hardware entry failure reason 0x21 on host cpu 3"
        ),
        (.systemEvent(SystemEventExit(type: 1)), "kvmplan: vcpu 0: KVM_EXIT_SYSTEM_EVENT: SHUTDOWN"),
        (.other(ExitReason(rawValue: 16)), "kvmplan: vcpu 0: unexpected exit KVM_EXIT_NMI (16)"),
    ])
    func deathsAre125WithARegisterDump(_ exit: VCPUExit, _ message: String) {
        let output = CapturedOutput()
        let (exitLoop, control) = loop(ReplayVCPU([.exit(exit)]), output: output)
        _ = exitLoop.run()
        #expect(control.termination?.status == 125)
        #expect(output.messages == [message, "  rip 0000000000100000 rsp 0000000000000000 rflags 00000002"])
    }

    @Test func aFailingKVMRunIs125() {
        let output = CapturedOutput()
        let (exitLoop, control) = loop(ReplayVCPU([.fail(.badAddress)]), output: output)
        let result = exitLoop.run()
        #expect(control.termination?.status == 125)
        #expect(result.ending == "KVM_RUN failed")
        #expect(output.messages == ["kvmplan: vcpu 0: KVM_RUN failed: EFAULT (Bad address)"])
    }

    // MARK: - Conversions (replayed: this host cannot produce these exits)

    /// A TDX-like layout: 64 MiB `ram` private at start, 4 MiB `swiotlb` shared, on-share punch-hole,
    /// on-unshare discard.
    func sharing(_ conversions: RecordingConversions) -> SharingHandler {
        SharingHandler(
            engine: SharingEngine(
                regions: [
                    .init(name: "ram", gpa: 0, size: 64 * Self.MiB, initiallyPrivate: true),
                    .init(name: "swiotlb", gpa: 64 * Self.MiB, size: 4 * Self.MiB, initiallyPrivate: false),
                ], onShare: .punchHole, onUnshare: .discard),
            conversions: conversions)
    }

    @Test func mapGPARangeHypercallsConvertAndAnswer() {
        let conversions = RecordingConversions()
        let vcpu = ReplayVCPU([
            // Share 2 pages of ram, then take them back, then ask for a range outside every convertible region.
            Exits.mapGPARange(gpa: 0x10_0000, pages: 2, encrypted: false),
            Exits.mapGPARange(gpa: 0x10_0000, pages: 2, encrypted: true),
            Exits.mapGPARange(gpa: 0x1_0000_0000, pages: 1, encrypted: false),
            Exits.hlt,
        ])
        let output = CapturedOutput()
        let policy = ExitPolicy(mapGPARange: true, memoryFault: true)
        let (exitLoop, control) = loop(vcpu, policy: policy, sharing: sharing(conversions), output: output, trace: true)
        _ = exitLoop.run()

        #expect(control.termination == .allHalted)
        #expect(vcpu.answers.hypercallReturns == [0, 0, UInt64(bitPattern: -22)])
        #expect(
            conversions.calls == [
                "KVM_SET_MEMORY_ATTRIBUTES gpa=0x100000 size=0x2000 0",
                "fallocate PUNCH_HOLE ram offset=0x100000 size=0x2000",
                "KVM_SET_MEMORY_ATTRIBUTES gpa=0x100000 size=0x2000 PRIVATE",
                "madvise ram offset=0x100000 size=0x2000",
            ])
        #expect(
            output.messages.last
                == "kvmplan: vcpu 0: refused KVM_HC_MAP_GPA_RANGE gpa=0x100000000 pages=1 attributes=0x0: 0x100000000 is outside sharing.convertible (ret -22)")
        // --trace shows the handler's ioctls, indented, in the plan's syntax.
        #expect(
            output.messages.first
                == "  KVM_SET_MEMORY_ATTRIBUTES %vm gpa=0x100000 size=8KiB attributes=0 = 0  # vcpu 0: KVM_HC_MAP_GPA_RANGE gpa=0x100000 pages=2 attributes=0x0")
    }

    @Test func memoryFaultsConvertThePageAndResume() {
        let conversions = RecordingConversions()
        let vcpu = ReplayVCPU([
            Exits.fault(gpa: 64 * Self.MiB, size: 4096, private: true),  // swiotlb page accessed as private
            Exits.fault(gpa: 0x2000, size: 4096, private: false),  // ram page accessed as shared
            Exits.out(0xf4, [0]),
        ])
        let output = CapturedOutput()
        let (exitLoop, control) = loop(vcpu, policy: ExitPolicy(memoryFault: true), sharing: sharing(conversions), output: output)
        _ = exitLoop.run()
        #expect(control.termination == .exitPort(status: 0, vcpu: 0))
        #expect(
            conversions.calls == [
                "KVM_SET_MEMORY_ATTRIBUTES gpa=0x4000000 size=0x1000 PRIVATE",
                "madvise swiotlb offset=0x0 size=0x1000",
                "KVM_SET_MEMORY_ATTRIBUTES gpa=0x2000 size=0x1000 0",
                "fallocate PUNCH_HOLE ram offset=0x2000 size=0x1000",
            ])
        #expect(output.messages.isEmpty)
    }

    @Test func aMemoryFaultOutsideTheConvertibleRegionsIsFatal() {
        let output = CapturedOutput()
        let (exitLoop, control) = loop(
            ReplayVCPU([Exits.fault(gpa: 0x1_0000_0000, size: 4096, private: true)]), policy: ExitPolicy(memoryFault: true),
            sharing: sharing(RecordingConversions()), output: output)
        _ = exitLoop.run()
        #expect(control.termination?.status == 125)
        #expect(
            output.messages.first
                == "kvmplan: vcpu 0: KVM_EXIT_MEMORY_FAULT gpa=0x100000000 size=0x1000 flags=0x8 (private access): guest made a private access at gpa 0x100000000 size 0x1000 flags 0x8 that cannot be converted: 0x100000000 is outside sharing.convertible")
    }

    /// The lab's defect: a fault whose range already has the requested state was resumed forever (75,000
    /// exits in 5 s on the lab kernel). Now the first such exit ends the launch with its gpa, size and flags.
    @Test func aFaultForTheCurrentStateEndsTheLaunchAtOnce() {
        let output = CapturedOutput()
        let repeated = [ReplayVCPU.Step](repeating: Exits.fault(gpa: 0x3000, size: 4096, private: true), count: 50)
        let (exitLoop, control) = loop(
            ReplayVCPU(repeated + [Exits.out(0xf4, [0])]), policy: ExitPolicy(memoryFault: true),
            sharing: sharing(RecordingConversions()), output: output)
        let result = exitLoop.run()
        #expect(result.exits == 1)
        #expect(control.termination?.status == 125)
        #expect(
            output.messages.first
                == "kvmplan: vcpu 0: KVM_EXIT_MEMORY_FAULT gpa=0x3000 size=0x1000 flags=0x8 (private access): memory fault at gpa 0x3000 size 0x1000 flags 0x8: the range is already private, so KVM cannot serve it and converting cannot help")
    }

    /// KVM_RUN failing with EHWPOISON is never recoverable, whatever the handlers.
    @Test func aPoisonedPageIsFatal() {
        let output = CapturedOutput()
        let conversions = RecordingConversions()
        let poisoned = ReplayVCPU.Step.exit(.memoryFault(MemoryFaultExit(flags: 0, gpa: 64 * Self.MiB, size: 4096, hardwarePoison: true)))
        let (exitLoop, control) = loop(
            ReplayVCPU([poisoned, Exits.out(0xf4, [0])]), policy: ExitPolicy(memoryFault: true), sharing: sharing(conversions),
            output: output)
        _ = exitLoop.run()
        #expect(control.termination?.status == 125)
        #expect(conversions.calls.isEmpty)
        #expect(output.messages.first?.contains("EHWPOISON") == true)
    }

    @Test func aFailedConversionIoctlIsFatal() {
        let output = CapturedOutput()
        let (exitLoop, control) = loop(
            ReplayVCPU([Exits.mapGPARange(gpa: 0, pages: 1, encrypted: false)]), policy: ExitPolicy(mapGPARange: true),
            sharing: sharing(RecordingConversions(failing: "KVM_SET_MEMORY_ATTRIBUTES")), output: output)
        _ = exitLoop.run()
        #expect(control.termination?.status == 125)
        #expect(output.messages.first?.contains("KVM_SET_MEMORY_ATTRIBUTES %vm gpa=0x0 size=4KiB attributes=0 failed: KVM_SET_MEMORY_ATTRIBUTES failed: EINVAL") == true)
    }

    @Test func conversionExitsWithoutAHandlerAreFatal() {
        let output = CapturedOutput()
        let (first, control) = loop(ReplayVCPU([Exits.fault(gpa: 0, size: 4096, private: true)]), output: output)
        _ = first.run()
        #expect(control.termination?.status == 125)
        #expect(output.messages.first == "kvmplan: vcpu 0: KVM_EXIT_MEMORY_FAULT gpa=0x0 size=0x1000 flags=0x8 (private access): the plan has no memory-fault handler, so nothing can make this access succeed")

        let output2 = CapturedOutput()
        let (second, control2) = loop(
            ReplayVCPU([.exit(.hypercall(HypercallExit(nr: 9, args: [0, 0, 0, 0, 0, 0])))]), output: output2)
        _ = second.run()
        #expect(control2.termination?.status == 125)
        #expect(output2.messages.first == "kvmplan: vcpu 0: unexpected KVM_EXIT_HYPERCALL nr 9 (the plan has no handler for it)")
    }

    /// The TDX sample's plan wires its handlers into an engine with the manifest's regions and initial states,
    /// and a TDX guest's MapGPA sequence (2 MiB chunks, KVM_UAPI.md §2.7) converts through it.
    @Test func theTDXSamplePlanDrivesTheEngine() throws {
        let sample = try Samples.compile("tdx")
        let engine = try #require(Launcher.sharingEngine(sample.plan))
        #expect(engine.regions.map(\.name) == ["ram", "swiotlb"])
        #expect(engine.isPrivate(0) == true)
        #expect(engine.isPrivate(0x4000_0000) == false)

        let conversions = RecordingConversions()
        let handler = SharingHandler(engine: engine, conversions: conversions)
        let vcpu = ReplayVCPU([
            Exits.mapGPARange(gpa: 0x20_0000, pages: 512, encrypted: false, pageSize: 1),
            Exits.mapGPARange(gpa: 0x40_0000, pages: 512, encrypted: false, pageSize: 1),
            Exits.mapGPARange(gpa: 0x20_0000, pages: 1024, encrypted: true, pageSize: 1),
            Exits.hlt,
        ])
        let output = CapturedOutput()
        let (exitLoop, _) = loop(vcpu, policy: ExitPolicy(handlers: sample.plan.handlers), sharing: handler, output: output)
        _ = exitLoop.run()
        #expect(vcpu.answers.hypercallReturns == [0, 0, 0])
        #expect(
            conversions.calls == [
                "KVM_SET_MEMORY_ATTRIBUTES gpa=0x200000 size=0x200000 0", "fallocate PUNCH_HOLE ram offset=0x200000 size=0x200000",
                "KVM_SET_MEMORY_ATTRIBUTES gpa=0x400000 size=0x200000 0", "fallocate PUNCH_HOLE ram offset=0x400000 size=0x200000",
                "KVM_SET_MEMORY_ATTRIBUTES gpa=0x200000 size=0x400000 PRIVATE", "madvise ram offset=0x200000 size=0x400000",
            ])
    }

    // MARK: - The run phase: threads, stop, timeout

    @Test func theExitPortStopsTheOtherVCPUs() {
        let spinner = ReplayVCPU(index: 1, [.spin])
        let writer = ReplayVCPU(index: 0, [Exits.out(0x3f8, Array("x".utf8)), Exits.out(0xf4, [3])])
        let output = CapturedOutput()
        let (termination, results) = RunPhase(policy: ExitPolicy(), output: output).run([writer, spinner])
        #expect(termination == .exitPort(status: 3, vcpu: 0))
        #expect(results[0]?.ending == "exit port 0xf4 ← 3")
        #expect(results[1]?.ending == "stopped")
        #expect(spinner.answers.stopRequested)
        #expect(output.consoleText == "x")
    }

    @Test func everyVCPUHaltingIsExitZero() {
        let (termination, results) = RunPhase(policy: ExitPolicy(), output: CapturedOutput())
            .run((0..<4).map { ReplayVCPU(index: $0, [Exits.hlt]) })
        #expect(termination == .allHalted)
        #expect(results.count == 4)
    }

    @Test func spinningVCPUsTimeOut() {
        let (termination, results) = RunPhase(policy: ExitPolicy(), output: CapturedOutput(), timeout: 0.1)
            .run([ReplayVCPU(index: 0, [.spin]), ReplayVCPU(index: 1, [.spin])])
        #expect(termination == .timeout)
        #expect(termination.status == 124)
        #expect(results.values.allSatisfy { $0.ending == "stopped" })
    }

    @Test func theFirstVCPUHaltingEarlyWaitsForTheOthers() {
        // vCPU 0 runs on the calling thread and halts first; vCPU 1 spins until the timeout ends the VM.
        let (termination, results) = RunPhase(policy: ExitPolicy(), output: CapturedOutput(), timeout: 0.1)
            .run([ReplayVCPU(index: 0, [Exits.hlt]), ReplayVCPU(index: 1, [.spin])])
        #expect(termination == .timeout)
        #expect(results[0]?.ending == "KVM_EXIT_HLT")
        #expect(results[1]?.ending == "stopped")
    }

    @Test func sigintSeenByALoopEndsTheVMWith130() {
        let control = VMControl(vcpuCount: 1)
        let loop = ExitLoop(
            port: ReplayVCPU([.spin]), control: control, policy: ExitPolicy(), output: CapturedOutput(),
            interrupted: { true })
        #expect(loop.run().ending == "stopped")
        #expect(control.termination == .interrupted)
        #expect(control.termination?.status == 130)
    }
}
