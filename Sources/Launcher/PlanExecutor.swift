import GuestLayout
import KVM
import Plan
import SystemPackage

// Executes a plan's steps, one by one, through the KVM module's wrappers; keeps every fd and mapping it
// acquires so that a failure at step k undoes steps k-1 … 1 in reverse order (DESIGN §7).

// MARK: - Failures

/// A step that failed: which step, and why. `message` is what kvmplan prints:
///
///     step slot.ram (KVM_SET_USER_MEMORY_REGION2, Manifests/x.yaml:12:7) failed: EINVAL (Invalid argument)
public struct StepFailure: Error, Hashable, Sendable, CustomStringConvertible {
    public var stepID: String
    /// The step's op, or its `KVM_MEMORY_ENCRYPT_OP` sub-command.
    public var op: String
    public var source: String?
    /// `EINVAL (Invalid argument)`, `KVM_SET_SREGS: EINVAL (Invalid argument)` or a sentence.
    public var detail: String
    /// The errno when a kernel call failed.
    public var errnoName: String?
    /// 125 (kvmplan's failure), 126 (the host lacks something the plan checks), 128 + the signal (SIGINT 130, SIGTERM 143, SIGHUP 129).
    public var status: Int32

    public var description: String {
        "step \(stepID) (\(op)\(source.map { ", " + $0 } ?? "")) failed: \(detail)"
    }

    init(_ step: Step, detail: String, errnoName: String? = nil, status: Int32 = 125) {
        self.stepID = step.id
        self.op = step.operation.command ?? step.operation.op
        self.source = step.source?.description
        self.detail = detail
        self.errnoName = errnoName
        self.status = status
    }

    init(_ step: Step, kernel error: KVMError) {
        var detail = "\(KVMError.name(of: error.errno)) (\(error.errno.description))"
        if let firmware = error.firmwareError { detail += ", firmware error \(hex(firmware))" }
        // A KVM_MEMORY_ENCRYPT_OP failure is named by its sub-command (the error's detail), like the step.
        let failed = error.operation == .ioctl(.memoryEncryptOp) ? error.detail ?? error.operation.description : error.operation.description
        let op = step.operation.command ?? step.operation.op
        if failed != op && !(op == "open" && failed.hasPrefix("open ")) {
            detail = "\(failed): " + detail
        }
        self.init(step, detail: detail, errnoName: KVMError.name(of: error.errno))
    }
}

/// A check a step makes that does not hold (not a kernel error), or a kernel answer the step cannot accept.
struct StepProblem: Error {
    var detail: String
    var status: Int32 = 125
    /// The errno, when the problem is a kernel error the step gave up on (e.g. EAGAIN too many times).
    var errnoName: String? = nil
}

// MARK: - Trace

/// One line of `--trace`: an executed step with its result, an ioctl a handler made, or an undo.
public struct TraceEntry: Hashable, Sendable {
    public enum Kind: Hashable, Sendable { case step, handler, undo }
    public var kind: Kind
    /// The step id (for `.step` and `.undo`).
    public var stepID: String?
    /// The step in the plan's one-line text syntax (`%vm = KVM_CREATE_VM %kvm type=KVM_X86_DEFAULT_VM`).
    public var line: String
    public var result: String

    /// `LINE = RESULT  # ID` for steps; `# undo ID: LINE = RESULT` for undos.
    public var text: String {
        switch kind {
        case .step: "\(line) = \(result)  # \(stepID ?? "")"
        case .handler: "  \(line) = \(result)"
        case .undo: "# undo \(stepID ?? ""): \(line) = \(result)"
        }
    }
}

// MARK: - Executor

final class PlanExecutor {
    let plan: Plan
    let payload: [UInt8]?
    /// A Linux guest's initrd, for the `load-initrd` step.
    let initrd: [UInt8]?
    let output: any LaunchOutput
    let trace: Bool
    /// Checked between steps: SIGINT, SIGTERM or SIGHUP ends the launch (128 + the signal).
    let interrupted: () -> Bool

    var entries: [TraceEntry] = []

    /// Every fd and mapping acquired, in order, with the step that acquired it.
    enum Resource {
        case system(KVMSystem)
        case vm(VM)
        case guestMemfd(GuestMemfd)
        case memfd(Memfd)
        case mapping(HostMemory)
        case vcpu(VCPU)
        case runMapping(VCPU)
        case sevDevice(SEVDevice)
    }

    var acquired: [(step: Step, ref: FdRef, resource: Resource)] = []

    var system: KVMSystem?
    /// `/dev/sev`, for the SEV-SNP launch commands' `sev_fd`.
    var sevDevice: SEVDevice?
    var vm: VM?
    var guestMemfds: [String: GuestMemfd] = [:]
    var memfds: [String: Memfd] = [:]
    var mappings: [String: HostMemory] = [:]
    var vcpus: [UInt32: VCPU] = [:]

    /// A memslot as executed.
    struct Slot {
        var region: String
        var slot: UInt32
        var gpa: UInt64
        var size: UInt64
        /// The host mapping of the slot and the offset of the slot's first byte in it.
        var mapping: HostMemory?
        var mappingOffset: UInt64
        var readonly: Bool
        var guestMemfd: GuestMemfd?
        var guestMemfdOffset: UInt64
    }

    var slots: [Slot] = []
    var supportedCPUID: [CPUIDEntry]?
    #if arch(x86_64)
    /// What `KVM_TDX_CAPABILITIES` reported, for `KVM_TDX_INIT_VM`'s CPUID.
    var tdxCapabilities: TDXCapabilities?
    #endif
    var bootAreaWritten = false

    init(
        plan: Plan, payload: [UInt8]?, initrd: [UInt8]? = nil, output: any LaunchOutput, trace: Bool,
        interrupted: @escaping () -> Bool
    ) {
        self.plan = plan
        self.payload = payload
        self.initrd = initrd
        self.output = output
        self.trace = trace
        self.interrupted = interrupted
    }

    // MARK: Running steps

    /// Executes `step`; on failure nothing of this step is left acquired (the caller undoes the earlier ones).
    func execute(_ step: Step) throws(StepFailure) {
        if interrupted() {
            throw StepFailure(
                step, detail: "interrupted (\(InterruptSignal.name)) before the step", status: InterruptSignal.exitStatus)
        }
        let result: String
        do {
            result = try perform(step)
        } catch let error as KVMError {
            var failure = StepFailure(step, kernel: error)
            if case .mmap(let s) = step.operation, case .hugetlbAnonymous = s.source, error.errno == .noMemory {
                failure.detail += "; this host has no free huge pages of that size (see /proc/sys/vm/nr_hugepages)"
            }
            if case .mmap(let s) = step.operation, case .memfd(let fd) = s.source, memfds[fd.name]?.hugePages != nil,
                error.errno == .noMemory
            {
                failure.detail += "; this host has no free huge pages of that size (see /proc/sys/vm/nr_hugepages)"
            }
            throw failure
        } catch let problem as StepProblem {
            throw StepFailure(step, detail: problem.detail, errnoName: problem.errnoName, status: problem.status)
        } catch {
            throw StepFailure(step, detail: "\(error)")
        }
        record(TraceEntry(kind: .step, stepID: step.id, line: stepLine(step), result: result))
    }

    /// Executes every step of the plan in order, except the `KVM_RUN` steps, which are checked (`prepareRun`)
    /// and returned for the run phase. On a failure everything acquired is undone, newest first, before the
    /// failure is thrown.
    func executeSteps() throws(StepFailure) -> [Step] {
        var runSteps: [Step] = []
        for step in plan.steps {
            do {
                if case .run = step.operation {
                    try prepareRun(step)
                    runSteps.append(step)
                } else {
                    try execute(step)
                }
            } catch {
                output.message("kvmplan: \(error)")
                undoAll()
                throw error
            }
        }
        return runSteps
    }

    /// The checks of a `KVM_RUN` step before the run phase starts its vCPU (no ending signal yet, the vCPU exists); its
    /// result is recorded when the vCPU stops.
    func prepareRun(_ step: Step) throws(StepFailure) {
        if interrupted() {
            throw StepFailure(
                step, detail: "interrupted (\(InterruptSignal.name)) before the step", status: InterruptSignal.exitStatus)
        }
        guard let index = step.operation.on?.index, vcpus[index] != nil else {
            throw StepFailure(step, detail: "\(step.operation.on?.description ?? "its vCPU") is not open (no earlier step defined it)")
        }
    }

    /// The step in the plan's one-line syntax, without comments.
    func stepLine(_ step: Step) -> String {
        PlanTextRenderer.line(for: step, layout: .compact, showComment: false, showSource: false)
    }

    func record(_ entry: TraceEntry) {
        entries.append(entry)
        if trace { output.message(entry.text) }
    }

    func acquire(_ step: Step, _ ref: FdRef, _ resource: Resource) {
        acquired.append((step, ref, resource))
    }

    private func perform(_ step: Step) throws -> String {
        guard let executable = step.operation.executable else { throw unsupported(step) }
        return try executable.execute(self, step)
    }

    // MARK: Pieces

    /// Whether this launcher can execute the step at all (checked for every step before anything is created).
    static func unsupportedReason(_ step: Step) -> String? {
        let operation = step.operation
        guard let executable = operation.executable else {
            let name = operation.command ?? operation.op
            return operation.kind.architectures == [.arm64] ? "\(name) is not implemented (arm64)" : "\(name) is not implemented"
        }
        return executable.unsupportedReason
    }

    func unsupported(_ step: Step, _ why: String? = nil) -> StepProblem {
        StepProblem(detail: "kvmplan's launcher cannot execute this step: " + (why ?? PlanExecutor.unsupportedReason(step) ?? step.operation.op))
    }

    func missing(_ ref: FdRef) -> StepProblem {
        StepProblem(detail: "\(ref) is not open (no earlier step defined it)")
    }

    func requireSystem() throws -> KVMSystem {
        guard let system else { throw missing(.kvm) }
        return system
    }

    func requireVM() throws -> VM {
        guard let vm else { throw missing(.vm) }
        return vm
    }

    func requireSEV(_ ref: FdRef) throws -> SEVDevice {
        guard ref == .sev, let sevDevice else { throw missing(ref) }
        return sevDevice
    }

    func requireVCPU(_ ref: FdRef, _ step: Step) throws -> VCPU {
        guard let index = ref.index, let vcpu = vcpus[index] else { throw missing(ref) }
        return vcpu
    }

    func expectationText(_ expect: CapabilityExpectation) -> String {
        switch expect {
        case .atLeast(let minimum): ">= \(minimum)"
        case .bits(let mask): "bits \(hex(mask))"
        }
    }

    /// The mapping and host address of `%map.NAME+offset`, checking that `size` bytes fit in the mapping.
    func userspaceAddress(_ address: Address, size: UInt64) throws -> (HostMemory, UInt64) {
        guard let memory = mappings[address.map.name] else { throw missing(address.map) }
        let (end, overflow) = address.offset.addingReportingOverflow(size)
        guard !overflow, end <= UInt64(memory.size) else {
            throw StepProblem(detail: "\(address)+\(hex(size)) is outside \(address.map) (\(hex(UInt64(memory.size))) bytes)")
        }
        return (memory, memory.userspaceAddress + address.offset)
    }

    func addSlot(_ slot: Slot) {
        slots.removeAll { $0.slot == slot.slot }
        if slot.size > 0 { slots.append(slot) }
    }

    #if arch(x86_64)
    /// `KVM_GET_SUPPORTED_CPUID`, asked once per launch.
    func cpuidEntries() throws -> [CPUIDEntry] {
        if let supportedCPUID { return supportedCPUID }
        let entries = try requireSystem().supportedCPUID()
        supportedCPUID = entries
        return entries
    }
    #endif

    /// The `load` step: verify the digest of the payload bytes, then copy them into the mapping.
    func load(into: Address, gpa: UInt64, size: UInt64, fileOffset: UInt64, digest: String) throws -> String {
        guard let payload else { throw StepProblem(detail: "the plan loads a payload, but no payload bytes were given") }
        return try copy(payload, what: "payload", into: into, gpa: gpa, fileOffset: fileOffset, size: size, digest: digest)
    }

    /// Writes generated bytes (the zero page, the command line) at `into`, which must be where `gpa` lives.
    func write(_ bytes: [UInt8], into: Address, gpa: UInt64) throws {
        let (memory, _) = try userspaceAddress(into, size: UInt64(bytes.count))
        if let slot = slots.first(where: { $0.mapping === memory && gpa >= $0.gpa && gpa - $0.gpa < $0.size }),
            slot.mappingOffset + (gpa - slot.gpa) != into.offset
        {
            throw StepProblem(detail: "\(into) is not where guest address \(hex(gpa)) lives in \(into.map)")
        }
        let destination = memory.bytes
        let offset = Int(into.offset)
        bytes.withUnsafeBytes { source in
            // SAFETY: `offset ..< offset + bytes.count` lies inside the mapping (checked by `userspaceAddress`).
            UnsafeMutableRawBufferPointer(rebasing: destination[offset..<offset + bytes.count]).copyMemory(from: source)
        }
    }

    /// Verifies the digest of `file[fileOffset, +size)`, then copies those bytes into the mapping at `into`.
    func copy(
        _ file: [UInt8], what: String, into: Address, gpa: UInt64, fileOffset: UInt64, size: UInt64, digest: String
    ) throws -> String {
        let payload = file
        let (fileEnd, overflow) = fileOffset.addingReportingOverflow(size)
        guard !overflow, fileEnd <= UInt64(payload.count), let start = Int(exactly: fileOffset), let count = Int(exactly: size)
        else {
            throw StepProblem(detail: "bytes \(hex(fileOffset))+\(hex(size)) are outside the \(payload.count)-byte \(what)")
        }
        let bytes = payload[start..<start + count]
        let actual = PayloadDigest.sha256(bytes)
        guard actual == digest else {
            // Never the digest of the range: a plan chooses the range, and would read any file byte by byte.
            throw StepProblem(detail: "\(what) bytes \(hex(fileOffset))+\(hex(size)) do not match the plan's \(digest); refusing to load them")
        }
        let (memory, _) = try userspaceAddress(into, size: size)
        // The mapping must be where the guest sees `gpa`, when it backs a slot that holds `gpa`.
        if let slot = slots.first(where: { $0.mapping === memory && gpa >= $0.gpa && gpa - $0.gpa < $0.size }),
            slot.mappingOffset + (gpa - slot.gpa) != into.offset
        {
            throw StepProblem(detail: "\(into) is not where guest address \(hex(gpa)) lives in \(into.map)")
        }
        let destination = memory.bytes
        let offset = Int(into.offset)
        payload.withUnsafeBytes { source in
            // SAFETY: `offset ..< offset + count` lies inside the mapping (checked by `userspaceAddress`) and
            // `start ..< start + count` inside the payload (checked above); an array and an mmap cannot overlap.
            UnsafeMutableRawBufferPointer(rebasing: destination[offset..<offset + count]).copyMemory(
                from: UnsafeRawBufferPointer(rebasing: source[start..<start + count]))
        }
        return "\(count) bytes at \(hex(gpa)), \(actual.prefix(19))… ok"
    }

    // MARK: Boot state

    func boot(_ step: Step, _ ref: FdRef, mode: BootMode, registers boot: X86BootRegisters?) throws -> String {
        #if arch(x86_64)
        let vcpu = try requireVCPU(ref, step)
        guard ref.index != nil else { throw missing(ref) }
        guard let boot else { throw unsupported(step) }
        let bootMode: BootState.Mode
        switch mode {
        case .real: bootMode = .real
        case .protected: bootMode = .protected
        case .long, .linux: bootMode = .long
        case .el1: throw unsupported(step)
        }
        var note = ""
        if !bootAreaWritten {
            note = try writeBootArea(bootMode)
            bootAreaWritten = true
        }
        let (sregs, regs) = BootState.kvmRegisters(boot, base: try vcpu.getSregs())
        try vcpu.setSregs(sregs)
        try vcpu.setRegs(regs)
        return "rip=\(hex(regs.rip)) rdi=\(regs.rdi) rsi=\(regs.rsi)" + note
        #else
        throw unsupported(step)
        #endif
    }

    #if arch(x86_64)
    /// Writes the GDT (and, in long mode, identity page tables over every slot) into guest memory.
    private func writeBootArea(_ mode: BootState.Mode) throws -> String {
        let ram = slots.map { (gpa: $0.gpa, size: $0.size) }
        var hugePages1G = false
        if slots.contains(where: { $0.gpa &+ $0.size > 4 << 30 }) {
            // 1 GiB pages above 4 GiB only when the guest's CPUID has pdpe1gb (0x80000001 EDX bit 26).
            hugePages1G = try cpuidEntries().contains { $0.function == 0x8000_0001 && $0.edx & (1 << 26) != 0 }
        }
        let writes = BootState.bootArea(mode: mode, ram: ram, hugePages1G: hugePages1G)
        for write in writes {
            let length = UInt64(write.bytes.count)
            guard let slot = slots.first(where: { write.gpa >= $0.gpa && write.gpa - $0.gpa <= $0.size &- length }),
                let memory = slot.mapping
            else {
                throw StepProblem(detail: "the boot area \(hex(write.gpa))+\(hex(length)) is not inside a memory slot the host can write")
            }
            let offset = Int(slot.mappingOffset + (write.gpa - slot.gpa))
            guard offset + write.bytes.count <= memory.size else {
                throw StepProblem(detail: "the boot area \(hex(write.gpa)) is outside \(slot.region)'s mapping")
            }
            let destination = memory.bytes
            write.bytes.withUnsafeBytes { source in
                // SAFETY: the destination range lies inside the slot's mapping (checked above).
                UnsafeMutableRawBufferPointer(rebasing: destination[offset..<offset + write.bytes.count]).copyMemory(from: source)
            }
        }
        guard let first = writes.first, let last = writes.last else { return "" }
        let end = last.gpa + UInt64(last.bytes.count)
        var note = " (boot area \(hex(first.gpa))-\(hex(end - 1)): \(mode == .long ? "GDT and page tables" : "GDT")"
        if mode == .long && slots.contains(where: { $0.gpa &+ $0.size > 4 << 30 }) {
            note += hugePages1G ? ", 1 GiB pages above 4 GiB" : ", RAM above 4 GiB unmapped (no pdpe1gb)"
        }
        return note + ")"
    }
    #endif

    // MARK: Undo

    /// Releases everything acquired, newest first: munmap mappings, close fds.
    func undoAll() {
        while let (step, ref, resource) = acquired.popLast() {
            let what: String
            switch resource {
            case .mapping(let memory):
                what = "munmap \(ref) \(hex(memory.userspaceAddress))+\(hex(UInt64(memory.size)))"
                try? memory.unmap()
                mappings = mappings.filter { $0.value !== memory }
                slots.removeAll { $0.mapping === memory }
            case .runMapping(let vcpu):
                what = "munmap \(ref) \(hex(UInt64(UInt(bitPattern: vcpu.runPage.baseAddress))))+\(hex(UInt64(vcpu.runPage.size)))"
                try? vcpu.runPage.unmap()
            case .vcpu(let vcpu):
                what = "close \(ref) (fd \(vcpu.rawDescriptor))"
                vcpus = vcpus.filter { $0.value !== vcpu }
            case .guestMemfd(let gmem):
                what = "close \(ref) (fd \(gmem.rawDescriptor))"
                guestMemfds = guestMemfds.filter { $0.value !== gmem }
                slots.removeAll { $0.guestMemfd === gmem }
            case .memfd(let memfd):
                what = "close \(ref) (fd \(memfd.rawDescriptor))"
                memfds = memfds.filter { $0.value !== memfd }
            case .vm(let created):
                what = "close \(ref) (fd \(created.rawDescriptor))"
                vm = nil
                slots.removeAll()
            case .system(let kvm):
                what = "close \(ref) (fd \(kvm.rawDescriptor))"
                system = nil
            case .sevDevice(let sev):
                what = "close \(ref) (fd \(sev.rawDescriptor))"
                sevDevice = nil
            }
            // `resource` holds the last reference; it goes at the end of this iteration, which closes the fd
            // (the KVM wrappers close on deinit).
            record(TraceEntry(kind: .undo, stepID: step.id, line: what, result: "0"))
        }
        supportedCPUID = nil
        #if arch(x86_64)
        tdxCapabilities = nil
        #endif
    }

    /// The sharing handler's view of the VM: each region's guest_memfd and shared mapping.
    func conversionRegions() -> [String: KVMConversions.Region] {
        var out: [String: KVMConversions.Region] = [:]
        for slot in slots {
            out[slot.region] = KVMConversions.Region(
                guestMemfd: slot.guestMemfd, shared: slot.mapping, sharedOffset: slot.mappingOffset)
        }
        return out
    }
}
