import Diagnostics

/// The risk findings of a plan diff (DESIGN §5), derived from the two plans only, so they work for
/// manifests and plan files alike.
struct PlanFindings {
    let a: Plan
    let b: Plan
    let moved: Set<String>

    var all: [Finding] { exposure + measurement + compatibility + layout }

    // MARK: - Helpers

    /// Regions with memory, by name: their slot step.
    static func slots(_ plan: Plan) -> [String: Step] {
        var out: [String: Step] = [:]
        for step in plan.steps {
            if let slot = step.operation.memslot { out[slot.region] = step }
        }
        return out
    }

    static func slotRange(_ step: Step) -> (gpa: UInt64, size: UInt64)? {
        step.operation.memslot.map { ($0.gpa, $0.size) }
    }

    /// Regions a diff treats as private at launch, from the plan's memory map: on x86 those the PRIVATE attribute
    /// covers; on pKVM and CCA the convertible ones (a region the guest never converts counts as one the host may
    /// read, so adding one is reported as an exposure).
    static func privateRegions(_ plan: Plan) -> Set<String> {
        let regions = plan.memoryMap.regions
        if plan.platform == .pkvm || plan.platform == .cca {
            return Set(regions.filter { $0.kind == .convertible }.map(\.name))
        }
        return Set(regions.filter { $0.kind == .private || ($0.kind == .convertible && $0.initiallyPrivate) }.map(\.name))
    }

    /// Regions the guest may convert at run time, from the plan's memory map.
    static func convertible(_ plan: Plan) -> Set<String> {
        Set(plan.memoryMap.regions.filter { $0.kind == .convertible }.map(\.name))
    }

    static func onShare(_ plan: Plan) -> OnShare? {
        for handler in plan.handlers {
            switch handler.kind {
            case .hypercallMapGPARange(_, let onShare, _), .memoryFault(_, let onShare, _): return onShare
            default: continue
            }
        }
        return nil
    }

    static func handlerSource(_ plan: Plan) -> SourceLocation? {
        plan.handlers.first { handler in
            switch handler.kind {
            case .hypercallMapGPARange, .memoryFault: true
            default: false
            }
        }?.source
    }

    // MARK: - Exposure

    var exposure: [Finding] {
        var out: [Finding] = []
        let slotsA = Self.slots(a)
        let slotsB = Self.slots(b)
        if a.platform != .default && b.platform == .default {
            out.append(
                Finding(
                    .exposure, "platform \(a.platform.rawValue) → default: all guest memory becomes readable by the host",
                    before: a.requires.vmType.source, after: b.requires.vmType.source))
        }
        let privateA = Self.privateRegions(a)
        let privateB = Self.privateRegions(b)
        for region in privateA.subtracting(privateB).sorted() where slotsB[region] != nil {
            out.append(
                Finding(
                    .exposure, "region '\(region)' is no longer private at launch: the host can read it", region: region,
                    before: slotsA[region]?.source, after: slotsB[region]?.source))
        }
        let convertibleA = Self.convertible(a)
        let convertibleB = Self.convertible(b)
        for region in convertibleB.subtracting(convertibleA).sorted() {
            out.append(
                Finding(
                    .exposure, "region '\(region)' becomes convertible: the guest may share its pages with the host", region: region,
                    before: Self.handlerSource(a), after: Self.handlerSource(b)))
        }
        if Self.onShare(a) == .punchHole && Self.onShare(b) == .keep {
            out.append(
                Finding(
                    .exposure, "on-share punch-hole → keep: private backing of shared pages is no longer freed",
                    before: Self.handlerSource(a), after: Self.handlerSource(b)))
        }
        for (region, step) in slotsB.sorted(by: { $0.key < $1.key }) where slotsA[region] == nil {
            if b.platform != .default && !privateB.contains(region) {
                out.append(
                    Finding(.exposure, "new shared region '\(region)': memory the host can read", region: region, after: step.source))
            }
        }
        return out
    }

    // MARK: - Measurement

    static func measuredSteps(_ plan: Plan) -> [Step] {
        plan.steps.filter { step in
            switch step.operation {
            case .snpLaunchUpdate, .tdxInitMemRegion, .armRMIPopulate, .snpLaunchStart, .tdxInitVM, .snpLaunchFinish: true
            default: false
            }
        }
    }

    var measurement: [Finding] {
        var out: [Finding] = []
        let measuredA = a.payload?.measured ?? false
        let measuredB = b.payload?.measured ?? false
        if measuredA != measuredB {
            out.append(
                Finding(
                    .measurement, "payload measured \(measuredA) → \(measuredB): the launch measurement changes",
                    before: a.payload?.source, after: b.payload?.source))
        } else if measuredA, let pa = a.payload, let pb = b.payload, pa.sha256 != pb.sha256 {
            out.append(
                Finding(
                    .measurement, "measured payload content changes (\(PlanFormatting.shortDigest(pa.sha256)) → \(PlanFormatting.shortDigest(pb.sha256))): the launch digest changes",
                    before: pa.source, after: pb.source))
        }
        // SNP: the final digest where both plans carry it, else the LAUNCH_UPDATEs' (plans written before the VMSA
        // model); TDX: MRTD.
        let final = a.measurement?.snpLaunchDigest != nil && b.measurement?.snpLaunchDigest != nil
        let snp: WritableKeyPath<PlanMeasurement, String?> = final ? \.snpLaunchDigest : \.snpLaunchUpdates
        for (name, path) in [("SNP launch digest", snp), ("TDX MRTD", \PlanMeasurement.tdxMRTD)] {
            if let ma = a.measurement?[keyPath: path], let mb = b.measurement?[keyPath: path], ma != mb {
                out.append(
                    Finding(
                        .measurement, "expected \(name) changes (\(ma.prefix(19))… → \(mb.prefix(19))…)",
                        before: a.payload?.source, after: b.payload?.source))
            }
        }
        out += linuxBoot
        let stepsA = Self.measuredSteps(a)
        let stepsB = Self.measuredSteps(b)
        let byIDB = Dictionary(stepsB.map { ($0.id, $0) }, uniquingKeysWith: { x, _ in x })
        let idsA = Set(stepsA.map(\.id))
        for step in stepsA {
            guard let other = byIDB[step.id] else {
                out.append(Finding(.measurement, "measured step \(step.id) is removed", before: step.source))
                continue
            }
            var left = step.json.objectValue ?? [:]
            var right = other.json.objectValue ?? [:]
            for key in ["source", "comment"] {
                left[key] = nil
                right[key] = nil
            }
            if left != right {
                out.append(Finding(.measurement, "measured step \(step.id) changes", before: step.source, after: other.source))
            } else if moved.contains(step.id) {
                out.append(Finding(.measurement, "measured step \(step.id) moves: the measurement order changes", before: step.source, after: other.source))
            }
        }
        for step in stepsB where !idsA.contains(step.id) {
            out.append(Finding(.measurement, "measured step \(step.id) is added", after: step.source))
        }
        return out
    }

    /// The steps that put a Linux guest's boot content in memory: kernel, initrd, zero page and command line.
    static func linuxBootSteps(_ plan: Plan) -> [String: Step] {
        var out: [String: Step] = [:]
        for step in plan.steps {
            switch step.operation {
            case .loadInitrd, .linuxBootParams: out[step.id] = step
            case .loadPayload where plan.payload?.format == .linux: out[step.id] = step
            default: break
            }
        }
        return out
    }

    /// A Linux guest's kernel, initrd or command line changes: what the guest boots is different, whether or
    /// not the platform measures it.
    var linuxBoot: [Finding] {
        let stepsA = Self.linuxBootSteps(a)
        let stepsB = Self.linuxBootSteps(b)
        guard !stepsA.isEmpty || !stepsB.isEmpty else { return [] }
        var out: [Finding] = []
        for id in Set(stepsA.keys).union(stepsB.keys).sorted() {
            let before = stepsA[id]
            let after = stepsB[id]
            switch (before?.operation, after?.operation) {
            case (.loadPayload(let a)?, .loadPayload(let b)?) where a.sha256 != b.sha256:
                let (x, y) = (a.sha256, b.sha256)
                out.append(Finding(.measurement, "the kernel changes (\(PlanFormatting.shortDigest(x)) → \(PlanFormatting.shortDigest(y))): the guest boots other code", before: before?.source, after: after?.source))
            case (.loadInitrd(let a)?, .loadInitrd(let b)?) where a.sha256 != b.sha256:
                let (x, y) = (a.sha256, b.sha256)
                out.append(Finding(.measurement, "the initrd changes (\(PlanFormatting.shortDigest(x)) → \(PlanFormatting.shortDigest(y)))", before: before?.source, after: after?.source))
            case (.linuxBootParams(let a)?, .linuxBootParams(let b)?):
                let (x, ix, ex, y, iy, ey) = (a.cmdline, a.initrd, a.e820, b.cmdline, b.initrd, b.e820)
                if x != y {
                    out.append(Finding(.measurement, "the kernel command line changes: \"\(x)\" → \"\(y)\"", before: before?.source, after: after?.source))
                }
                if ix != iy || ex != ey {
                    out.append(Finding(.measurement, "the zero page changes (initrd placement or e820 map)", before: before?.source, after: after?.source))
                }
            case (nil, .loadInitrd?):
                out.append(Finding(.measurement, "an initrd is added", after: after?.source))
            case (.loadInitrd?, nil):
                out.append(Finding(.measurement, "the initrd is removed", before: before?.source))
            default:
                break
            }
        }
        return out
    }

    // MARK: - Compatibility

    var compatibility: [Finding] {
        var out: [Finding] = []
        if a.requires.vmType.type != b.requires.vmType.type {
            out.append(
                Finding(
                    .compatibility, "VM type \(a.requires.vmType.type.name) → \(b.requires.vmType.type.name)",
                    before: a.requires.vmType.source, after: b.requires.vmType.source))
        }
        for requirement in b.requires.sortedCapabilities {
            let old = a.requires.capabilities[requirement.cap.name]
            let stricter: Bool
            switch (old?.expect, requirement.expect) {
            case (nil, _): stricter = true
            case (.atLeast(let x)?, .atLeast(let y)): stricter = y > x
            case (.bits(let x)?, .bits(let y)): stricter = y & ~x != 0
            default: stricter = true
            }
            if stricter {
                let what = old == nil ? "needs \(requirement.cap.name)" : "needs more of \(requirement.cap.name)"
                out.append(
                    Finding(.compatibility, "\(what) (\(requirement.expect.displayText))", before: old?.source, after: requirement.source))
            }
        }
        let flagsA = a.requires.guestMemfdFlags?.flags ?? []
        let flagsB = b.requires.guestMemfdFlags?.flags ?? []
        let newFlags = flagsB.subtracting(flagsA)
        if !newFlags.isEmpty {
            out.append(
                Finding(
                    .compatibility, "needs guest_memfd flags \(newFlags.names.joined(separator: "|"))",
                    before: a.requires.guestMemfdFlags?.source, after: b.requires.guestMemfdFlags?.source))
        }
        return out
    }

    // MARK: - Layout

    var layout: [Finding] {
        var out: [Finding] = []
        let slotsA = Self.slots(a)
        let slotsB = Self.slots(b)
        for region in Set(slotsA.keys).union(slotsB.keys).sorted() {
            let sa = slotsA[region]
            let sb = slotsB[region]
            switch (sa.flatMap(Self.slotRange), sb.flatMap(Self.slotRange)) {
            case (let ra?, let rb?):
                if ra.gpa != rb.gpa {
                    out.append(
                        Finding(
                            .layout, "region '\(region)' moves from \(PlanFormatting.hex(ra.gpa)) to \(PlanFormatting.hex(rb.gpa))",
                            region: region, before: sa?.source, after: sb?.source))
                }
                if ra.size != rb.size {
                    let verb = rb.size > ra.size ? "grows" : "shrinks"
                    out.append(
                        Finding(
                            .layout, "region '\(region)' \(verb) from \(PlanFormatting.size(ra.size)) to \(PlanFormatting.size(rb.size))",
                            region: region, before: sa?.source, after: sb?.source))
                }
            case (let ra?, nil):
                out.append(
                    Finding(.layout, "region '\(region)' (\(PlanFormatting.size(ra.size)) at \(PlanFormatting.hex(ra.gpa))) is removed", region: region, before: sa?.source))
            case (nil, let rb?):
                out.append(
                    Finding(.layout, "region '\(region)' (\(PlanFormatting.size(rb.size)) at \(PlanFormatting.hex(rb.gpa))) is added", region: region, after: sb?.source))
            default: break
            }
        }
        let vcpusA = a.steps.filter { $0.operation.kind == .createVCPU }
        let vcpusB = b.steps.filter { $0.operation.kind == .createVCPU }
        if vcpusA.count != vcpusB.count {
            out.append(
                Finding(.layout, "vCPUs \(vcpusA.count) → \(vcpusB.count)", before: vcpusA.first?.source, after: vcpusB.first?.source))
        }
        return out
    }
}

extension CapabilityExpectation {
    var displayText: String {
        switch self {
        case .atLeast(let v): "≥ \(v)"
        case .bits(let mask): "bits \(PlanFormatting.hex(mask))"
        }
    }
}
