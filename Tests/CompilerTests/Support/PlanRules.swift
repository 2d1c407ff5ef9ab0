import Plan
import Testing

/// Checks of the kernel's rules on a plan (KVM_UAPI.md §2, §3), written once and applied to the samples and
/// to generated manifests alike. Each check returns human-readable violations; empty means the plan obeys.
enum PlanRules {
    // MARK: - Queries

    static func indices(_ plan: Plan, _ kind: OperationKind) -> [Int] {
        plan.steps.indices.filter { plan.steps[$0].operation.kind == kind }
    }

    static func first(_ plan: Plan, _ kind: OperationKind) -> Int? { indices(plan, kind).first }

    /// Index of the step that defines `ref`.
    static func definition(_ plan: Plan, _ ref: FdRef) -> Int? {
        plan.steps.firstIndex { $0.operation.defines == ref }
    }

    static func describe(_ plan: Plan, _ index: Int) -> String { "step \(index) (\(plan.steps[index].id))" }

    /// The memslots of a plan: range, whether guest_memfd-backed, and the step index.
    struct Slot {
        var index: Int
        var region: String
        var slot: UInt32
        var gpa: UInt64
        var size: UInt64
        var flags: MemoryRegionFlags
        var guestMemfd: FdRef?
        var userspace: FdRef?
    }

    static func slots(_ plan: Plan) -> [Slot] {
        plan.steps.enumerated().compactMap { index, step in
            switch step.operation {
            case .setUserMemoryRegion(let it):
                let region = it.region, slot = it.slot, flags = it.flags, gpa = it.gpa, size = it.size, userspace = it.userspace
                return Slot(index: index, region: region, slot: slot, gpa: gpa, size: size, flags: flags, guestMemfd: nil, userspace: userspace.map)
            case .setUserMemoryRegion2(let it):
                let region = it.region, slot = it.slot, flags = it.flags, gpa = it.gpa, size = it.size, userspace = it.userspace, gmem = it.guestMemfd
                return Slot(index: index, region: region, slot: slot, gpa: gpa, size: size, flags: flags, guestMemfd: gmem?.fd, userspace: userspace?.map)
            default:
                return nil
            }
        }
    }

    /// A range the plan populates into private memory with a launch command (SNP LAUNCH_UPDATE, TDX
    /// INIT_MEM_REGION, CCA RMI_POPULATE).
    struct Populate {
        var index: Int
        var gpa: UInt64
        var size: UInt64
        var source: Address
    }

    static func populates(_ plan: Plan) -> [Populate] {
        plan.steps.enumerated().compactMap { index, step in
            switch step.operation {
            case .snpLaunchUpdate(let it):
                let gpa = it.gpa, size = it.size, source = it.source
                return Populate(index: index, gpa: gpa, size: size, source: source)
            case .tdxInitMemRegion(let it):
                let gpa = it.gpa, pages = it.nrPages, source = it.source
                return Populate(index: index, gpa: gpa, size: pages &* 4096, source: source)
            case .armRMIPopulate(let it):
                let base = it.base, size = it.size, source = it.source
                return Populate(index: index, gpa: base, size: size, source: source)
            default:
                return nil
            }
        }
    }

    /// Whether the PRIVATE attribute covers all of `[gpa, gpa + size)` after the steps before `index`.
    static func privateBefore(_ plan: Plan, _ index: Int, gpa: UInt64, size: UInt64) -> Bool {
        var ranges: [(UInt64, UInt64)] = []
        for step in plan.steps[..<index] {
            if case .setMemoryAttributes(let it) = step.operation, case let a = it.gpa, case let s = it.size, case let attributes = it.attributes {
                if attributes.contains(.private) {
                    ranges.append((a, a &+ s))
                } else {
                    // Setting attributes without PRIVATE makes the range shared again.
                    ranges = ranges.flatMap { r -> [(UInt64, UInt64)] in
                        var out: [(UInt64, UInt64)] = []
                        if r.0 < a { out.append((r.0, min(r.1, a))) }
                        if r.1 > a &+ s { out.append((max(r.0, a &+ s), r.1)) }
                        return out
                    }
                }
            }
        }
        // Walk the range forward through the covering pieces.
        var cursor = gpa
        let end = gpa &+ size
        while cursor < end {
            guard let next = ranges.filter({ $0.0 <= cursor && $0.1 > cursor }).map(\.1).max() else { return false }
            cursor = next
        }
        return true
    }

    // MARK: - Every plan

    /// Plan-level rules that hold for every platform: `validate()` is clean (each fd defined before use, of
    /// the right kind), and `KVM_RUN` steps come last.
    static func general(_ plan: Plan) -> [String] {
        var out = plan.validate().map { "validate: \($0)" }
        if let firstRun = first(plan, .run) {
            for index in firstRun..<plan.steps.count where plan.steps[index].operation.kind != .run {
                out.append("\(describe(plan, index)) comes after the first KVM_RUN (\(describe(plan, firstRun)))")
            }
            // One KVM_RUN per vCPU, each after its vCPU exists.
            for index in indices(plan, .run) {
                guard case .run(let it) = plan.steps[index].operation, case let vcpu = it.vcpu else { continue }
                if let defined = definition(plan, vcpu), defined > index {
                    out.append("\(describe(plan, index)) runs \(vcpu) before it is created")
                }
            }
        }
        return out
    }

    // MARK: - Memory (KVM_UAPI.md §2.1, §2.2, §7)

    static func memory(_ plan: Plan) -> [String] {
        var out: [String] = []
        let slots = slots(plan)
        for slot in slots where slot.flags.contains(.guestMemfd) {
            if slot.flags.contains(.readonly) { out.append("\(describe(plan, slot.index)): READONLY with GUEST_MEMFD (EINVAL, §2.1)") }
            if slot.flags.contains(.logDirtyPages) {
                out.append("\(describe(plan, slot.index)): LOG_DIRTY_PAGES with GUEST_MEMFD (EINVAL, §2.1)")
            }
        }
        var seenSlots: [UInt32: Int] = [:]
        for slot in slots {
            if let other = seenSlots[slot.slot] {
                out.append("\(describe(plan, slot.index)) reuses slot \(slot.slot) of \(describe(plan, other))")
            }
            seenSlots[slot.slot] = slot.index
        }
        // Slots never overlap (EEXIST, §2.1 rule 8).
        for (i, a) in slots.enumerated() {
            for b in slots[(i + 1)...] where a.gpa < b.gpa &+ b.size && b.gpa < a.gpa &+ a.size {
                out.append("\(describe(plan, a.index)) and \(describe(plan, b.index)) overlap")
            }
        }
        let privateVM = hasPrivateMemory(plan.requires.vmType.type, arch: plan.arch)
        let required = plan.requires.guestMemfdFlags?.flags ?? []
        for (index, step) in plan.steps.enumerated() {
            guard case .createGuestMemfd(let it) = step.operation, case let flags = it.flags else { continue }
            if privateVM && flags.contains(.initShared) {
                out.append("\(describe(plan, index)): INIT_SHARED on \(plan.requires.vmType.type.name), a VM with private memory (EINVAL, §7)")
            }
            if !flags.isSubset(of: required) {
                out.append("\(describe(plan, index)): flags \(flags.names) are not all in requires.guestMemfdFlags \(required.names)")
            }
            if !flags.isEmpty && plan.requires.capabilities["KVM_CAP_GUEST_MEMFD_FLAGS"] == nil {
                out.append("\(describe(plan, index)): guest_memfd flags without a KVM_CAP_GUEST_MEMFD_FLAGS requirement")
            }
        }
        return out
    }

    /// VM types with private memory: x86 sw-protected (1), SNP (4), TDX (5), and arm64 realms (KVM_UAPI.md §7).
    static func hasPrivateMemory(_ type: VMType, arch: PlanArch) -> Bool {
        switch arch {
        case .x86_64: [1, 4, 5].contains(type.value)
        case .arm64: type.name.hasPrefix("KVM_VM_TYPE_ARM_REALM")
        }
    }

    // MARK: - Populating private memory (KVM_UAPI.md §2.3, §3.1, §3.2, §3.4)

    /// The launch commands that copy into private memory: inside a guest_memfd slot created earlier, page
    /// aligned (gpa, size and source, §7), PRIVATE beforehand (x86). Checked by `Plan.validate()` (`plan.populate`).
    static func populateRules(_ plan: Plan) -> [String] { issues(plan, ["plan.populate"]) }

    /// The `validate()` issues with one of `ids`, as text.
    static func issues(_ plan: Plan, _ ids: Set<String>) -> [String] {
        plan.validate().filter { ids.contains($0.id.rawValue) }.map(\.description)
    }

    /// The source of a launch command is memory the host wrote and the kernel reads with GUP: not an mmap of a
    /// guest_memfd without INIT_SHARED, whose pages fault for the host (SIGBUS, KVM_UAPI.md §2.3).
    static func populateSourceRules(_ plan: Plan) -> [String] {
        var out: [String] = []
        for p in populates(plan) {
            guard let defined = definition(plan, p.source.map),
                case .mmap(let it) = plan.steps[defined].operation, case .guestMemfd(let gmem) = it.source,
                !guestMemfdFlags(plan, gmem).contains(.initShared)
            else { continue }
            out.append(
                "\(describe(plan, p.index)): source \(p.source.map) maps \(gmem) without INIT_SHARED: host access faults (SIGBUS, §2.3)")
        }
        return out
    }

    /// No page is populated twice: TDX adds a page to the TD once (a second INIT_MEM_REGION of it fails), and SNP
    /// LAUNCH_UPDATE needs pages whose RMP entry is still shared (§3.1, §3.2).
    static func populateOverlapRules(_ plan: Plan) -> [String] {
        var out: [String] = []
        let populates = populates(plan)
        for (i, a) in populates.enumerated() {
            for b in populates[(i + 1)...] where a.gpa < b.gpa &+ b.size && b.gpa < a.gpa &+ a.size {
                out.append(
                    "\(describe(plan, a.index)) and \(describe(plan, b.index)) both populate the page at \(hex(max(a.gpa, b.gpa))): a page can be added to private memory once")
            }
        }
        return out
    }

    /// Every `load` writes into a mapping the host can write: not an mmap of a guest_memfd without INIT_SHARED.
    static func loadRules(_ plan: Plan) -> [String] {
        var out: [String] = []
        for (index, step) in plan.steps.enumerated() {
            guard case .loadPayload(let it) = step.operation, case let into = it.into, let defined = definition(plan, into.map) else { continue }
            if case .mmap(let it) = plan.steps[defined].operation, case .guestMemfd(let gmem) = it.source,
                !guestMemfdFlags(plan, gmem).contains(.initShared)
            {
                out.append(
                    "\(describe(plan, index)): writes \(into.map), an mmap of \(gmem) without INIT_SHARED: the host's write faults (SIGBUS, §2.3)")
            }
        }
        return out
    }

    static func guestMemfdFlags(_ plan: Plan, _ gmem: FdRef) -> GuestMemfdFlags {
        for step in plan.steps {
            if case .createGuestMemfd(let it) = step.operation, case let name = it.name, case let flags = it.flags, FdRef.guestMemfd(name) == gmem { return flags }
        }
        return []
    }

    // MARK: - TDX and SEV-SNP: the ordering rules live in `Plan.validate()` (Plan+Validation+Ordering.swift)

    /// TDX (§3.1, §8): `validate()`'s TDX rules, plus INIT_VM's gpaw = the manifest's gpa-bits.
    static func tdx(_ plan: Plan, gpaBits: Int) -> [String] {
        var out = issues(plan, ["plan.tdx-order", "plan.tdx-boot-state", "plan.hypercall-exit", "plan.populate"])
        for index in indices(plan, .tdxInitVM) {
            if case .tdxInitVM(let it) = plan.steps[index].operation, case let gpaw = it.gpaw, Int(gpaw) != gpaBits {
                out.append("KVM_TDX_INIT_VM gpaw \(gpaw) ≠ gpa-bits \(gpaBits)")
            }
        }
        return out
    }

    /// SEV-SNP (§3.2, §8): `validate()`'s SNP rules.
    static func snp(_ plan: Plan) -> [String] {
        issues(plan, ["plan.snp-order", "plan.snp-boot-area", "plan.hypercall-exit", "plan.populate"])
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
}
