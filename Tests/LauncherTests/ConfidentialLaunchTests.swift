import Compiler
import KVM
import Plan
import Synchronization
import SystemPackage
import TestSupport
import Testing

@testable import Launcher

// The SEV-SNP and TDX launch steps against a recording kernel double (STYLE.md rule 10): the mocking driver's
// fake kernel records every call with its struct bytes and the KVM_MEMORY_ENCRYPT_OP payload, and the answers
// below play the kernel's side (partial progress, EAGAIN, a TDX module's CPUID, firmware errors). No SNP or TDX
// hardware is involved: this checks what kvmplan *sends* and how it reacts, against the uapi layouts and the
// ordering rules, nothing about what a real AMD Secure Processor or TDX module would answer.
//
// Every offset below is written here from arch/x86/include/uapi/asm/kvm.h (kvm-x86/linux, line numbers in
// Sources/KVM/VM+SEV.swift and VM+TDX.swift) and checked there with gcc, independently of CKVM's declarations.

// MARK: - Layouts, by hand

/// `struct kvm_sev_cmd` (kvm.h:753), 24 bytes.
enum SEVCmd { static let size = 24, id = 0, pad0 = 4, data = 8, error = 16, sevFD = 20 }
/// `struct kvm_sev_init` (kvm.h:761), 48 bytes.
enum SEVInit { static let size = 48, vmsaFeatures = 0, flags = 8, ghcbVersion = 12, pad1 = 14, pad2 = 16 }
/// `struct kvm_sev_snp_launch_start` (kvm.h:877), 64 bytes.
enum SNPStart { static let size = 64, policy = 0, gosvw = 8, flags = 24, pad0 = 26, pad1 = 32 }
/// `struct kvm_sev_snp_launch_update` (kvm.h:893), 64 bytes.
enum SNPUpdate { static let size = 64, gfnStart = 0, uaddr = 8, len = 16, type = 24, pad0 = 25, flags = 26, pad1 = 28, pad2 = 32 }
/// `struct kvm_sev_snp_launch_finish` (kvm.h:908), 88 bytes.
enum SNPFinish {
    static let size = 88, idBlockUaddr = 0, idAuthUaddr = 8, idBlockEn = 16, authKeyEn = 17, vcekDisabled = 18,
        hostData = 19, pad0 = 51, flags = 54, pad1 = 56
}
/// `struct kvm_tdx_cmd` (kvm.h:987), 24 bytes.
enum TDXCmd { static let size = 24, id = 0, flags = 4, data = 8, hwError = 16 }
/// `struct kvm_tdx_capabilities` (kvm.h:1005): 2048 bytes, then `struct kvm_cpuid2`.
enum TDXCaps { static let supportedAttrs = 0, supportedXFAM = 8, reserved = 48, cpuid = 2048 }
/// `struct kvm_tdx_init_vm` (kvm.h:1020): 256 bytes, then `struct kvm_cpuid2`.
enum TDXInit { static let attributes = 0, xfam = 8, mrconfigid = 16, mrowner = 64, mrownerconfig = 112, reserved = 160, cpuid = 256 }
/// `struct kvm_tdx_init_mem_region` (kvm.h:1045), 24 bytes.
enum TDXMem { static let size = 24, sourceAddr = 0, gpa = 8, nrPages = 16 }
/// `struct kvm_cpuid2` (kvm.h:267): nent @0, padding @4, entries @8 of `struct kvm_cpuid_entry2` (kvm.h:251, 40 bytes:
/// function @0, index @4, flags @8, eax @12, ebx @16, ecx @20, edx @24, padding[3] @28).
enum CPUID2 { static let nent = 0, padding = 4, entries = 8, entrySize = 40 }

/// Little-endian fields of recorded bytes (written here, not taken from the KVM module).
struct Bytes {
    var raw: [UInt8]

    init(_ raw: [UInt8]?) { self.raw = raw ?? [] }

    func get(_ offset: Int, _ size: Int = 8) -> UInt64 {
        guard offset + size <= raw.count else { return .max }
        return (0..<size).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64(raw[offset + $1]) }
    }

    mutating func set(_ offset: Int, _ value: UInt64, _ size: Int = 8) {
        for i in 0..<size where offset + i < raw.count { raw[offset + i] = UInt8(truncatingIfNeeded: value >> UInt64(8 * i)) }
    }

    func isZero(_ range: Range<Int>) -> Bool { range.upperBound <= raw.count && raw[range].allSatisfy { $0 == 0 } }

    /// The entries of a `struct kvm_cpuid2` at `offset`.
    func cpuid(at offset: Int) -> [CPUIDEntry] {
        let count = Int(get(offset + CPUID2.nent, 4))
        return (0..<count).map { i in
            let e = offset + CPUID2.entries + i * CPUID2.entrySize
            return CPUIDEntry(
                function: UInt32(get(e, 4)), index: UInt32(get(e + 4, 4)), flags: UInt32(get(e + 8, 4)), eax: UInt32(get(e + 12, 4)),
                ebx: UInt32(get(e + 16, 4)), ecx: UInt32(get(e + 20, 4)), edx: UInt32(get(e + 24, 4)))
        }
    }

    /// Whether every entry's padding (bytes 28..<40) is zero.
    func cpuidPaddingIsZero(at offset: Int) -> Bool {
        (0..<Int(get(offset + CPUID2.nent, 4))).allSatisfy { i in
            let e = offset + CPUID2.entries + i * CPUID2.entrySize
            return isZero(e + 28..<e + 40)
        }
    }

    /// Writes `entries` as a `struct kvm_cpuid2` at `offset` (nent, then the entries), as KVM does.
    mutating func setCPUID(at offset: Int, _ entries: [CPUIDEntry]) {
        set(offset + CPUID2.nent, UInt64(entries.count), 4)
        for (i, entry) in entries.enumerated() {
            let e = offset + CPUID2.entries + i * CPUID2.entrySize
            for (field, value) in [entry.function, entry.index, entry.flags, entry.eax, entry.ebx, entry.ecx, entry.edx].enumerated() {
                set(e + 4 * field, UInt64(value), 4)
            }
        }
    }
}

// MARK: - Running a plan's steps

/// One launch's step phase under a driver, with the host address of each mapping before the teardown.
struct RecordedLaunch {
    var failure: StepFailure?
    var trace: [MockedCall]
    var mappings: [String: UInt64]
    var entries: [TraceEntry]
    var messages: [String]

    /// The calls of the launch, without the teardown after the last step (munmap and close).
    var setUp: ArraySlice<MockedCall> {
        let end = trace.lastIndex { $0.name != "munmap" && $0.name != "close" }.map { $0 + 1 } ?? 0
        return trace[..<end]
    }

    func first(_ spelling: String) -> Int? { trace.firstIndex { MockedKernelTests.spelling($0) == spelling } }
    func all(_ spelling: String) -> [Int] { trace.indices.filter { MockedKernelTests.spelling(trace[$0]) == spelling } }
    func result(of spelling: String) -> CInt? { first(spelling).map { CInt(trace[$0].result) } }
    func resultEntry(_ stepID: String) -> String? { entries.first { $0.kind == .step && $0.stepID == stepID }?.result }
}

enum Confidential {
    static func launch(_ sample: CompiledSample, _ driver: MockingDriver) -> RecordedLaunch {
        let output = CapturedOutput()
        let executor = PlanExecutor(plan: sample.plan, payload: sample.payload, output: output, trace: false, interrupted: { false })
        let (failure, mappings) = driver.withInstalled { () -> (StepFailure?, [String: UInt64]) in
            do throws(StepFailure) {
                _ = try executor.executeSteps()
            } catch {
                return (error, [:])
            }
            let mappings = executor.mappings.mapValues(\.userspaceAddress)
            executor.undoAll()
            return (nil, mappings)
        }
        return RecordedLaunch(
            failure: failure, trace: driver.trace, mappings: mappings, entries: executor.entries, messages: output.messages)
    }

    static func sevInit2(_ plan: Plan) -> [SEVInit2Step] {
        plan.steps.compactMap { step -> SEVInit2Step? in
            if case .sevInit2(let s) = step.operation { return s }
            return nil
        }
    }

    static func snpLaunchUpdates(_ plan: Plan) -> [SNPLaunchUpdateStep] {
        plan.steps.compactMap { step -> SNPLaunchUpdateStep? in
            if case .snpLaunchUpdate(let s) = step.operation { return s }
            return nil
        }
    }
}

// MARK: - A TDX module as the test plays it

/// KVM_TDX_CAPABILITIES, KVM_GET_SUPPORTED_CPUID and KVM_TDX_GET_CPUID answers, and the INIT_VM CPUID that
/// follows from them, computed by hand: configurable bits AND supported bits, a leaf KVM_GET_SUPPORTED_CPUID
/// lacks kept as configurable, GuestPhysAddrSize (0x80000008 EAX[23:16]) = 48, no leaf that is not configurable.
enum FakeTDXModule {
    static let supportedAttributes: UInt64 = 0x1000_0000_4000_0001
    static let supportedXFAM: UInt64 = 0x0000_0000_0006_02ff
    static let configurable = [
        CPUIDEntry(function: 0x1, eax: 0x0fff_00ff, ebx: 0xffff_ffff, ecx: 0x7ffa_ffff, edx: 0xffff_ffff),
        CPUIDEntry(function: 0x7, index: 0, flags: 1, eax: 0, ebx: 0xffff_ffff, ecx: 0x0000_ffff, edx: 0xffff_ffff),
        CPUIDEntry(function: 0x1d, index: 1, flags: 1, eax: 0x1234_5678, ebx: 0x9abc_def0, ecx: 0, edx: 0),
        CPUIDEntry(function: 0x8000_0008, eax: 0x00ff_00ff, ebx: 0, ecx: 0, edx: 0),
    ]
    static let supported = [
        CPUIDEntry(function: 0x1, eax: 0x0008_06f8, ebx: 0x0001_0800, ecx: 0xf6fa_3223, edx: 0x0f8b_fbff),
        CPUIDEntry(function: 0x7, index: 0, flags: 1, eax: 2, ebx: 0xf1bf_2fbb, ecx: 0x1b41_5f6e, edx: 0xbc3c_4532),
        CPUIDEntry(function: 0xd, index: 0, flags: 1, eax: 0x2e7, ebx: 0xa88, ecx: 0xa88, edx: 0),
        CPUIDEntry(function: 0x8000_0008, eax: 0x0000_3030, ebx: 0x1000, ecx: 0, edx: 0),
    ]
    static let initVMCPUID = [
        CPUIDEntry(function: 0x1, eax: 0x0008_00f8, ebx: 0x0001_0800, ecx: 0x76fa_3223, edx: 0x0f8b_fbff),
        CPUIDEntry(function: 0x7, index: 0, flags: 1, eax: 0, ebx: 0xf1bf_2fbb, ecx: 0x0000_5f6e, edx: 0xbc3c_4532),
        CPUIDEntry(function: 0x1d, index: 1, flags: 1, eax: 0x1234_5678, ebx: 0x9abc_def0, ecx: 0, edx: 0),
        CPUIDEntry(function: 0x8000_0008, eax: 0x0030_0030, ebx: 0, ecx: 0, edx: 0),
    ]
    /// What KVM_TDX_GET_CPUID gives each vCPU: x2APIC (leaf 1 ECX bit 21) set, as INIT_VCPU needs.
    static let tdCPUID = [
        CPUIDEntry(function: 0x0, eax: 0x23, ebx: 0x756e_6547, ecx: 0x6c65_746e, edx: 0x4965_6e69),
        CPUIDEntry(function: 0x1, eax: 0x0008_06f8, ebx: 0x0001_0800, ecx: 0xf6fa_3223 | 1 << 21, edx: 0x0f8b_fbff),
        CPUIDEntry(function: 0x8000_0008, eax: 0x0030_3030, ebx: 0, ecx: 0, edx: 0),
    ]

    static func install(_ driver: MockingDriver) {
        driver.answer(where: { $0.command == "KVM_TDX_CAPABILITIES" }) { call in
            var payload = Bytes(call.payload)
            payload.set(TDXCaps.supportedAttrs, supportedAttributes)
            payload.set(TDXCaps.supportedXFAM, supportedXFAM)
            payload.setCPUID(at: TDXCaps.cpuid, configurable)
            call.payload = payload.raw
            return 0
        }
        driver.answer(where: { $0.operation == "KVM_GET_SUPPORTED_CPUID" }) { call in
            var bytes = Bytes(call.bytes)
            bytes.setCPUID(at: 0, supported)
            call.bytes = bytes.raw
            return 0
        }
        driver.answer(where: { $0.command == "KVM_TDX_GET_CPUID" }) { call in
            var payload = Bytes(call.payload)
            payload.setCPUID(at: 0, tdCPUID)
            call.payload = payload.raw
            return 0
        }
    }
}

// MARK: - SEV-SNP

@Suite struct SNPLaunchTests {
    static func sample() throws -> CompiledSample { try Samples.compile("sev-snp") }

    @Test func everyStructIsByteExactAndTheSEVDescriptorIsNamed() throws {
        let sample = try Self.sample()
        let run = Confidential.launch(sample, MockingDriver(mode: .fakeKernel))
        #expect(run.failure == nil, "\(run.failure?.description ?? "")")

        let sevFD = try #require(run.result(of: "open /dev/sev"))
        let vmFD = try #require(run.result(of: "KVM_CREATE_VM"))
        let commands = run.trace.filter { $0.operation == "KVM_MEMORY_ENCRYPT_OP" }
        #expect(
            commands.map(\.command) == [
                "KVM_SEV_INIT2", "KVM_SEV_SNP_LAUNCH_START", "KVM_SEV_SNP_LAUNCH_UPDATE", "KVM_SEV_SNP_LAUNCH_UPDATE",
                "KVM_SEV_SNP_LAUNCH_FINISH",
            ])
        // struct kvm_sev_cmd: the command id, a data pointer, no firmware error going in, /dev/sev's descriptor.
        for (call, id) in zip(commands, [22, 100, 101, 101, 102] as [UInt64]) {
            let cmd = Bytes(call.bytes)
            #expect(call.fd == vmFD && call.request == 0xC008_AEBA, "\(call)")
            #expect(cmd.raw.count == SEVCmd.size)
            #expect(cmd.get(SEVCmd.id, 4) == id && cmd.get(SEVCmd.pad0, 4) == 0, "\(call)")
            #expect(cmd.get(SEVCmd.data) != 0 && cmd.get(SEVCmd.error, 4) == 0, "\(call)")
            #expect(cmd.get(SEVCmd.sevFD, 4) == UInt64(UInt32(bitPattern: sevFD)), "\(call)")
        }

        // KVM_SEV_INIT2: the plan's VMSA features and GHCB version, everything else zero.
        let initStep = try #require(Confidential.sevInit2(sample.plan).first)
        let initData = Bytes(commands[0].payload)
        #expect(initData.raw.count == SEVInit.size)
        #expect(initData.get(SEVInit.vmsaFeatures) == initStep.vmsaFeatures)
        #expect(initData.get(SEVInit.flags, 4) == 0)
        #expect(initData.get(SEVInit.ghcbVersion, 2) == 2 && initStep.ghcbVersion == 2)
        #expect(initData.get(SEVInit.pad1, 2) == 0 && initData.isZero(SEVInit.pad2..<SEVInit.size))

        // KVM_SEV_SNP_LAUNCH_START: the manifest's policy 0x30000 (bit 17 set), zero GOSVW, flags and padding.
        let start = Bytes(commands[1].payload)
        #expect(start.raw.count == SNPStart.size)
        #expect(start.get(SNPStart.policy) == 0x30000)
        #expect(start.isZero(SNPStart.gosvw..<SNPStart.flags) && start.get(SNPStart.flags, 2) == 0)
        #expect(start.isZero(SNPStart.pad0..<SNPStart.size))

        // KVM_SEV_SNP_LAUNCH_UPDATE: gfn, host address in %map.ram, length, NORMAL, zero flags and padding.
        let ram = try #require(run.mappings["ram"])
        let slotRAM = try #require(run.trace.first { $0.operation == "KVM_SET_USER_MEMORY_REGION2" })
        #expect(Bytes(slotRAM.bytes).get(24) == ram, "the memslot's userspace_addr (kvm_userspace_memory_region2 @24)")
        let updates = Confidential.snpLaunchUpdates(sample.plan)
        #expect(updates.map(\.gpa) == [0x10_0000, 0x1000] && updates.map(\.size) == [0x1000, 0x7000])
        for (call, step) in zip(commands[2...3], updates) {
            let update = Bytes(call.payload)
            #expect(update.raw.count == SNPUpdate.size)
            #expect(update.get(SNPUpdate.gfnStart) == step.gpa / 4096)
            #expect(update.get(SNPUpdate.uaddr) == ram + step.source.offset && step.source.map == .mapping("ram"))
            #expect(update.get(SNPUpdate.len) == step.size)
            #expect(update.get(SNPUpdate.type, 1) == 1, "KVM_SEV_SNP_PAGE_TYPE_NORMAL")
            #expect(update.get(SNPUpdate.pad0, 1) == 0 && update.get(SNPUpdate.flags, 2) == 0 && update.get(SNPUpdate.pad1, 4) == 0)
            #expect(update.isZero(SNPUpdate.pad2..<SNPUpdate.size))
        }

        // KVM_SEV_SNP_LAUNCH_FINISH: no ID block, the manifest's 32 bytes of host data, zero flags and padding.
        let finish = Bytes(commands[4].payload)
        #expect(finish.raw.count == SNPFinish.size)
        #expect(finish.get(SNPFinish.idBlockUaddr) == 0 && finish.get(SNPFinish.idAuthUaddr) == 0)
        #expect(finish.get(SNPFinish.idBlockEn, 1) == 0 && finish.get(SNPFinish.authKeyEn, 1) == 0 && finish.get(SNPFinish.vcekDisabled, 1) == 0)
        #expect(Array(finish.raw[SNPFinish.hostData..<SNPFinish.pad0]) == HexBytes.decode("6b62ff7286074fda408c656770a0675ec99b2628a179a978b3aa2f8e437e239f"))
        #expect(finish.isZero(SNPFinish.pad0..<SNPFinish.flags) && finish.get(SNPFinish.flags, 2) == 0)
        #expect(finish.isZero(SNPFinish.pad1..<SNPFinish.size))
    }

    /// The kernel's order (sev.c): /dev/sev open before INIT2, INIT2 before any vCPU (else EINVAL), LAUNCH_START
    /// before the updates, every update after its range is private in a guest_memfd slot, FINISH after every vCPU
    /// and its registers (it measures their VMSAs), and nothing after FINISH but the teardown.
    @Test func theCallsFollowTheKernelsOrder() throws {
        let run = Confidential.launch(try Self.sample(), MockingDriver(mode: .fakeKernel))
        #expect(run.failure == nil)
        let open = try #require(run.first("open /dev/sev"))
        let initIndex = try #require(run.first("KVM_SEV_INIT2"))
        let start = try #require(run.first("KVM_SEV_SNP_LAUNCH_START"))
        let updates = run.all("KVM_SEV_SNP_LAUNCH_UPDATE")
        let finish = try #require(run.first("KVM_SEV_SNP_LAUNCH_FINISH"))
        let vcpus = run.all("KVM_CREATE_VCPU")
        #expect(updates.count == 2 && vcpus.count == 2)
        #expect(open < initIndex && initIndex < start)
        #expect(vcpus.allSatisfy { initIndex < $0 })
        #expect(updates.allSatisfy { start < $0 && $0 < finish })
        for before in ["KVM_SET_USER_MEMORY_REGION2", "KVM_SET_MEMORY_ATTRIBUTES"] {
            let index = try #require(run.first(before))
            #expect(updates.allSatisfy { index < $0 }, "\(before) before every LAUNCH_UPDATE")
        }
        #expect((vcpus + run.all("KVM_SET_REGS") + run.all("KVM_SET_SREGS") + run.all("KVM_SET_CPUID2")).allSatisfy { $0 < finish })
        #expect(run.setUp.count == finish + 1, "LAUNCH_FINISH is the last call before the teardown")
    }

    /// A LAUNCH_UPDATE that does one page per call: the launcher repeats it with the remainder KVM wrote back.
    @Test func aPartialLaunchUpdateIsRepeatedWithTheRemainder() throws {
        let sample = try Self.sample()
        let driver = MockingDriver(mode: .fakeKernel)
        driver.answer(where: { $0.command == "KVM_SEV_SNP_LAUNCH_UPDATE" }) { call in
            var update = Bytes(call.payload)
            let len = update.get(SNPUpdate.len)
            update.set(SNPUpdate.gfnStart, update.get(SNPUpdate.gfnStart) + 1)
            update.set(SNPUpdate.uaddr, update.get(SNPUpdate.uaddr) + 4096)
            update.set(SNPUpdate.len, len - min(len, 4096))
            call.payload = update.raw
            return 0
        }
        let run = Confidential.launch(sample, driver)
        #expect(run.failure == nil, "\(run.failure?.description ?? "")")
        let ram = try #require(run.mappings["ram"])
        let calls = run.trace.filter { $0.command == "KVM_SEV_SNP_LAUNCH_UPDATE" }.map { Bytes($0.payload) }
        // 1 page at 0x100000, then 7 pages at 0x1000: one call per page, each with the remainder of the last.
        let expected: [(UInt64, UInt64, UInt64)] =
            [(0x100, ram + 0x10_0000, 0x1000)] + (0..<7).map { (0x1 + $0, ram + 0x1000 + $0 * 4096, 0x7000 - $0 * 4096) }
        #expect(calls.count == expected.count)
        for (call, want) in zip(calls, expected) {
            #expect(call.get(SNPUpdate.gfnStart) == want.0 && call.get(SNPUpdate.uaddr) == want.1 && call.get(SNPUpdate.len) == want.2)
            #expect(call.get(SNPUpdate.type, 1) == 1)
        }
        #expect(run.resultEntry("snp.launch-update.payload") == "0")
        #expect(run.resultEntry("snp.launch-update.boot-area") == "0 (7 calls)")
        #expect(run.first("KVM_SEV_SNP_LAUNCH_FINISH").map { $0 > run.all("KVM_SEV_SNP_LAUNCH_UPDATE").max() ?? 0 } == true)
    }

    @Test func eagainIsRetriedWithTheSameRemainder() throws {
        let driver = MockingDriver(mode: .fakeKernel)
        driver.force(.resourceTemporarilyUnavailable, times: 3) { $0.command == "KVM_SEV_SNP_LAUNCH_UPDATE" }
        let run = Confidential.launch(try Self.sample(), driver)
        #expect(run.failure == nil, "\(run.failure?.description ?? "")")
        let calls = run.trace.filter { $0.command == "KVM_SEV_SNP_LAUNCH_UPDATE" }
        let eagain = -Int(Errno.resourceTemporarilyUnavailable.rawValue)
        #expect(calls.map(\.result) == [eagain, eagain, eagain, 0, 0])
        #expect(Set(calls[0...3].map(\.payload)).count == 1, "the same request until KVM does it")
        #expect(run.resultEntry("snp.launch-update.payload") == "0 (4 calls, 3 EAGAIN)")
    }

    /// Never spin: a kernel that keeps answering 0 without doing anything, or EAGAIN, fails the step after 16
    /// calls in a row, and everything is undone.
    @Test(arguments: ["no progress", "EAGAIN"])
    func aLaunchUpdateWithoutProgressFailsAfterSixteenCalls(_ how: String) throws {
        let driver = MockingDriver(mode: .fakeKernel)
        if how == "EAGAIN" {
            driver.force(.resourceTemporarilyUnavailable, times: .max) { $0.command == "KVM_SEV_SNP_LAUNCH_UPDATE" }
        } else {
            driver.answer(where: { $0.command == "KVM_SEV_SNP_LAUNCH_UPDATE" }) { _ in 0 }
        }
        let run = Confidential.launch(try Self.sample(), driver)
        let failure = try #require(run.failure)
        #expect(failure.stepID == "snp.launch-update.payload" && failure.op == "KVM_SEV_SNP_LAUNCH_UPDATE")
        #expect(run.trace.filter { $0.command == "KVM_SEV_SNP_LAUNCH_UPDATE" }.count == PartialProgress.maximumStalls)
        if how == "EAGAIN" {
            #expect(failure.errnoName == "EAGAIN")
            #expect(failure.detail.hasPrefix("EAGAIN (Resource temporarily unavailable) 16 times in a row, gfn_start 0x100 uaddr 0x"))
        } else {
            #expect(failure.detail.hasPrefix("no progress in 16 calls in a row, gfn_start 0x100 uaddr 0x"))
            #expect(failure.detail.hasSuffix(" len 0x1000 left; giving up"))
        }
        #expect(run.messages.last == "kvmplan: \(failure)")
        #expect(run.trace.filter { $0.name == "close" }.count == run.trace.filter { $0.name == "open" || $0.operation.hasPrefix("KVM_CREATE_") }.count)
    }

    /// A remainder that does not follow from the work done (here: it grows) fails at once: no second call.
    @Test func aRemainderThatGrowsFailsAtOnce() throws {
        let driver = MockingDriver(mode: .fakeKernel)
        driver.answer(where: { $0.command == "KVM_SEV_SNP_LAUNCH_UPDATE" }) { call in
            var update = Bytes(call.payload)
            update.set(SNPUpdate.len, update.get(SNPUpdate.len) + 4096)
            call.payload = update.raw
            return 0
        }
        let run = Confidential.launch(try Self.sample(), driver)
        let failure = try #require(run.failure)
        #expect(failure.stepID == "snp.launch-update.payload")
        #expect(failure.detail.contains("len 0x2000 after gfn_start 0x100") && failure.detail.hasSuffix(": the remainder grew"))
        #expect(run.trace.filter { $0.command == "KVM_SEV_SNP_LAUNCH_UPDATE" }.count == 1)
    }

    /// The firmware's error (`kvm_sev_cmd.error`, which KVM copies back on failure) is in the failure message.
    @Test func theFirmwareErrorIsInTheFailure() throws {
        let driver = MockingDriver(mode: .fakeKernel)
        driver.answer(where: { $0.command == "KVM_SEV_SNP_LAUNCH_UPDATE" }) { call in
            var cmd = Bytes(call.bytes)
            cmd.set(SEVCmd.error, 0x16, 4)  // SEV_RET_INVALID_PARAM
            call.bytes = cmd.raw
            return -Int(Errno.ioError.rawValue)
        }
        let run = Confidential.launch(try Self.sample(), driver)
        let failure = try #require(run.failure)
        #expect(failure.errnoName == "EIO")
        #expect(failure.description.hasPrefix("step snp.launch-update.payload (KVM_SEV_SNP_LAUNCH_UPDATE, "))
        #expect(failure.description.hasSuffix("sev-snp.yaml:35:13) failed: EIO (Input/output error), firmware error 0x16"))
        // Undone newest first: every step that defined something, back to %kvm.
        #expect(run.entries.filter { $0.kind == .undo }.compactMap(\.stepID).last == "kvm")
        #expect(run.entries.filter { $0.kind == .undo }.compactMap(\.stepID).contains("sev"))
    }

    /// With an ID block and its authentication structure, LAUNCH_FINISH passes both by address (checked here by
    /// reading them during the call, as the kernel's copy_from_user would) and sets id_block_en.
    @Test func anIDBlockIsPassedByAddress() throws {
        var sample = try Self.sample()
        let index = try #require(sample.plan.steps.firstIndex { $0.id == "snp.launch-finish" })
        let block = (0..<96).map { UInt8($0) }
        let auth = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let hostData = [UInt8](repeating: 0xab, count: 32)
        sample.plan.steps[index].operation = .snpLaunchFinish(finish: SNPLaunchFinish(hostData: hostData, idBlock: block, idAuth: auth))
        let driver = MockingDriver(mode: .fakeKernel)
        let seen = Recorder()
        driver.answer(where: { $0.command == "KVM_SEV_SNP_LAUNCH_FINISH" }) { call in
            let finish = Bytes(call.payload)
            guard let blockAddress = UnsafeRawPointer(bitPattern: UInt(finish.get(SNPFinish.idBlockUaddr))),
                let authAddress = UnsafeRawPointer(bitPattern: UInt(finish.get(SNPFinish.idAuthUaddr)))
            else { return -Int(Errno.badAddress.rawValue) }
            // SAFETY: the addresses are the launcher's ID block and auth buffers, valid for the duration of this
            // call (this answer runs inside the ioctl wrapper); 96 and 4096 bytes as the kernel reads them.
            seen.append(Array(UnsafeRawBufferPointer(start: blockAddress, count: 96)))
            seen.append(Array(UnsafeRawBufferPointer(start: authAddress, count: 4096)))
            return 0
        }
        let run = Confidential.launch(sample, driver)
        #expect(run.failure == nil)
        let finish = Bytes(try #require(run.trace.last { $0.command == "KVM_SEV_SNP_LAUNCH_FINISH" }).payload)
        #expect(finish.get(SNPFinish.idBlockEn, 1) == 1 && finish.get(SNPFinish.authKeyEn, 1) == 0)
        #expect(Array(finish.raw[SNPFinish.hostData..<SNPFinish.pad0]) == hostData)
        #expect(seen.values == [block, auth])
    }

    /// A forced errno on each launch command, /dev/sev's open included, fails that step, names the sub-command
    /// and errno, and undoes everything acquired, newest first (every call: MockedKernelTests).
    @Test(arguments: ["open /dev/sev", "KVM_SEV_INIT2", "KVM_SEV_SNP_LAUNCH_START", "KVM_SEV_SNP_LAUNCH_UPDATE", "KVM_SEV_SNP_LAUNCH_FINISH"])
    func aFailingLaunchCommandIsNamedAndUndone(_ spelling: String) throws {
        let sample = try Self.sample()
        let driver = MockingDriver(mode: .fakeKernel)
        driver.force(.invalidArgument) { MockedKernelTests.spelling($0) == spelling }
        let run = Confidential.launch(sample, driver)
        let failure = try #require(run.failure)
        let failed = try #require(run.first(spelling))
        #expect(failure.op == (spelling == "open /dev/sev" ? "open" : spelling))
        #expect(failure.detail == "EINVAL (Invalid argument)" && failure.errnoName == "EINVAL")
        let stepIndex = try #require(sample.plan.steps.firstIndex { $0.id == failure.stepID })
        let defined = sample.plan.steps[..<stepIndex].filter { $0.operation.defines != nil }.map(\.id)
        #expect(run.entries.filter { $0.kind == .undo }.compactMap(\.stepID) == defined.reversed())
        let created = run.trace[..<failed].filter { $0.name == "open" || $0.operation.hasPrefix("KVM_CREATE_") }.map { CInt($0.result) }
        #expect(run.trace[(failed + 1)...].filter { $0.name == "close" }.map(\.fd) == created.reversed())
    }
}

/// Values an answer saw, for the test to look at afterwards.
final class Recorder: Sendable {
    private let state = Mutex<[[UInt8]]>([])
    func append(_ value: [UInt8]) { state.withLock { $0.append(value) } }
    var values: [[UInt8]] { state.withLock { $0 } }
}

// MARK: - TDX

@Suite struct TDXLaunchTests {
    static func sample() throws -> CompiledSample { try Samples.compile("tdx") }

    static func launch(_ configure: (MockingDriver) -> Void = { _ in }) throws -> RecordedLaunch {
        let driver = MockingDriver(mode: .fakeKernel)
        configure(driver)
        FakeTDXModule.install(driver)
        return Confidential.launch(try sample(), driver)
    }

    @Test func everyStructIsByteExact() throws {
        let run = try Self.launch()
        #expect(run.failure == nil, "\(run.failure?.description ?? "")")
        let vmFD = try #require(run.result(of: "KVM_CREATE_VM"))
        let vcpuFDs = run.all("KVM_CREATE_VCPU").map { CInt(run.trace[$0].result) }
        let commands = run.trace.filter { $0.operation == "KVM_MEMORY_ENCRYPT_OP" }
        #expect(
            commands.map(\.command) == [
                "KVM_TDX_CAPABILITIES", "KVM_TDX_INIT_VM", "KVM_TDX_GET_CPUID", "KVM_TDX_INIT_VCPU", "KVM_TDX_GET_CPUID",
                "KVM_TDX_INIT_VCPU", "KVM_TDX_INIT_MEM_REGION", "KVM_TDX_FINALIZE_VM",
            ])
        // struct kvm_tdx_cmd: id, flags (MEASURE for the measured payload), data (a pointer, or INIT_VCPU's RCX
        // and FINALIZE's 0), hw_error 0 going in (KVM refuses anything else).
        let ids: [UInt64] = [0, 1, 5, 2, 5, 2, 3, 4]
        let fds = [vmFD, vmFD, vcpuFDs[0], vcpuFDs[0], vcpuFDs[1], vcpuFDs[1], vcpuFDs[0], vmFD]
        for (i, call) in commands.enumerated() {
            let cmd = Bytes(call.bytes)
            #expect(cmd.raw.count == TDXCmd.size && call.fd == fds[i] && call.request == 0xC008_AEBA, "\(call)")
            #expect(cmd.get(TDXCmd.id, 4) == ids[i] && cmd.get(TDXCmd.hwError) == 0, "\(call)")
            #expect(cmd.get(TDXCmd.flags, 4) == (call.command == "KVM_TDX_INIT_MEM_REGION" ? 1 : 0), "\(call)")
            let immediate = call.command == "KVM_TDX_INIT_VCPU" || call.command == "KVM_TDX_FINALIZE_VM"
            #expect(immediate ? cmd.get(TDXCmd.data) == 0 && call.payload == nil : cmd.get(TDXCmd.data) != 0, "\(call)")
        }

        // KVM_TDX_CAPABILITIES goes in as a zeroed struct with room for KVM_MAX_CPUID_ENTRIES (256) entries.
        let caps = Bytes(commands[0].payload)
        #expect(caps.raw.count == TDXCaps.cpuid + CPUID2.entries + 256 * CPUID2.entrySize)
        #expect(caps.get(TDXCaps.cpuid + CPUID2.nent, 4) == 256)
        #expect(caps.isZero(0..<TDXCaps.cpuid) && caps.isZero(TDXCaps.cpuid + CPUID2.padding..<caps.raw.count))

        // KVM_TDX_INIT_VM: the manifest's attributes, XFAM and MRCONFIGID, zero MROWNER/MROWNERCONFIG and reserved,
        // the CPUID computed by hand from the capabilities and KVM_GET_SUPPORTED_CPUID (GPAW 48), nothing after it.
        let initVM = Bytes(commands[1].payload)
        let entries = FakeTDXModule.initVMCPUID
        #expect(initVM.raw.count == TDXInit.cpuid + CPUID2.entries + entries.count * CPUID2.entrySize)
        #expect(initVM.get(TDXInit.attributes) == 0 && initVM.get(TDXInit.xfam) == 3)
        #expect(
            Array(initVM.raw[TDXInit.mrconfigid..<TDXInit.mrowner])
                == HexBytes.decode(
                    "dc42f71da52d2804a593546013146b0c2c1009b5d226bad910a262dd6553f3ff14e2643d40026f44c30f798813a54774"))
        #expect(initVM.isZero(TDXInit.mrowner..<TDXInit.reserved) && initVM.isZero(TDXInit.reserved..<TDXInit.cpuid))
        #expect(initVM.get(TDXInit.cpuid + CPUID2.padding, 4) == 0)
        #expect(initVM.cpuid(at: TDXInit.cpuid) == entries)
        #expect(initVM.cpuidPaddingIsZero(at: TDXInit.cpuid))

        // Per vCPU: KVM_SET_CPUID2 gets exactly what KVM_TDX_GET_CPUID returned (which went in with room for 256).
        for getCPUID in commands.filter({ $0.command == "KVM_TDX_GET_CPUID" }) {
            #expect(Bytes(getCPUID.payload).get(CPUID2.nent, 4) == 256 && getCPUID.payload?.count == 8 + 256 * 40)
        }
        let setCPUID = run.trace.filter { $0.operation == "KVM_SET_CPUID2" }
        #expect(setCPUID.map(\.fd) == vcpuFDs)
        for call in setCPUID {
            #expect(Bytes(call.bytes).cpuid(at: 0) == FakeTDXModule.tdCPUID && Bytes(call.bytes).get(CPUID2.padding, 4) == 0)
            #expect(call.bytes?.count == 8 + FakeTDXModule.tdCPUID.count * 40)
        }

        // KVM_TDX_INIT_MEM_REGION: the staging mapping, the firmware's GPA, its 4 pages.
        let staging = try #require(run.mappings["staging-payload"])
        let region = Bytes(commands[6].payload)
        #expect(region.raw.count == TDXMem.size)
        #expect(region.get(TDXMem.sourceAddr) == staging && region.get(TDXMem.gpa) == 0xffff_c000 && region.get(TDXMem.nrPages) == 4)
    }

    /// The kernel's order (tdx.c, KVM_UAPI.md §8): CAPABILITIES, INIT_VM before any vCPU, per vCPU GET_CPUID →
    /// SET_CPUID2 → INIT_VCPU, INIT_MEM_REGION on an initialised vCPU after the range is private, FINALIZE last.
    @Test func theCallsFollowTheKernelsOrder() throws {
        let run = try Self.launch()
        #expect(run.failure == nil)
        let caps = try #require(run.first("KVM_TDX_CAPABILITIES"))
        let initVM = try #require(run.first("KVM_TDX_INIT_VM"))
        let split = try #require(run.trace.firstIndex { $0.operation == "KVM_ENABLE_CAP" && $0.bytes.map { Bytes($0).get(0, 4) } == 121 })
        let finalize = try #require(run.first("KVM_TDX_FINALIZE_VM"))
        let memRegion = try #require(run.first("KVM_TDX_INIT_MEM_REGION"))
        #expect(caps < initVM && split < initVM)
        let creates = run.all("KVM_CREATE_VCPU")
        #expect(creates.count == 2 && creates.allSatisfy { initVM < $0 })
        for create in creates {
            let fd = CInt(run.trace[create].result)
            let own = run.trace.indices.filter { $0 > create && run.trace[$0].fd == fd && run.trace[$0].name == "ioctl" }
            #expect(own.map { MockedKernelTests.spelling(run.trace[$0]) }.prefix(3) == ["KVM_TDX_GET_CPUID", "KVM_SET_CPUID2", "KVM_TDX_INIT_VCPU"])
        }
        let firstVCPU = CInt(run.trace[creates[0]].result)
        let initVCPU0 = try #require(run.trace.indices.first { run.trace[$0].command == "KVM_TDX_INIT_VCPU" && run.trace[$0].fd == firstVCPU })
        #expect(run.trace[memRegion].fd == firstVCPU && initVCPU0 < memRegion)
        let firmwarePrivate = try #require(run.trace.indices.last { run.trace[$0].operation == "KVM_SET_MEMORY_ATTRIBUTES" })
        #expect(Bytes(run.trace[firmwarePrivate].bytes).get(0) == 0xffe0_0000 && firmwarePrivate < memRegion)
        #expect(memRegion < finalize && run.setUp.count == finalize + 1, "FINALIZE is the last call before the teardown")
    }

    @Test func initMemRegionIsRepeatedWithTheRemainderIncludingAfterEINTR() throws {
        // One page per call; the second call is interrupted after its page (KVM writes the remainder back and
        // returns EINTR), which Syscalls retries with that remainder.
        let calls = Counter()
        let run = try Self.launch { driver in
            driver.answer(where: { $0.command == "KVM_TDX_INIT_MEM_REGION" }) { call in
                var region = Bytes(call.payload)
                region.set(TDXMem.sourceAddr, region.get(TDXMem.sourceAddr) + 4096)
                region.set(TDXMem.gpa, region.get(TDXMem.gpa) + 4096)
                region.set(TDXMem.nrPages, region.get(TDXMem.nrPages) - 1)
                call.payload = region.raw
                return calls.next() == 1 ? -Int(Errno.interrupted.rawValue) : 0
            }
        }
        #expect(run.failure == nil, "\(run.failure?.description ?? "")")
        let staging = try #require(run.mappings["staging-payload"])
        let seen = run.trace.filter { $0.command == "KVM_TDX_INIT_MEM_REGION" }
        #expect(seen.map { Bytes($0.payload).get(TDXMem.nrPages) } == [4, 3, 2, 1])
        #expect(seen.map { Bytes($0.payload).get(TDXMem.gpa) } == [0xffff_c000, 0xffff_d000, 0xffff_e000, 0xffff_f000])
        #expect(seen.map { Bytes($0.payload).get(TDXMem.sourceAddr) } == (0..<4).map { staging + $0 * 4096 })
        #expect(seen.allSatisfy { Bytes($0.bytes).get(TDXCmd.flags, 4) == 1 && Bytes($0.bytes).get(TDXCmd.hwError) == 0 })
        // The interrupted call is retried inside one launcher call: 3 launcher calls for 4 kernel calls.
        #expect(run.resultEntry("tdx.init-mem-region.payload") == "0 (3 calls)")
    }

    @Test(arguments: ["no progress", "EAGAIN"])
    func initMemRegionWithoutProgressFailsAfterSixteenCalls(_ how: String) throws {
        let run = try Self.launch { driver in
            if how == "EAGAIN" {
                driver.force(.resourceTemporarilyUnavailable, times: .max) { $0.command == "KVM_TDX_INIT_MEM_REGION" }
            } else {
                driver.answer(where: { $0.command == "KVM_TDX_INIT_MEM_REGION" }) { _ in 0 }
            }
        }
        let failure = try #require(run.failure)
        #expect(failure.stepID == "tdx.init-mem-region.payload" && failure.op == "KVM_TDX_INIT_MEM_REGION")
        #expect(failure.detail.hasSuffix("gpa 0xffffc000 nr_pages 4 left; giving up"))
        #expect(run.trace.filter { $0.command == "KVM_TDX_INIT_MEM_REGION" }.count == PartialProgress.maximumStalls)
        #expect(run.first("KVM_TDX_FINALIZE_VM") == nil)
    }

    /// KVM_TDX_INIT_VM's EAGAIN (no entropy for the TD's keys, tdx.c `__tdx_td_init`) and KVM_TDX_FINALIZE_VM's EBUSY
    /// (busy operands, tdx.c `tdx_td_finalize`) are repeated, each with a fresh `kvm_tdx_cmd` (hw_error 0 going in),
    /// at most 16 times in a row; any other errno ends the step at once.
    @Test(arguments: [("KVM_TDX_INIT_VM", "tdx.init-vm", Errno.resourceTemporarilyUnavailable), ("KVM_TDX_FINALIZE_VM", "tdx.finalize", .resourceBusy)])
    func aCommandTheKernelAsksToRepeatIsRepeated(_ command: String, _ stepID: String, _ errno: Errno) throws {
        let name = KVMError.name(of: errno)
        let retried = try Self.launch { driver in driver.force(errno, times: 3) { $0.command == command } }
        #expect(retried.failure == nil, "\(retried.failure?.description ?? "")")
        let calls = retried.trace.filter { $0.command == command }
        #expect(calls.count == 4)
        #expect(calls.allSatisfy { Bytes($0.bytes).get(TDXCmd.hwError) == 0 })
        #expect(retried.resultEntry(stepID)?.hasPrefix("0 (4 calls, 3 \(name))") == true)

        let stuck = try Self.launch { driver in driver.force(errno, times: .max) { $0.command == command } }
        let failure = try #require(stuck.failure)
        #expect(failure.stepID == stepID && failure.errnoName == name)
        #expect(failure.detail.hasSuffix("16 times in a row; giving up"))
        #expect(stuck.trace.filter { $0.command == command }.count == PartialProgress.maximumStalls)

        let other = try Self.launch { driver in driver.force(.ioError) { $0.command == command } }
        #expect(other.failure?.errnoName == "EIO")
        #expect(other.trace.filter { $0.command == command }.count == 1)
    }

    /// `kvm_tdx_cmd.hw_error` (the SEAMCALL status KVM copies back) is in the failure message.
    @Test func theSEAMCALLStatusIsInTheFailure() throws {
        let run = try Self.launch { driver in
            driver.answer(where: { $0.command == "KVM_TDX_INIT_VM" }) { call in
                var cmd = Bytes(call.bytes)
                cmd.set(TDXCmd.hwError, 0xc000_0100_0000_0001)  // TDX_OPERAND_INVALID, operand 1
                call.bytes = cmd.raw
                return -Int(Errno.invalidArgument.rawValue)
            }
        }
        let failure = try #require(run.failure)
        #expect(failure.description.hasPrefix("step tdx.init-vm (KVM_TDX_INIT_VM, "))
        #expect(failure.description.hasSuffix("failed: EINVAL (Invalid argument), firmware error 0xc000010000000001"))
        #expect(run.all("KVM_CREATE_VCPU").isEmpty)
    }

    /// KVM_SET_CPUID2 from KVM_TDX_GET_CPUID: a failure of the TDX sub-command is named as such.
    @Test func aFailingGetCPUIDIsNamed() throws {
        let run = try Self.launch { driver in driver.force(.invalidArgument) { $0.command == "KVM_TDX_GET_CPUID" } }
        let failure = try #require(run.failure)
        #expect(failure.stepID == "cpuid.0" && failure.op == "KVM_SET_CPUID2")
        #expect(failure.detail == "KVM_TDX_GET_CPUID: EINVAL (Invalid argument)")
        #expect(run.first("KVM_SET_CPUID2") == nil)
    }

    @Test(arguments: ["KVM_TDX_CAPABILITIES", "KVM_TDX_INIT_VM", "KVM_TDX_GET_CPUID", "KVM_TDX_INIT_VCPU", "KVM_TDX_INIT_MEM_REGION", "KVM_TDX_FINALIZE_VM"])
    func aFailingLaunchCommandIsUndoneNewestFirst(_ command: String) throws {
        let sample = try Self.sample()
        let run = try Self.launch { driver in driver.force(.ioError) { $0.command == command } }
        let failure = try #require(run.failure)
        #expect(failure.errnoName == "EIO")
        let failed = try #require(run.first(command))
        let stepIndex = try #require(sample.plan.steps.firstIndex { $0.id == failure.stepID })
        let defined = sample.plan.steps[..<stepIndex].filter { $0.operation.defines != nil }.map(\.id)
        #expect(run.entries.filter { $0.kind == .undo }.compactMap(\.stepID) == defined.reversed())
        let created = run.trace[..<failed].filter { $0.name == "open" || $0.operation.hasPrefix("KVM_CREATE_") }.map { CInt($0.result) }
        #expect(run.trace[(failed + 1)...].filter { $0.name == "close" }.map(\.fd) == created.reversed())
        #expect(run.trace[(failed + 1)...].allSatisfy { $0.name == "close" || $0.name == "munmap" })
    }

    /// The INIT_VM CPUID on its own: configurable ∩ supported, GPAW 52 too, and no leaf that is not configurable.
    @Test(arguments: [48, 52] as [UInt8])
    func initVMCPUIDIsConfigurableLeavesOnly(_ gpaw: UInt8) {
        let cpuid = TDXCPUID.initVM(configurable: FakeTDXModule.configurable, supported: FakeTDXModule.supported, gpaw: gpaw)
        #expect(cpuid.map(\.function) == [0x1, 0x7, 0x1d, 0x8000_0008])
        #expect(cpuid.last?.eax == 0x0000_0030 | UInt32(gpaw) << 16)
        #expect(Array(cpuid.dropLast()) == Array(FakeTDXModule.initVMCPUID.dropLast()))
    }
}

/// A call counter for answers (which are `@Sendable`).
final class Counter: Sendable {
    private let state = Mutex(0)
    /// The count before this call: 0, 1, 2, …
    func next() -> Int {
        state.withLock { count in
            defer { count += 1 }
            return count
        }
    }
}
