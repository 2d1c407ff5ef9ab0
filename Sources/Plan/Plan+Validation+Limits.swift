import Diagnostics

// Plan numbers against their real ranges, and the agreement between the steps that a plan file could make
// disagree (issue 15). A plan file may come from elsewhere and kvmplan runs it as root: every number the
// launcher does arithmetic on is bounded here, so no arithmetic on a plan value can trap, and every step
// says what the launcher does (a `load` names the address its bytes really go to).

extension Plan {
    /// The highest vCPU index and count a plan may use (x86 KVM_MAX_VCPUS and arm64 KVM_MAX_VCPUS are 4096 at most).
    public static let maximumVCPUs: UInt64 = 4096
    /// Memslot ids below this (KVM_MEM_SLOTS_NUM is 32767 on x86; address space 0 only).
    public static let maximumSlotID: UInt32 = 32767
    /// The COM1-style UART occupies its port and the 7 after it.
    public static let serialPortSpan: UInt16 = 8

    /// Issues with numbers out of their real range and steps that disagree with each other or with the
    /// plan's payload: handler ports, address arithmetic that would overflow, vCPU indices, slot ids, boot
    /// entries, `load` steps that do not name the memslot address their bytes go to, KVM_RUN steps before
    /// other steps, and the payload's size, load address, entry and mode against the steps.
    func limitIssues() -> [PlanIssue] {
        var issues: [PlanIssue] = []
        validateHandlerLimits(&issues)
        validateStepLimits(&issues)
        validateRunOrder(&issues)
        validateLoads(&issues)
        validatePayloadAgainstSteps(&issues)
        validatePaths(&issues)
        return issues
    }

    // MARK: - Paths

    /// No control character in any path of the plan: the payload's path and every source file. A NUL would
    /// make the launcher open the part before it while the plan shows the whole string.
    private func validatePaths(_ issues: inout [PlanIssue]) {
        func issue(_ text: String, _ field: String, stepIndex: Int? = nil, stepID: String? = nil) {
            issues.append(
                PlanIssue(
                    "plan.invalid-path", "'\(TerminalText.oneLine(text))' contains a control character", stepIndex: stepIndex,
                    stepID: stepID, field: field))
        }
        if let payload {
            if TerminalText.containsControl(payload.path) { issue(payload.path, "payload.path") }
            if let initrd = payload.initrd, TerminalText.containsControl(initrd.path) { issue(initrd.path, "payload.initrd.path") }
            if let file = payload.source?.file, TerminalText.containsControl(file) { issue(file, "payload.source") }
        }
        for (index, step) in steps.enumerated() {
            if let file = step.source?.file, TerminalText.containsControl(file) {
                issue(file, "source", stepIndex: index, stepID: step.id)
            }
        }
        for (index, handler) in handlers.enumerated() {
            if let file = handler.source?.file, TerminalText.containsControl(file) { issue(file, "handlers[\(index)].source") }
        }
        if let file = requires.vmType.source?.file, TerminalText.containsControl(file) { issue(file, "requires.vm-type.source") }
        for (key, requirement) in requires.capabilities.sorted(by: { $0.key < $1.key }) {
            if let file = requirement.source?.file, TerminalText.containsControl(file) {
                issue(file, "requires.capabilities.\(key).source")
            }
        }
    }

    // MARK: - Handlers

    private func validateHandlerLimits(_ issues: inout [PlanIssue]) {
        var serial: UInt16?
        var exitPort: UInt16?
        var i8042: Bool?
        for (index, handler) in handlers.enumerated() {
            let field = "handlers[\(index)]"
            func issue(_ message: String, _ key: String) {
                issues.append(PlanIssue("plan.out-of-range", message, field: field + "." + key, source: handler.source))
            }
            switch handler.kind {
            case .serial(let port):
                if port > UInt16.max - (Self.serialPortSpan - 1) {
                    issue(
                        "serial port \(PlanFormatting.hex(UInt64(port))) leaves no room for the UART's 8 registers "
                            + "(at most \(PlanFormatting.hex(UInt64(UInt16.max - (Self.serialPortSpan - 1)))))", "port")
                }
                if serial != nil { issue("a plan has at most one serial handler", "port") }
                serial = port
            case .exitPort(let port):
                if exitPort != nil { issue("a plan has at most one exit-port handler", "port") }
                exitPort = port
            case .mmio(_, let range, _):
                if range.end == nil || range.size == 0 { issue("MMIO range \(range) is empty or wraps around", "range") }
            case .hypercallMapGPARange(let ranges, _, _), .memoryFault(let ranges, _, _):
                for range in ranges where range.range.end == nil || range.range.size == 0 {
                    issue("convertible range \(range.range) is empty or wraps around", "convertible")
                }
            case .i8042:
                if i8042 != nil { issue("a plan has at most one i8042 handler", "port") }
                i8042 = true
            case .halt:
                break
            }
        }
        if let serial, let exitPort, exitPort >= serial, exitPort - serial < Self.serialPortSpan {
            issues.append(
                PlanIssue(
                    "plan.out-of-range",
                    "exit port \(PlanFormatting.hex(UInt64(exitPort))) lies inside the UART at \(PlanFormatting.hex(UInt64(serial)))",
                    field: "handlers"))
        }
    }

    // MARK: - Step numbers

    private func validateStepLimits(_ issues: inout [PlanIssue]) {
        for (index, step) in steps.enumerated() {
            func issue(_ message: String, _ field: String) {
                issues.append(
                    PlanIssue("plan.out-of-range", message, stepIndex: index, stepID: step.id, field: "args." + field, source: step.source))
            }
            func range(_ start: UInt64, _ size: UInt64, _ field: String, _ what: String) {
                if start.addingReportingOverflow(size).overflow {
                    issue("\(what) \(PlanFormatting.hex(start)) + \(PlanFormatting.hex(size)) overflows 64 bits", field)
                }
            }
            switch step.operation {
            case .createVCPU(let s):
                let vcpu = s.index
                if UInt64(vcpu) >= Self.maximumVCPUs { issue("vCPU index \(vcpu) is not below \(Self.maximumVCPUs)", "index") }
            case .setBootState(let s):
                let mode = s.mode, entry = s.entry, count = s.vcpuCount
                if count == 0 || UInt64(count) > Self.maximumVCPUs {
                    issue("vCPU count \(count) is not in 1...\(Self.maximumVCPUs)", "vcpus")
                }
                if mode == .real && entry >= 0x10_0000 {
                    issue("real-mode entry \(PlanFormatting.hex(entry)) is not below 1 MiB", "entry")
                } else if mode == .protected && entry > UInt64(UInt32.max) {
                    issue("protected-mode entry \(PlanFormatting.hex(entry)) is not below 4 GiB", "entry")
                }
            case .setUserMemoryRegion(let s):
                let slot = s.slot, gpa = s.gpa, size = s.size, userspace = s.userspace
                if slot > Self.maximumSlotID { issue("memslot \(slot) is not at most \(Self.maximumSlotID)", "slot") }
                range(gpa, size, "size", "memslot")
                range(userspace.offset, size, "userspace.offset", "mapping range")
            case .setUserMemoryRegion2(let s):
                let slot = s.slot, gpa = s.gpa, size = s.size, userspace = s.userspace, binding = s.guestMemfd
                if slot > Self.maximumSlotID { issue("memslot \(slot) is not at most \(Self.maximumSlotID)", "slot") }
                range(gpa, size, "size", "memslot")
                if let userspace { range(userspace.offset, size, "userspace.offset", "mapping range") }
                if let binding { range(binding.offset, size, "guest-memfd.offset", "guest_memfd range") }
            case .setMemoryAttributes(let s):
                let gpa = s.gpa, size = s.size
                range(gpa, size, "size", "attribute range")
            case .mmap(let s):
                let size = s.size, offset = s.offset
                range(offset, size, "offset", "mapping")
            case .fallocate(let s):
                let offset = s.offset, size = s.size
                range(offset, size, "offset", "file range")
            case .loadPayload(let s):
                let into = s.into, gpa = s.gpa, size = s.size, fileOffset = s.fileOffset
                range(gpa, size, "gpa", "load")
                range(fileOffset, size, "file-offset", "payload range")
                range(into.offset, size, "into.offset", "mapping range")
            case .loadInitrd(let s):
                let into = s.into, gpa = s.gpa, size = s.size
                range(gpa, size, "gpa", "load")
                range(into.offset, size, "into.offset", "mapping range")
            case .snpLaunchUpdate(let s):
                let gpa = s.gpa, size = s.size, source = s.source
                range(gpa, size, "size", "launch range")
                range(source.offset, size, "source.offset", "source range")
            case .tdxInitMemRegion(let s):
                let gpa = s.gpa, pages = s.nrPages, source = s.source
                let (bytes, overflow) = pages.multipliedReportingOverflow(by: 4096)
                if overflow {
                    issue("\(pages) pages overflow 64 bits", "nr-pages")
                } else {
                    range(gpa, bytes, "gpa", "launch range")
                    range(source.offset, bytes, "source.offset", "source range")
                }
            case .armRMIPopulate(let s):
                let base = s.base, size = s.size, source = s.source
                range(base, size, "size", "populate range")
                range(source.offset, size, "source.offset", "source range")
            default:
                break
            }
        }
        if let payload {
            if payload.loadGPA.addingReportingOverflow(payload.size).overflow {
                issues.append(
                    PlanIssue(
                        "plan.out-of-range", "payload load address + size overflows 64 bits", field: "payload.size",
                        source: payload.source))
            }
        }
    }

    // MARK: - KVM_RUN last

    /// The launcher starts every vCPU after all other steps: a plan that puts a step after a KVM_RUN would say
    /// one order and run another.
    private func validateRunOrder(_ issues: inout [PlanIssue]) {
        guard let firstRun = steps.firstIndex(where: { $0.operation.kind == .run }) else { return }
        for (index, step) in steps.enumerated().dropFirst(firstRun + 1) where step.operation.kind != .run {
            issues.append(
                PlanIssue(
                    "plan.run-not-last",
                    "comes after KVM_RUN step \(firstRun) (\(steps[firstRun].id)); KVM_RUN steps must be the last steps",
                    stepIndex: index, stepID: step.id, field: "op", source: step.source))
        }
    }

    // MARK: - Loads against memslots

    /// A memslot of the plan: where it is in guest memory and which mapping backs it, at which offset.
    private struct SlotView {
        var gpa: UInt64
        var size: UInt64
        var mapping: FdRef?
        var mappingOffset: UInt64

        func contains(_ address: UInt64) -> Bool { address >= gpa && address - gpa < size }
    }

    private var slotViews: [SlotView] {
        steps.compactMap { step -> SlotView? in
            step.operation.memslot.map {
                SlotView(gpa: $0.gpa, size: $0.size, mapping: $0.userspace?.map, mappingOffset: $0.userspace?.offset ?? 0)
            }
        }
    }

    /// Every `load` lies inside one memslot; when its mapping backs a memslot, the mapping offset is the one
    /// where that memslot holds the load's gpa (the bytes go where the step says).
    private func validateLoads(_ issues: inout [PlanIssue]) {
        let slots = slotViews
        for (index, step) in steps.enumerated() {
            let into: Address
            let gpa: UInt64
            let size: UInt64
            switch step.operation {
            case .loadPayload(let s): (into, gpa, size) = (s.into, s.gpa, s.size)
            case .loadInitrd(let s): (into, gpa, size) = (s.into, s.gpa, s.size)
            default: continue
            }
            func issue(_ message: String, _ field: String) {
                issues.append(
                    PlanIssue("plan.load-mismatch", message, stepIndex: index, stepID: step.id, field: field, source: step.source))
            }
            let (end, overflow) = gpa.addingReportingOverflow(size)
            guard !overflow else { continue }  // reported as out of range
            let last = size == 0 ? gpa : end - 1
            guard slots.contains(where: { $0.contains(gpa) && $0.contains(last) }) else {
                issue("guest range \(GPARange(gpa: gpa, size: size)) is not inside one memslot", "args.gpa")
                continue
            }
            let backing = slots.filter { $0.mapping == into.map }
            guard !backing.isEmpty else { continue }  // a staging buffer that a launch command copies from
            let agrees = backing.contains { slot in
                slot.contains(gpa) && slot.contains(last)
                    && slot.mappingOffset.addingReportingOverflow(gpa - slot.gpa) == (into.offset, false)
            }
            if !agrees {
                issue(
                    "\(into) is not where \(into.map) holds guest address \(PlanFormatting.hex(gpa)) in any memslot",
                    "args.into")
            }
        }
    }

    // MARK: - Payload against steps

    /// The payload's size, load address, entry and mode agree with the `load` and `boot` steps.
    private func validatePayloadAgainstSteps(_ issues: inout [PlanIssue]) {
        var loads: [(index: Int, step: Step, gpa: UInt64, size: UInt64, fileOffset: UInt64)] = []
        var boots: [(index: Int, step: Step, mode: BootMode, entry: UInt64)] = []
        for (index, step) in steps.enumerated() {
            switch step.operation {
            case .loadPayload(let s): loads.append((index, step, s.gpa, s.size, s.fileOffset))
            case .setBootState(let s): boots.append((index, step, s.mode, s.entry))
            default: break
            }
        }
        func issue(_ message: String, _ field: String, at step: (Int, Step)? = nil) {
            issues.append(
                PlanIssue(
                    "plan.payload-mismatch", message, stepIndex: step?.0, stepID: step?.1.id, field: field,
                    source: step?.1.source ?? payload?.source))
        }
        guard let payload else {
            if let load = loads.first { issue("the plan loads payload bytes but has no payload", "op", at: (load.index, load.step)) }
            return
        }
        for load in loads {
            let (end, overflow) = load.fileOffset.addingReportingOverflow(load.size)
            if overflow || end > payload.size {
                issue(
                    "bytes \(PlanFormatting.hex(load.fileOffset))+\(PlanFormatting.hex(load.size)) are outside the "
                        + "\(payload.size)-byte payload", "args.file-offset", at: (load.index, load.step))
            }
        }
        if payload.format == .flat, let first = loads.first {
            if first.gpa != payload.loadGPA || first.fileOffset != 0 || first.size != payload.size || loads.count != 1 {
                issue(
                    "a flat payload is one load of all \(payload.size) bytes at \(PlanFormatting.hex(payload.loadGPA)), "
                        + "not \(loads.count) load(s) starting with \(PlanFormatting.hex(first.size)) bytes at "
                        + "\(PlanFormatting.hex(first.gpa))", "args", at: (first.index, first.step))
            }
        }
        // ELF: one load per segment, in any order (the order is part of the measurement); each is bounded above.
        // Linux: the initrd is loaded whole, once, exactly when the payload names one.
        let initrdLoads = steps.enumerated().compactMap { index, step -> (Int, Step, UInt64)? in
            if case .loadInitrd(let s) = step.operation, case let size = s.size { return (index, step, size) }
            return nil
        }
        if let initrd = payload.initrd {
            if initrdLoads.count != 1 || initrdLoads.first?.2 != initrd.size {
                issue(
                    "the payload's \(initrd.size)-byte initrd is loaded by exactly one load-initrd step of all its bytes, "
                        + "not \(initrdLoads.count) step(s)" + (initrdLoads.first.map { " of \($0.2) bytes" } ?? ""), "payload.initrd",
                    at: initrdLoads.first.map { ($0.0, $0.1) })
            }
        } else if let load = initrdLoads.first {
            issue("the plan loads an initrd but its payload names none", "op", at: (load.0, load.1))
        }
        for boot in boots {
            if boot.entry != payload.entry {
                issue(
                    "boot entry \(PlanFormatting.hex(boot.entry)) is not the payload's entry \(PlanFormatting.hex(payload.entry))",
                    "args.entry", at: (boot.index, boot.step))
            }
            if boot.mode != payload.mode {
                issue(
                    "boot mode \(boot.mode.rawValue) is not the payload's mode \(payload.mode.rawValue)", "args.mode",
                    at: (boot.index, boot.step))
            }
        }
    }
}

extension GPARange {
    /// The first address after the range; nil when it wraps past 2^64.
    var end: UInt64? {
        let (end, overflow) = gpa.addingReportingOverflow(size)
        return overflow ? nil : end
    }
}
