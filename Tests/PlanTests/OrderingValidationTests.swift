import Diagnostics
import Plan
import Testing

/// `Plan.validate()` refuses a hand-edited TDX or SEV-SNP plan that breaks one of the kernel's ordering rules,
/// so `kvmplan launch PLAN.json` stops before creating anything. Each case starts from a valid fixture, breaks
/// one rule and cites the kernel lines that make the kernel refuse it (Linux 7.1.5, KVM_UAPI.md §8).
struct OrderingValidationTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var id: DiagnosticID
        var stepID: String?
        var message: String
        var plan: @Sendable () -> Plan
        var testDescription: String { name }
    }

    static func moving(_ id: String, before other: String, in plan: Plan) -> Plan {
        var plan = plan
        guard let from = plan.steps.firstIndex(where: { $0.id == id }) else { return plan }
        let step = plan.steps.remove(at: from)
        let to = plan.steps.firstIndex { $0.id == other } ?? 0
        plan.steps.insert(step, at: to)
        return plan
    }

    static func removing(_ id: String, from plan: Plan) -> Plan {
        var plan = plan
        plan.steps.removeAll { $0.id == id }
        return plan
    }

    static let cases: [Case] = [
        // MARK: TDX
        Case(
            name: "TDX: no split IRQ chip before the first vCPU (tdx.c:685-686)", id: "plan.tdx-order", stepID: "vcpu.0",
            message: "KVM_CAP_SPLIT_IRQCHIP"
        ) { removing("enable.KVM_CAP_SPLIT_IRQCHIP", from: Fixtures.tdx) },
        Case(
            name: "TDX: split IRQ chip enabled after a vCPU exists (x86.c:6763-6782, EEXIST)", id: "plan.tdx-order",
            stepID: "vcpu.0", message: "without KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP) before it"
        ) {
            var plan = Fixtures.tdx
            let from = plan.steps.firstIndex { $0.id == "enable.KVM_CAP_SPLIT_IRQCHIP" } ?? 0
            let step = plan.steps.remove(at: from)
            plan.steps.insert(step, at: (plan.steps.firstIndex { $0.id == "map-run.0" } ?? 0))
            return plan
        },
        Case(
            name: "TDX: KVM_TDX_INIT_VCPU before KVM_TDX_GET_CPUID → KVM_SET_CPUID2 (tdx.c:3072-3078, lapic.c:2848-2852)",
            id: "plan.tdx-order", stepID: "tdx.init-vcpu.0", message: "x2APIC"
        ) { moving("tdx.init-vcpu.0", before: "cpuid.0", in: Fixtures.tdx) },
        Case(
            name: "TDX: a vCPU before KVM_TDX_INIT_VM (EBUSY)", id: "plan.tdx-order", stepID: "vcpu.0", message: "before KVM_TDX_INIT_VM"
        ) { moving("tdx.init-vm", before: "map-run.0", in: Fixtures.tdx) },
        Case(
            name: "TDX: KVM_RUN before KVM_TDX_FINALIZE_VM", id: "plan.tdx-order", stepID: "run.0", message: "before KVM_TDX_FINALIZE_VM"
        ) { moving("run.0", before: "tdx.finalize", in: Fixtures.tdx) },
        Case(
            name: "TDX: boot state set on a TD (a TD starts at the reset vector)", id: "plan.tdx-boot-state", stepID: "boot.0",
            message: "reset vector"
        ) {
            var plan = Fixtures.tdx
            let at = plan.steps.firstIndex { $0.id == "tdx.init-vcpu.0" } ?? 0
            plan.steps.insert(Step("boot.0", .setBootState(vcpu: .vcpu(0), mode: .long, entry: 0x10_0000, vcpuCount: 1)), at: at + 1)
            return plan
        },
        Case(
            name: "TDX: no KVM_CAP_EXIT_HYPERCALL (tdx.c:1247-1257)", id: "plan.hypercall-exit", stepID: nil,
            message: "tdx.c:1247-1257"
        ) { removing("enable.KVM_CAP_EXIT_HYPERCALL", from: Fixtures.tdx) },
        Case(
            name: "TDX: INIT_MEM_REGION of a range that is not PRIVATE yet", id: "plan.populate", stepID: "tdx.init-mem-region.payload",
            message: "PRIVATE"
        ) { moving("attr.ram", before: "tdx.finalize", in: Fixtures.tdx) },

        // MARK: SEV-SNP
        Case(
            name: "SNP: LAUNCH_START before INIT2 (sev.c:2266-2308)", id: "plan.snp-order", stepID: "snp.launch-start",
            message: "before KVM_SEV_INIT2"
        ) { moving("snp.launch-start", before: "snp.init", in: Fixtures.sevSNP) },
        Case(
            name: "SNP: LAUNCH_UPDATE without PRIVATE attributes (sev.c:2421-2468)", id: "plan.populate",
            stepID: "snp.launch-update.payload", message: "sev.c:2421-2468"
        ) { removing("attr.ram", from: Fixtures.sevSNP) },
        Case(
            name: "SNP: vCPU state after LAUNCH_FINISH, whose VMSA it never measures (sev.c:2571-2574)", id: "plan.snp-order",
            stepID: "boot.0", message: "after LAUNCH_FINISH"
        ) {
            var plan = Fixtures.sevSNP
            let from = plan.steps.firstIndex { $0.id == "boot.0" } ?? 0
            let step = plan.steps.remove(at: from)
            plan.steps.insert(step, at: (plan.steps.firstIndex { $0.id == "snp.launch-finish" } ?? 0) + 1)
            return plan
        },
        Case(
            name: "SNP: the boot area is not LAUNCH_UPDATE'd (the vCPU reads its page tables as private memory)",
            id: "plan.snp-boot-area", stepID: "boot.0", message: "not KVM_SEV_SNP_LAUNCH_UPDATE'd"
        ) { removing("snp.launch-update.boot-area", from: Fixtures.sevSNP) },
        Case(
            name: "SNP: the boot area LAUNCH_UPDATE'd before the boot step wrote it", id: "plan.snp-boot-area", stepID: "boot.0",
            message: "after it"
        ) { moving("snp.launch-update.boot-area", before: "boot.0", in: Fixtures.sevSNP) },
        Case(
            name: "SNP: no KVM_CAP_EXIT_HYPERCALL (sev.c:3824-3827, 4034-4036)", id: "plan.hypercall-exit", stepID: nil,
            message: "sev.c:3824-3827"
        ) { removing("enable.KVM_CAP_EXIT_HYPERCALL", from: Fixtures.sevSNP) },
        Case(
            name: "SNP: KVM_RUN before LAUNCH_FINISH", id: "plan.snp-order", stepID: "run.0", message: "before KVM_SEV_SNP_LAUNCH_FINISH"
        ) { moving("run.0", before: "snp.launch-finish", in: Fixtures.sevSNP) },
    ]

    @Test(arguments: cases)
    func refuses(_ c: Case) throws {
        let issues = c.plan().validate()
        let matching = issues.filter { $0.id == c.id }
        #expect(!matching.isEmpty, "expected \(c.id); got \(issues)")
        let issue = try #require(matching.first)
        #expect(issue.stepID == c.stepID, "\(issue)")
        #expect(issue.message.contains(c.message), "\(issue.message)")
    }

    /// The refusal reaches users of plan files: decoding a plan JSON validates it.
    @Test func planJSONBreakingARuleIsRefused() throws {
        let broken = Self.moving("tdx.init-vcpu.0", before: "cpuid.0", in: Fixtures.tdx)
        let json = broken.jsonString(pretty: true)
        #expect(throws: PlanDecodingError.self) { try Plan(json: json) }
        #expect(try Plan(json: Fixtures.tdx.jsonString(pretty: true)) == Fixtures.tdx)
    }
}
