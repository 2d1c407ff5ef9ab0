import Compiler
import KVM
import Plan
import SystemPackage
import TestSupport
import Testing

@testable import Launcher

/// The executor against the mocking driver's fake kernel (STYLE.md rule 10): no /dev/kvm is opened, so these
/// tests run on any Linux host. Each records the system calls a plan's steps make and compares them with the
/// plan, or forces an errno on one call.
@Suite struct MockedKernelTests {
    static let samples = ["memtest", "hello-long", "hello-real", "hello-protected", "smp", "memfd", "sev-snp", "tdx"]

    static func sample(_ name: String) throws -> CompiledSample {
        name == "memfd" ? try LaunchTests.memfdSample() : try Samples.compile(name)
    }

    static func executor(_ sample: CompiledSample, output: any LaunchOutput = CapturedOutput()) -> PlanExecutor {
        PlanExecutor(plan: sample.plan, payload: sample.payload, output: output, trace: false, interrupted: { false })
    }

    /// Runs the step phase of a launch (every step but KVM_RUN), then the teardown, under `driver`.
    static func launchSteps(_ executor: PlanExecutor, _ driver: MockingDriver) -> StepFailure? {
        driver.withInstalled { () -> StepFailure? in
            do throws(StepFailure) {
                _ = try executor.executeSteps()
            } catch {
                return error
            }
            executor.undoAll()
            return nil
        }
    }

    // MARK: - Trace equals plan

    /// A call as the plan spells it: a `KVM_MEMORY_ENCRYPT_OP` by its sub-command (`KVM_SEV_INIT2`), any other
    /// call by its operation.
    static func spelling(_ call: MockedCall) -> String { call.command ?? call.operation }

    /// The calls each step makes, as (operation, fd) with fds of earlier calls' results: the plan's step
    /// itself, plus what its KVM-module wrapper adds (the kvm_run mapping with the vCPU, the supported CPUID
    /// before the first KVM_SET_CPUID2 or KVM_TDX_INIT_VM, the register reads of the boot state, the
    /// KVM_TDX_GET_CPUID of a TDX vCPU's KVM_SET_CPUID2). With the fake kernel, LAUNCH_UPDATE and
    /// INIT_MEM_REGION take one call each.
    static func expectedCalls(_ plan: Plan, trace: [MockedCall]) -> [(step: String, operation: String, fd: CInt)] {
        var fds: [String: CInt] = [:]
        var position = 0
        var cpuidAsked = false
        var expected: [(String, String, CInt)] = []
        for step in plan.steps {
            let op = step.operation
            let on = op.on.flatMap { fds[$0.description] } ?? -1
            let kvm = fds[FdRef.kvm.description] ?? -1
            var calls: [(String, CInt)]
            switch op {
            case .openDevice(let it): calls = [("open /dev/\(it.path.rawValue.split(separator: "/").last ?? "")", -1)]
            case .run, .mmapRun, .loadPayload, .loadInitrd, .linuxBootParams, .linuxMPTable: calls = []
            case .createVCPU:
                let vcpu = position < trace.count ? CInt(trace[position].result) : -1
                calls = [("KVM_CREATE_VCPU", on), ("KVM_GET_VCPU_MMAP_SIZE", kvm), ("mmap", vcpu)]
            case .setCPUID2(let it) where it.from == .tdx:
                calls = [("KVM_TDX_GET_CPUID", on), ("KVM_SET_CPUID2", on)]
            case .setCPUID2, .tdxInitVM:
                calls = (cpuidAsked ? [] : [("KVM_GET_SUPPORTED_CPUID", kvm)]) + [(op.command ?? op.op, on)]
                cpuidAsked = true
            // `Memfd(name:size:)` sizes the new file (to 0: the plan's own ftruncate step sizes it).
            case .memfdCreate: calls = [("memfd_create", -1), ("ftruncate", position < trace.count ? CInt(trace[position].result) : -1)]
            case .setBootState: calls = [("KVM_GET_SREGS", on), ("KVM_SET_SREGS", on), ("KVM_SET_REGS", on)]
            default: calls = [(op.command ?? op.op, on)]
            }
            if let defined = op.defines, !calls.isEmpty, position < trace.count, defined.kind != .mapping {
                fds[defined.description] = CInt(trace[position].result)
            }
            expected += calls.map { (step.id, $0.0, $0.1) }
            position += calls.count
        }
        return expected
    }

    @Test(arguments: samples)
    func traceEqualsThePlan(_ name: String) throws {
        let sample = try Self.sample(name)
        let driver = MockingDriver(mode: .fakeKernel)
        let executor = Self.executor(sample)
        let failure = Self.launchSteps(executor, driver)
        #expect(failure == nil, "\(failure?.description ?? "")")

        let trace = driver.trace
        let expected = Self.expectedCalls(sample.plan, trace: trace)
        try #require(trace.count >= expected.count, "\(trace)")
        for (call, want) in zip(trace, expected) {
            #expect(Self.spelling(call) == want.operation && call.fd == want.fd, "step \(want.step): \(call) is not \(want.operation) on fd \(want.fd)\n\(trace.map(\.description).joined(separator: "\n"))")
        }
        // Every ioctl uses the request number of the plan's per-architecture table.
        for call in trace where call.request != nil {
            let ioctl = try #require(Ioctl(rawValue: call.operation), "\(call)")
            #expect(call.request == IoctlNumbers.number(ioctl, arch: .x86_64).map(UInt.init), "\(call)")
        }
        // The teardown: nothing but munmap and close, each fd closed once, newest first.
        let teardown = trace[expected.count...]
        #expect(teardown.allSatisfy { $0.name == "munmap" || $0.name == "close" }, "\(Array(teardown))")
        let created = trace[..<expected.count].filter { $0.name == "open" || $0.name == "memfd_create" || $0.operation.hasPrefix("KVM_CREATE_") }
        #expect(teardown.filter { $0.name == "close" }.map(\.fd) == created.map { CInt($0.result) }.reversed())
        #expect(teardown.filter { $0.name == "munmap" }.count == trace[..<expected.count].filter { $0.name == "mmap" }.count)
    }

    // MARK: - Undo order on a failure at each call

    @Test(arguments: ["memtest", "memfd", "sev-snp", "tdx"])
    func aFailureAtEachCallUndoesEverythingNewestFirst(_ name: String) throws {
        let sample = try Self.sample(name)
        let clean = MockingDriver(mode: .fakeKernel)
        #expect(Self.launchSteps(Self.executor(sample), clean) == nil)
        let cleanTrace = clean.trace
        let expected = Self.expectedCalls(sample.plan, trace: cleanTrace)

        for (index, want) in expected.enumerated() {
            let driver = MockingDriver(mode: .fakeKernel)
            driver.force(.invalidArgument, atCall: index)
            let output = CapturedOutput()
            let executor = Self.executor(sample, output: output)
            let failure = Self.launchSteps(executor, driver)

            #expect(failure?.stepID == want.step, "call \(index) (\(want.operation))")
            #expect(failure?.errnoName == "EINVAL")
            #expect(output.messages.last == "kvmplan: \(failure?.description ?? "")")
            let trace = driver.trace
            // Host addresses (an mmap's result, a memslot's userspace_addr inside the struct bytes) differ
            // from one launch to the next, so the calls are compared without them.
            #expect(trace[..<index].map(Self.withoutHostAddresses) == cleanTrace[..<index].map(Self.withoutHostAddresses), "the calls before \(index) changed")
            #expect(Self.spelling(trace[index]) == want.operation && trace[index].result == -Int(Errno.invalidArgument.rawValue))

            // Steps before the failing one ran; every fd and mapping they made is undone, newest first.
            let failingStep = try #require(sample.plan.steps.firstIndex { $0.id == want.step })
            let earlier = sample.plan.steps[..<failingStep]
            #expect(executor.entries.filter { $0.kind == .step }.compactMap(\.stepID) == earlier.filter { !LaunchTests.isRun($0) }.map(\.id))
            #expect(executor.entries.filter { $0.kind == .undo }.compactMap(\.stepID) == earlier.filter { $0.operation.defines != nil }.map(\.id).reversed())
            let teardown = trace[(index + 1)...]
            #expect(teardown.allSatisfy { $0.name == "munmap" || $0.name == "close" }, "call \(index): \(Array(teardown))")
            let created = trace[..<index].filter { $0.name == "open" || $0.name == "memfd_create" || $0.operation.hasPrefix("KVM_CREATE_") }
            #expect(teardown.filter { $0.name == "close" }.map(\.fd) == created.map { CInt($0.result) }.reversed(), "call \(index)")
            #expect(teardown.filter { $0.name == "munmap" }.count == trace[..<index].filter { $0.name == "mmap" }.count, "call \(index)")
        }
    }

    // MARK: - EINTR

    @Test func anInterruptedCallIsRetriedInTheOnePlace() throws {
        let sample = try Self.sample("hello-long")
        let clean = MockingDriver(mode: .fakeKernel)
        let cleanExecutor = Self.executor(sample)
        #expect(Self.launchSteps(cleanExecutor, clean) == nil)

        let driver = MockingDriver(mode: .fakeKernel)
        driver.force(.interrupted, times: 2) { $0.operation == "KVM_CREATE_VM" }
        driver.force(.interrupted) { $0.name == "mmap" }
        let executor = Self.executor(sample)
        #expect(Self.launchSteps(executor, driver) == nil)

        let interrupted = -Int(Errno.interrupted.rawValue)
        let createVM = driver.trace.filter { $0.operation == "KVM_CREATE_VM" }
        #expect(createVM.map(\.result) == [interrupted, interrupted, createVM.last?.result ?? -1])
        #expect(driver.trace.filter { $0.name == "mmap" }.first?.result == interrupted)
        // Apart from the retries, the launch is the clean one.
        #expect(driver.trace.filter { $0.result != interrupted }.map(\.operation) == clean.trace.map(\.operation))
        #expect(executor.entries.map(\.stepID) == cleanExecutor.entries.map(\.stepID))
    }

    @Test func anInterruptedRunIsAnExitNotARetry() throws {
        let driver = MockingDriver(mode: .fakeKernel)
        driver.force(.interrupted) { $0.operation == "KVM_RUN" }
        let exit = try driver.withInstalled { () throws(KVMError) -> VCPUExit in
            let vcpu = try KVMSystem().createVM().createVCPU(id: 0)
            return try vcpu.run()
        }
        #expect(exit == .interrupted)
        #expect(driver.trace.filter { $0.operation == "KVM_RUN" }.count == 1)
    }

    /// `VCPU.run()` decodes `kvm_run`: here the test plays the kernel's part and writes the exit itself.
    @Test func runDecodesTheExitFromKvmRun() throws {
        let driver = MockingDriver(mode: .fakeKernel)
        let exits = try driver.withInstalled { () throws(KVMError) -> [VCPUExit] in
            let vcpu = try KVMSystem().createVM().createVCPU(id: 0)
            let run = vcpu.runPage.bytes
            // struct kvm_run: exit_reason at 8, the exit union at 32 (KVM_UAPI.md §1.5).
            run.storeBytes(of: 2, toByteOffset: 8, as: UInt32.self)  // KVM_EXIT_IO
            run.storeBytes(of: 1, toByteOffset: 32, as: UInt8.self)  // KVM_EXIT_IO_OUT
            run.storeBytes(of: 1, toByteOffset: 33, as: UInt8.self)  // size
            run.storeBytes(of: 0x3f8, toByteOffset: 34, as: UInt16.self)  // port
            run.storeBytes(of: 2, toByteOffset: 36, as: UInt32.self)  // count
            run.storeBytes(of: 4096, toByteOffset: 40, as: UInt64.self)  // data_offset
            run.storeBytes(of: 0x6968, toByteOffset: 4096, as: UInt16.self)  // "hi"
            let io = try vcpu.run()
            run.storeBytes(of: 5, toByteOffset: 8, as: UInt32.self)  // KVM_EXIT_HLT
            let hlt = try vcpu.run()
            run.storeBytes(of: 16, toByteOffset: 8, as: UInt32.self)  // KVM_EXIT_NMI: not decoded further
            return [io, hlt, try vcpu.run()]
        }
        #expect(
            exits == [
                .io(IOExit(direction: .out, size: 1, port: 0x3f8, count: 2, dataOffset: 4096), data: Array("hi".utf8)),
                .hlt, .other(ExitReason(rawValue: 16)),
            ])
        #expect(exits.map(\.reason) == [.io, .hlt, ExitReason(rawValue: 16)])
    }

    @Test func aForcedErrnoNamesTheOperation() throws {
        let driver = MockingDriver(mode: .fakeKernel)
        driver.force(.noSuchFileOrDirectory) { $0.name == "open" }
        let error = driver.withInstalled { () -> KVMError? in
            do throws(KVMError) { _ = try KVMSystem(); return nil } catch { return error }
        }
        #expect(error?.operation == .open(path: "/dev/kvm"))
        #expect(error?.isDeviceMissing == true)
    }

    /// A call without the values that are host addresses: an mmap's result, a memslot's `userspace_addr`
    /// (bytes 24..<32 of `kvm_userspace_memory_region` and `_region2`), the `data` pointer of a
    /// `KVM_MEMORY_ENCRYPT_OP` command (bytes 8..<16 of `kvm_sev_cmd` and `kvm_tdx_cmd`), and the source
    /// addresses in its payload (`kvm_sev_snp_launch_update.uaddr` 8..<16, `kvm_tdx_init_mem_region.source_addr`
    /// 0..<8, `kvm_sev_snp_launch_finish.id_block_uaddr`/`id_auth_uaddr` 0..<16). Everything else stays compared.
    static func withoutHostAddresses(_ call: MockedCall) -> MockedCall {
        var call = call
        func zero(_ bytes: inout [UInt8]?, _ range: Range<Int>) {
            guard var value = bytes, value.count >= range.upperBound else { return }
            value.replaceSubrange(range, with: [UInt8](repeating: 0, count: range.count))
            bytes = value
        }
        if call.name == "mmap" && call.result >= 0 { call.result = 0 }
        if call.operation.hasPrefix("KVM_SET_USER_MEMORY_REGION") { zero(&call.bytes, 24..<32) }
        if call.operation == "KVM_MEMORY_ENCRYPT_OP" { zero(&call.bytes, 8..<16) }
        switch call.command {
        case "KVM_SEV_SNP_LAUNCH_UPDATE": zero(&call.payload, 8..<16)
        case "KVM_TDX_INIT_MEM_REGION": zero(&call.payload, 0..<8)
        case "KVM_SEV_SNP_LAUNCH_FINISH": zero(&call.payload, 0..<16)
        default: break
        }
        return call
    }
}
