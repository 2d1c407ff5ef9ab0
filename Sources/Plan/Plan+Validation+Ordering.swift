import Diagnostics
import GuestLayout

// The kernel's ordering rules for TDX and SEV-SNP plans, and the rules of the launch commands that populate
// private memory (KVM_UAPI.md §3.1, §3.2, §8; line numbers are Linux 7.1.5's). `validate()` runs them, so a
// hand-edited plan that breaks one is refused before anything is created.
//
// Issue ids (stable):
//   plan.tdx-order         INIT_VM, the split IRQ chip, per-vCPU GET_CPUID → SET_CPUID2 → INIT_VCPU, FINALIZE
//   plan.tdx-boot-state    a `boot` step in a TD (the TDX module sets a TD's registers)
//   plan.snp-order         INIT2 → LAUNCH_START → memslots → LAUNCH_UPDATE → vCPU state → LAUNCH_FINISH → RUN
//   plan.snp-boot-area     the launcher's GDT/page tables not LAUNCH_UPDATE'd after the boot step wrote them
//   plan.hypercall-exit    SNP/TDX without KVM_ENABLE_CAP(KVM_CAP_EXIT_HYPERCALL, 1 << KVM_HC_MAP_GPA_RANGE)
//   plan.populate          a launch command's range: page-aligned, in a guest_memfd memslot made before, PRIVATE first

extension Plan {
    /// The ordering and populate issues of the plan, in step order within each rule.
    func orderingIssues() -> [PlanIssue] {
        var out = OrderingCheck(plan: self)
        switch platform {
        case .tdx: out.tdx()
        case .sevSNP: out.snp()
        default: break
        }
        if platform == .tdx || platform == .sevSNP { out.hypercallExit() }
        out.populateRules()
        return out.issues
    }

    /// The part of the launcher's boot area (`X86BootArea`) a `boot` step of `mode` writes: the GDT page
    /// (protected), the GDT and the page tables (long, linux), nothing (real, el1).
    public static func bootArea(_ mode: BootMode) -> GPARange? {
        guard let x86 = mode.x86BootArea, let range = X86BootArea.range(x86) else { return nil }
        return GPARange(gpa: range.lowerBound, size: range.upperBound - range.lowerBound)
    }
}

/// A range a launch command copies into private memory: SNP LAUNCH_UPDATE, TDX INIT_MEM_REGION, CCA RMI_POPULATE.
struct PopulateStep {
    var index: Int
    var range: GPARange
    var source: Address
}

private struct OrderingCheck {
    let plan: Plan
    var issues: [PlanIssue] = []

    var steps: [Step] { plan.steps }

    mutating func issue(_ id: DiagnosticID, _ index: Int?, _ message: String, field: String? = nil) {
        let step = index.map { steps[$0] }
        issues.append(PlanIssue(id, message, stepIndex: index, stepID: step?.id, field: field, source: step?.source))
    }

    func indices(_ kind: OperationKind) -> [Int] { steps.indices.filter { steps[$0].operation.kind == kind } }
    func first(_ kind: OperationKind) -> Int? { steps.firstIndex { $0.operation.kind == kind } }
    func name(_ index: Int) -> String { "step \(index) (\(steps[index].id))" }

    func enableCap(_ cap: Capability) -> [(index: Int, args: [UInt64])] {
        steps.indices.compactMap { index in
            guard case .enableCap(let s) = steps[index].operation, case let c = s.cap, case let args = s.args, s.on == .vm, c == cap else { return nil }
            return (index, args)
        }
    }

    // MARK: - TDX (KVM_UAPI.md §3.1, §8)

    mutating func tdx() {
        let id: DiagnosticID = "plan.tdx-order"
        let initVMs = indices(.tdxInitVM)
        guard let initVM = initVMs.first else {
            issue(id, nil, "a TDX plan needs KVM_TDX_INIT_VM before its vCPUs")
            return
        }
        for extra in initVMs.dropFirst() {
            issue(id, extra, "a second KVM_TDX_INIT_VM fails with EINVAL (the TD is initialized once)")
        }
        if let caps = first(.tdxCapabilities), caps > initVM {
            issue(id, caps, "KVM_TDX_CAPABILITIES comes after KVM_TDX_INIT_VM (\(name(initVM))); it is read first")
        }
        let creates = indices(.createVCPU)
        for index in creates where index < initVM {
            issue(id, index, "creates a vCPU before KVM_TDX_INIT_VM (\(name(initVM))): EBUSY")
        }
        // tdx_vcpu_create() is EINVAL without a split IRQ chip (tdx.c:685-686), enabled before any vCPU
        // (KVM_ENABLE_CAP is EEXIST once vCPUs exist, x86.c:6763-6782).
        if let firstVCPU = creates.first {
            let split = enableCap(.splitIRQChip)
            if !split.contains(where: { $0.index < firstVCPU }) {
                issue(
                    id, firstVCPU,
                    "creates a vCPU without KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP) before it: tdx_vcpu_create() fails with EINVAL (tdx.c:685-686)")
            }
            for (index, _) in split where index > firstVCPU {
                issue(id, index, "KVM_CAP_SPLIT_IRQCHIP is enabled after the first vCPU (\(name(firstVCPU))): EEXIST (x86.c:6763-6782)")
            }
            for (index, args) in split where args.first == 0 {
                issue(id, index, "KVM_CAP_SPLIT_IRQCHIP needs args[0] = the number of IOAPIC routes (24), not 0", field: "args.args")
            }
        }
        let finalizes = indices(.tdxFinalizeVM)
        guard let finalize = finalizes.first else {
            issue(id, nil, "a TDX plan needs KVM_TDX_FINALIZE_VM before any KVM_RUN")
            return
        }
        for extra in finalizes.dropFirst() { issue(id, extra, "KVM_TDX_FINALIZE_VM is issued more than once (EINVAL)") }

        // Per vCPU: KVM_TDX_GET_CPUID → KVM_SET_CPUID2 → KVM_TDX_INIT_VCPU. INIT_VCPU sets APIC_BASE to x2APIC, a
        // reserved bit unless the CPUID already has x2APIC (tdx.c:3072-3078, lapic.c:2848-2852).
        var initialized: [FdRef: Int] = [:]
        for index in indices(.tdxInitVCPU) {
            guard case .tdxInitVCPU(let s) = steps[index].operation, case let vcpu = s.vcpu else { continue }
            if let earlier = initialized[vcpu] {
                issue(id, index, "\(vcpu) is KVM_TDX_INIT_VCPU'd twice (first at \(name(earlier)))")
                continue
            }
            initialized[vcpu] = index
            if index > finalize { issue(id, index, "KVM_TDX_INIT_VCPU after KVM_TDX_FINALIZE_VM (\(name(finalize))): EINVAL") }
            let cpuid = steps.indices.first { i in
                if case .setCPUID2(let s) = steps[i].operation, s.vcpu == vcpu, s.from == .tdx { return i < index }
                return false
            }
            if cpuid == nil {
                issue(
                    id, index,
                    "KVM_TDX_INIT_VCPU of \(vcpu) without KVM_TDX_GET_CPUID → KVM_SET_CPUID2 before it: its x2APIC APIC_BASE is a reserved bit and INIT_VCPU fails (tdx.c:3072-3078, lapic.c:2848-2852)")
            }
        }
        for index in creates {
            guard let vcpu = steps[index].operation.defines else { continue }
            if initialized[vcpu] == nil { issue(id, index, "\(vcpu) is never KVM_TDX_INIT_VCPU'd") }
        }
        for index in indices(.setCPUID2) {
            guard case .setCPUID2(let s) = steps[index].operation, case let vcpu = s.vcpu, s.from == .supported else { continue }
            issue(id, index, "a TD's CPUID comes from KVM_TDX_GET_CPUID, not KVM_GET_SUPPORTED_CPUID (\(vcpu))", field: "args.from")
        }
        for index in indices(.tdxInitMemRegion) {
            guard case .tdxInitMemRegion(let s) = steps[index].operation, case let vcpu = s.vcpu else { continue }
            if index > finalize { issue(id, index, "KVM_TDX_INIT_MEM_REGION after KVM_TDX_FINALIZE_VM (\(name(finalize))): EINVAL") }
            if let done = initialized[vcpu], done > index {
                issue(id, index, "uses \(vcpu) before its KVM_TDX_INIT_VCPU (\(name(done)))")
            } else if initialized[vcpu] == nil {
                issue(id, index, "uses \(vcpu), which is never KVM_TDX_INIT_VCPU'd")
            }
        }
        for index in indices(.run) where index < finalize {
            issue(id, index, "runs before KVM_TDX_FINALIZE_VM (\(name(finalize)))")
        }
        for index in indices(.setBootState) {
            issue(
                "plan.tdx-boot-state", index,
                "a TD's registers are set by the TDX module (it starts at the reset vector 0xfffffff0); KVM has no KVM_SET_REGS/SREGS for TDs")
        }
    }

    // MARK: - SEV-SNP (KVM_UAPI.md §3.2, §8)

    mutating func snp() {
        let id: DiagnosticID = "plan.snp-order"
        guard let initIndex = first(.sevInit2) else { return issue(id, nil, "an SEV-SNP plan needs KVM_SEV_INIT2") }
        guard let start = first(.snpLaunchStart) else { return issue(id, nil, "an SEV-SNP plan needs KVM_SEV_SNP_LAUNCH_START") }
        guard let finish = first(.snpLaunchFinish) else { return issue(id, nil, "an SEV-SNP plan needs KVM_SEV_SNP_LAUNCH_FINISH") }
        if initIndex > start { issue(id, start, "KVM_SEV_SNP_LAUNCH_START before KVM_SEV_INIT2 (\(name(initIndex))) (sev.c:2266-2308)") }
        for extra in indices(.snpLaunchFinish).dropFirst() { issue(id, extra, "KVM_SEV_SNP_LAUNCH_FINISH issued twice") }
        for index in indices(.setUserMemoryRegion) + indices(.setUserMemoryRegion2) where index < start {
            issue(id, index, "a memslot before KVM_SEV_SNP_LAUNCH_START (\(name(start)))")
        }
        // LAUNCH_UPDATE needs the launch context of LAUNCH_START and ends with LAUNCH_FINISH (sev.c:2421-2468).
        for index in indices(.snpLaunchUpdate) {
            if index < start { issue(id, index, "KVM_SEV_SNP_LAUNCH_UPDATE before LAUNCH_START (\(name(start))): EINVAL") }
            if index > finish { issue(id, index, "KVM_SEV_SNP_LAUNCH_UPDATE after LAUNCH_FINISH (\(name(finish))): EINVAL") }
        }
        // LAUNCH_FINISH measures each vCPU's VMSA from the registers set before it (sev.c:2571-2574, 924-999).
        for index in indices(.createVCPU) where index > finish {
            issue(id, index, "creates a vCPU after LAUNCH_FINISH (\(name(finish))): its VMSA is never measured")
        }
        for index in indices(.setBootState) where index > finish {
            issue(id, index, "sets vCPU state after LAUNCH_FINISH (\(name(finish))): the VMSA is already encrypted")
        }
        if let payload = plan.payload, payload.format != .firmware {
            let booted = Set(indices(.setBootState).compactMap { steps[$0].operation.on })
            for index in indices(.createVCPU) {
                if let vcpu = steps[index].operation.defines, !booted.contains(vcpu) {
                    issue(id, index, "\(vcpu) is never given its boot state before LAUNCH_FINISH")
                }
            }
        }
        for index in indices(.run) where index < finish {
            issue(id, index, "runs before KVM_SEV_SNP_LAUNCH_FINISH (\(name(finish)))")
        }

        // The boot area a `boot` step writes is read as private memory: it must be LAUNCH_UPDATE'd after the first
        // boot step wrote it (KVM_UAPI.md §8).
        if let firstBoot = first(.setBootState), case .setBootState(let s) = steps[firstBoot].operation, case let mode = s.mode,
            let area = Plan.bootArea(mode)
        {
            let covering = populates().filter { $0.index > firstBoot }.map(\.range)
            if !covered(area, by: covering) {
                issue(
                    "plan.snp-boot-area", firstBoot,
                    "the boot area \(area) this step writes is not KVM_SEV_SNP_LAUNCH_UPDATE'd after it: an SNP vCPU reads its GDT and page tables as private memory, and the guest cannot start")
            }
        }
    }

    // MARK: - Hypercall exits (KVM_UAPI.md §8)

    mutating func hypercallExit() {
        let enabled = enableCap(.exitHypercall).first { $0.args.first.map { $0 & (1 << Hypercall.mapGPARange) != 0 } ?? false }
        if let enabled {
            if let run = first(.run), run < enabled.index {
                issue("plan.hypercall-exit", enabled.index, "KVM_CAP_EXIT_HYPERCALL is enabled after the first KVM_RUN (\(name(run)))")
            }
        } else {
            issue(
                "plan.hypercall-exit", nil,
                "\(plan.platform.rawValue) needs KVM_ENABLE_CAP(KVM_CAP_EXIT_HYPERCALL, 1 << KVM_HC_MAP_GPA_RANGE) on the VM: without it every guest page-state change fails (sev.c:3824-3827, 4034-4036; tdx.c:1247-1257)")
        }
    }

    // MARK: - Launch commands that populate private memory (KVM_UAPI.md §2.3, §3, §7)

    func populates() -> [PopulateStep] {
        steps.indices.compactMap { index in
            switch steps[index].operation {
            case .snpLaunchUpdate(let s):
                let gpa = s.gpa, size = s.size, source = s.source
                return PopulateStep(index: index, range: GPARange(gpa: gpa, size: size), source: source)
            case .tdxInitMemRegion(let s):
                let gpa = s.gpa, pages = s.nrPages, source = s.source
                let (size, overflow) = pages.multipliedReportingOverflow(by: 4096)
                return PopulateStep(index: index, range: GPARange(gpa: gpa, size: overflow ? .max : size), source: source)
            case .armRMIPopulate(let s):
                let base = s.base, size = s.size, source = s.source
                return PopulateStep(index: index, range: GPARange(gpa: base, size: size), source: source)
            default:
                return nil
            }
        }
    }

    /// Whether `ranges` together cover all of `range`.
    func covered(_ range: GPARange, by ranges: [GPARange]) -> Bool {
        var cursor = range.gpa
        let (end, overflow) = range.gpa.addingReportingOverflow(range.size)
        guard !overflow else { return false }
        while cursor < end {
            let next = ranges.filter { $0.gpa <= cursor && $0.gpa &+ $0.size > cursor }.map { $0.gpa &+ $0.size }.max()
            guard let next else { return false }
            cursor = next
        }
        return true
    }

    /// Launch commands copy whole 4 KiB pages from a 4 KiB-aligned source (since 7.0) into a guest_memfd memslot
    /// created earlier, whose range is PRIVATE beforehand on x86 (sev.c:2421-2468; kvm_gmem_populate).
    mutating func populateRules() {
        let id: DiagnosticID = "plan.populate"
        var slots: [(index: Int, range: GPARange, guestMemfd: Bool)] = []
        for (index, step) in steps.enumerated() {
            switch step.operation {
            case .setUserMemoryRegion(let s):
                let gpa = s.gpa, size = s.size
                slots.append((index, GPARange(gpa: gpa, size: size), false))
            case .setUserMemoryRegion2(let s):
                let gpa = s.gpa, size = s.size, gmem = s.guestMemfd
                slots.append((index, GPARange(gpa: gpa, size: size), gmem != nil))
            default:
                break
            }
        }
        for p in populates() {
            let what = steps[p.index].operation.command ?? steps[p.index].operation.op
            if p.range.gpa % 4096 != 0 || p.range.size % 4096 != 0 || p.range.size == 0 {
                issue(id, p.index, "\(what) of \(p.range) is not whole 4 KiB pages (EINVAL)")
            }
            if p.source.offset % 4096 != 0 {
                issue(id, p.index, "\(what) reads from \(p.source), which is not 4 KiB-aligned (EINVAL since 7.0)", field: "args.source")
            }
            guard let slot = slots.first(where: { $0.range.contains(p.range) }) else {
                issue(id, p.index, "\(what) of \(p.range) does not lie inside one memslot")
                continue
            }
            if !slot.guestMemfd { issue(id, p.index, "\(what) of \(p.range) lies in a memslot without guest_memfd (EINVAL)") }
            if slot.index > p.index { issue(id, p.index, "\(what) comes before its memslot (\(name(slot.index)))") }
            if plan.arch == .x86_64 && !privateBefore(p.index, p.range) {
                issue(
                    id, p.index,
                    "\(what) of \(p.range) without KVM_SET_MEMORY_ATTRIBUTES(PRIVATE) of the range before it: EINVAL (sev.c:2421-2468)")
            }
        }
    }

    /// Whether the PRIVATE attribute covers all of `range` after the steps before `index`.
    func privateBefore(_ index: Int, _ range: GPARange) -> Bool {
        var ranges: [GPARange] = []
        for step in steps[..<index] {
            guard case .setMemoryAttributes(let s) = step.operation, case let gpa = s.gpa, case let size = s.size, case let attributes = s.attributes else { continue }
            if attributes.contains(.private) {
                ranges.append(GPARange(gpa: gpa, size: size))
            } else {
                // Attributes without PRIVATE make the range shared again.
                let end = gpa &+ size
                ranges = ranges.flatMap { r -> [GPARange] in
                    var out: [GPARange] = []
                    let rEnd = r.gpa &+ r.size
                    if r.gpa < gpa { out.append(GPARange(gpa: r.gpa, size: min(rEnd, gpa) - r.gpa)) }
                    if rEnd > end { out.append(GPARange(gpa: max(r.gpa, end), size: rEnd - max(r.gpa, end))) }
                    return out
                }
            }
        }
        return covered(range, by: ranges)
    }
}
