import Compiler
import Foundation
import KVM
import Launcher
import Plan
import SystemPackage
import TestSupport
import Testing

/// Launches on this host's real /dev/kvm, in-process through the Launcher API. Serialized: the descriptor
/// and mapping counts of the failure-injection test must not see another launch of this suite.
@Suite(.serialized, .requiresKVM)
struct LaunchTests {
    // MARK: - Every launchable sample

    @Test(arguments: Samples.launchable.map(\.name))
    func sampleRunsWithItsConsoleAndStatus(_ name: String) throws {
        guard let expected = Samples.launchable.first(where: { $0.name == name }) else { return }
        let sample = try Samples.compile(name)
        let output = CapturedOutput()
        let outcome = Launcher(options: LaunchOptions(timeout: 20), output: output).launch(sample.plan, payload: sample.payload)

        #expect(outcome.status == expected.status, "\(name): \(output.messages)")
        #expect(outcome.failure == nil)
        if name == "smp" {
            // vCPUs check in in any order.
            let lines = output.consoleText.split(separator: "\n").map(String.init).sorted()
            #expect(lines == ["cpu 0 up", "cpu 1 up", "cpu 2 up", "cpu 3 up"])
        } else {
            #expect(output.consoleText == expected.console)
        }
        switch name {
        case "mmio":
            #expect(output.messages == ["mmio write 0xfe000000 4 bytes: efbeadde", "mmio write 0xc00000 1 bytes: 5a"])
        case "hello-long", "hello-elf":
            #expect(outcome.termination == .allHalted)
            #expect(output.messages.isEmpty)
        default:
            #expect(outcome.termination == .exitPort(status: 0, vcpu: 0))
            #expect(output.messages.isEmpty)
        }
    }

    // MARK: - --trace follows the plan

    @Test(arguments: Samples.launchable.map(\.name))
    func traceFollowsThePlan(_ name: String) throws {
        let sample = try Samples.compile(name)
        let output = CapturedOutput()
        let outcome = Launcher(options: LaunchOptions(timeout: 20, trace: true), output: output)
            .launch(sample.plan, payload: sample.payload)
        #expect(outcome.status == 0)

        let planIDs = sample.plan.steps.map(\.id)
        #expect(outcome.executedStepIDs == planIDs)
        #expect(traceStepIDs(output.messages) == planIDs)

        // Each step line is the plan's one-line syntax followed by ` = result`.
        let stepLines = output.messages.filter { !$0.hasPrefix("#") && !$0.hasPrefix(" ") && $0.contains("  # ") }
        for (line, step) in zip(stepLines, sample.plan.steps) {
            let planLine = PlanTextRenderer.line(for: step, layout: .compact, showComment: false, showSource: false)
            #expect(line.hasPrefix(planLine + " = "), "\(line) does not start with \(planLine)")
        }
        // Teardown undoes every acquired fd and mapping, newest first.
        let defining = sample.plan.steps.filter { $0.operation.defines != nil }.map(\.id)
        #expect(outcome.undoneStepIDs == defining.reversed())
    }

    // MARK: - Hosts that lack the plan's VM type or architecture: 126

    @Test(arguments: [
        ("tdx", "Manifests/tdx.yaml:5:11: error: this host's KVM cannot create KVM_X86_TDX_VM (KVM_CAP_VM_TYPES = 0x1)"),
        ("sev-snp", "Manifests/sev-snp.yaml:5:11: error: this host's KVM cannot create KVM_X86_SNP_VM (KVM_CAP_VM_TYPES = 0x1)"),
        ("sw-protected", "Manifests/sw-protected.yaml:6:11: error: this host's KVM cannot create KVM_X86_SW_PROTECTED_VM (KVM_CAP_VM_TYPES = 0x1)"),
        ("arm64-default", "Manifests/arm64-default.yaml:5:11: error: this host's KVM cannot create KVM_VM_TYPE_ARM_IPA_SIZE(0): the host is x86_64, the plan is for arm64"),
    ])
    func hostWithoutTheVMTypeExits126(_ name: String, _ message: String) throws {
        let sample = try Samples.compile(name)
        // This development host's KVM has only KVM_X86_DEFAULT_VM (KVM_UAPI.md §6); elsewhere, skip.
        let bitmap = try KVMSystem().checkExtension(.vmTypes)
        try #require(bitmap == 1, "this test expects a host whose KVM_CAP_VM_TYPES is 0x1")

        let output = CapturedOutput()
        let before = KernelResources.snapshot()
        let outcome = Launcher(output: output).launch(sample.plan, payload: sample.payload)
        #expect(outcome.status == 126)
        #expect(output.messages == [Repo.root + "/" + message])
        #expect(outcome.trace.isEmpty, "nothing may be created before the host check")
        let after = KernelResources.settled(after: before)
        #expect(after.holdsNothingBeyond(before), "before: \(before)\nafter: \(after)")
    }

    // MARK: - Every step failing in turn

    /// memtest has anonymous memory, a guest_memfd mapped in place, both memslot ioctls, a payload load and
    /// boot state; the memfd variant adds memfd_create and ftruncate.
    static let injectionSamples = ["memtest", "memfd"]

    /// The first kernel call of each step fails in turn, forced by the mocking driver on this host's real
    /// /dev/kvm: the step is reported with the errno, and everything earlier steps made is undone (a KVM_RUN
    /// step fails in the run phase, and everything is undone). Steps without a kernel call of their own
    /// (`load`) cannot fail in the kernel and are skipped.
    @Test(arguments: injectionSamples)
    func eachFailingStepIsReportedAndUndone(_ name: String) throws {
        let sample = name == "memfd" ? try Self.memfdSample() : try Samples.compile(name)
        let plan = sample.plan
        let firstCalls = try Self.firstKernelCalls(plan, payload: sample.payload)
        for (k, step) in plan.steps.enumerated() {
            guard let (index, call) = firstCalls[step.id] else { continue }
            let output = CapturedOutput()
            let before = KernelResources.snapshot()
            let driver = MockingDriver(mode: .realKernel)
            driver.force(.invalidArgument, atCall: index)
            let outcome = driver.withInstalled {
                Launcher(options: LaunchOptions(timeout: 20), output: output).launch(plan, payload: sample.payload)
            }

            #expect(driver.trace[index].operation == call.operation, "step \(step.id): the calls before it changed")
            #expect(outcome.status == 125, "step \(step.id)")
            let earlier = plan.steps[..<k]
            if Self.isRun(step) {
                // KVM_RUN fails in the run phase: the vCPU's loop reports it, then everything is torn down.
                #expect(output.messages.last == "kvmplan: vcpu \(step.operation.on?.index ?? 0): KVM_RUN failed: EINVAL (Invalid argument)")
                #expect(outcome.executedStepIDs == earlier.filter { !Self.isRun($0) }.map(\.id) + [step.id])
                #expect(outcome.undoneStepIDs == plan.steps.filter { $0.operation.defines != nil }.map(\.id).reversed())
                let after = KernelResources.settled(after: before)
                #expect(after.holdsNothingBeyond(before), "step \(step.id): before \(before)\nafter \(after)")
                continue
            }
            #expect(outcome.failure?.stepID == step.id)
            let op = step.operation.command ?? step.operation.op
            let location = step.source.map { ", \($0)" } ?? ""
            let named = call.operation == step.operation.op || call.operation.hasPrefix("open ") ? "" : call.operation + ": "
            #expect(
                output.messages.last == "kvmplan: step \(step.id) (\(op)\(location)) failed: \(named)EINVAL (Invalid argument)",
                "\(output.messages)")
            // Steps 0 ..< k ran, in order; every fd and mapping they made is undone, newest first.
            #expect(outcome.executedStepIDs == earlier.filter { !Self.isRun($0) }.map(\.id))
            #expect(outcome.undoneStepIDs == earlier.filter { $0.operation.defines != nil }.map(\.id).reversed())
            let after = KernelResources.settled(after: before)
            #expect(after.holdsNothingBeyond(before), "step \(step.id): before \(before)\nafter \(after)")
        }
    }

    /// Launches `plan` once under a recording driver and returns, per step that makes kernel calls, the
    /// position in the trace of its first call (the host check's calls come first) and the call.
    static func firstKernelCalls(_ plan: Plan, payload: [UInt8]?) throws -> [String: (Int, MockedCall)] {
        let driver = MockingDriver(mode: .realKernel)
        let output = StepBoundaries(driver: driver)
        let outcome = driver.withInstalled {
            Launcher(options: LaunchOptions(timeout: 20, trace: true), output: output).launch(plan, payload: payload)
        }
        try #require(outcome.status == 0, "the clean run failed: \(outcome.failure?.description ?? "")")
        let trace = driver.trace
        var firsts: [String: (Int, MockedCall)] = [:]
        var previousEnd: Int?
        for (id, end) in output.ends {
            // The first step (open /dev/kvm) makes one call; every later one starts where the previous ended.
            let start = previousEnd ?? end - 1
            if end > start { firsts[id] = (start, trace[start]) }
            previousEnd = end
        }
        return firsts
    }

    static func isRun(_ step: Step) -> Bool { if case .run = step.operation { true } else { false } }

    static func memfdSample() throws -> CompiledSample {
        let payload = try LocalFileAccess().read(Repo.path("Examples/guests/hello-long.bin"))
        return try Samples.compile(
            manifest: """
                kvmplan: 1
                name: hello-memfd
                arch: x86_64
                platform: default
                memory:
                  regions:
                    - name: ram
                      base: 0x0
                      size: 2MiB
                      backing: memfd
                payload:
                  path: guest.bin
                  load: ram+0x100000
                  mode: long
                """, payload: payload)
    }

    @Test func memfdBackedGuestRuns() throws {
        let sample = try Self.memfdSample()
        #expect(sample.plan.steps.map(\.id).contains("truncate.ram"))
        let output = CapturedOutput()
        let outcome = Launcher(options: LaunchOptions(timeout: 20), output: output).launch(sample.plan, payload: sample.payload)
        #expect(outcome.status == 0, "\(output.messages)")
        #expect(output.consoleText == "Hello from long mode\n")
    }

    // MARK: - hugetlb

    @Test func hugetlbMemoryRunsOrFailsItsMmapStepClearly() throws {
        let payload = try LocalFileAccess().read(Repo.path("Examples/guests/hello-long.bin"))
        let sample = try Samples.compile(
            manifest: """
                kvmplan: 1
                name: hello-huge
                arch: x86_64
                platform: default
                memory:
                  regions:
                    - name: ram
                      base: 0x0
                      size: 2MiB
                      backing: hugetlb-2m
                payload:
                  path: guest.bin
                  load: ram+0x100000
                  mode: long
                """, payload: payload)
        let freePages =
            (try? String(contentsOfFile: "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        let output = CapturedOutput()
        let before = KernelResources.snapshot()
        let outcome = Launcher(options: LaunchOptions(timeout: 20), output: output).launch(sample.plan, payload: sample.payload)
        if freePages > 0 {
            #expect(outcome.status == 0)
            #expect(output.consoleText == "Hello from long mode\n")
        } else {
            #expect(outcome.status == 125)
            #expect(outcome.failure?.stepID == "map.ram")
            #expect(output.messages.last?.hasPrefix("kvmplan: step map.ram (mmap, ") == true)
            #expect(output.messages.last?.hasSuffix("failed: ENOMEM (Cannot allocate memory); this host has no free huge pages of that size (see /proc/sys/vm/nr_hugepages)") == true)
        }
        let after = KernelResources.settled(after: before)
        #expect(after.holdsNothingBeyond(before), "before \(before)\nafter \(after)")
    }

    // MARK: - Timeout

    @Test func loopingGuestTimesOutWith124() throws {
        // `jmp .` (EB FE) on two vCPUs: neither ever exits to userspace.
        let sample = try Samples.compile(
            manifest: """
                kvmplan: 1
                name: spin
                arch: x86_64
                platform: default
                vcpus: 2
                memory:
                  regions:
                    - name: ram
                      base: 0x0
                      size: 2MiB
                      backing: anonymous
                payload:
                  path: guest.bin
                  load: ram+0x100000
                  mode: long
                """, payload: [0xEB, 0xFE])
        let output = CapturedOutput()
        let before = KernelResources.snapshot()
        let start = Date()
        let outcome = Launcher(options: LaunchOptions(timeout: 0.3), output: output).launch(sample.plan, payload: sample.payload)
        let elapsed = Date().timeIntervalSince(start)

        #expect(outcome.status == 124)
        #expect(outcome.termination == .timeout)
        #expect(output.messages.last == "kvmplan: timeout: the guest ran longer than 0.3 s; stopped it")
        #expect(outcome.vcpuResults[0]?.ending == "stopped" && outcome.vcpuResults[1]?.ending == "stopped")
        #expect(elapsed >= 0.3 && elapsed < 5, "took \(elapsed) s")
        let after = KernelResources.settled(after: before)
        #expect(after.holdsNothingBeyond(before), "before \(before)\nafter \(after)")
    }

    // MARK: - Payload digests

    @Test func loadRefusesBytesWhoseDigestDiffersFromTheStep() throws {
        var sample = try Samples.compile("hello-long")
        let index = try #require(sample.plan.steps.firstIndex { $0.id == "load.payload" })
        guard case .loadPayload(let it) = sample.plan.steps[index].operation, case let into = it.into, case let gpa = it.gpa, case let size = it.size, case let fileOffset = it.fileOffset else {
            Issue.record("load.payload is not a load step")
            return
        }
        let wrong = "sha256:" + String(repeating: "0", count: 64)
        sample.plan.steps[index].operation = .loadPayload(into: into, gpa: gpa, size: size, fileOffset: fileOffset, sha256: wrong)
        let output = CapturedOutput()
        let outcome = Launcher(output: output).launch(sample.plan, payload: sample.payload)
        #expect(outcome.status == 125)
        #expect(outcome.failure?.stepID == "load.payload")
        // Only the plan's digest is named, never the digest of the bytes (issue 15: a plan would read files byte by byte).
        #expect(output.messages.last?.contains("do not match the plan's \(wrong); refusing to load them") == true)
    }

    @Test func aDifferentPayloadFileIsRefusedBeforeAnythingIsCreated() throws {
        let sample = try Samples.compile("hello-long")
        let output = CapturedOutput()
        let outcome = Launcher(output: output).launch(sample.plan, payload: (sample.payload ?? []) + [0])
        #expect(outcome.status == 125)
        #expect(outcome.trace.isEmpty)
        #expect(output.messages.last?.hasSuffix("refusing to load it") == true)
    }

    // MARK: - Plan files

    @Test func aPlanReadBackFromJSONLaunches() throws {
        let sample = try Samples.compile("hello-elf")
        let plan = try Plan(json: sample.plan.jsonString())
        let output = CapturedOutput()
        let outcome = Launcher(options: LaunchOptions(timeout: 20), output: output).launch(plan, payload: sample.payload)
        #expect(outcome.status == 0)
        #expect(output.consoleText == "Hello from long mode\n")
    }
}
