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
    /// 125 (kvmplan's failure), 126 (the host lacks something the plan checks), 130 (SIGINT).
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
        let op = step.operation.op
        if error.operation != op && !(op == "open" && error.operation.hasPrefix("open ")) {
            detail = "\(error.operation): " + detail
        }
        self.init(step, detail: detail, errnoName: KVMError.name(of: error.errno))
    }
}

/// A check a step makes that does not hold (not a kernel error).
struct StepProblem: Error {
    var detail: String
    var status: Int32 = 125
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
    /// Checked between steps: SIGINT ends the launch (130).
    let interrupted: () -> Bool

    private(set) var entries: [TraceEntry] = []

    /// Every fd and mapping acquired, in order, with the step that acquired it.
    private enum Resource {
        case system(KVMSystem)
        case vm(VM)
        case guestMemfd(GuestMemfd)
        case memfd(Memfd)
        case mapping(HostMemory)
        case vcpu(VCPU)
        case runMapping(VCPU)
    }

    private var acquired: [(step: Step, ref: FdRef, resource: Resource)] = []

    private(set) var system: KVMSystem?
    private(set) var vm: VM?
    private var guestMemfds: [String: GuestMemfd] = [:]
    private var memfds: [String: Memfd] = [:]
    private var mappings: [String: HostMemory] = [:]
    private(set) var vcpus: [UInt32: VCPU] = [:]

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

    private(set) var slots: [Slot] = []
    private var supportedCPUID: [CPUIDEntry]?
    private var bootAreaWritten = false

    init(plan: Plan, payload: [UInt8]?, initrd: [UInt8]? = nil, output: any LaunchOutput, trace: Bool,
         interrupted: @escaping () -> Bool) {
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
        if interrupted() { throw StepFailure(
                step, detail: "interrupted (\(InterruptSignal.name)) before the step", status: InterruptSignal.exitStatus) }
        let result: String
        do {
            result = try perform(step)
        } catch let error as KVMError {
            var failure = StepFailure(step, kernel: error)
            if case .mmap(_, .hugetlbAnonymous, _, _, _, _) = step.operation, error.errno == .noMemory {
                failure.detail += "; this host has no free huge pages of that size (see /proc/sys/vm/nr_hugepages)"
            }
            if case .mmap(_, .memfd(let fd), _, _, _, _) = step.operation, memfds[fd.name]?.hugePages != nil,
                error.errno == .noMemory
            {
                failure.detail += "; this host has no free huge pages of that size (see /proc/sys/vm/nr_hugepages)"
            }
            throw failure
        } catch let problem as StepProblem {
            throw StepFailure(step, detail: problem.detail, status: problem.status)
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

    /// The checks of a `KVM_RUN` step before the run phase starts its vCPU (SIGINT, the vCPU exists); its
    /// result is recorded when the vCPU stops.
    func prepareRun(_ step: Step) throws(StepFailure) {
        if interrupted() { throw StepFailure(
                step, detail: "interrupted (\(InterruptSignal.name)) before the step", status: InterruptSignal.exitStatus) }
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

    private func acquire(_ step: Step, _ ref: FdRef, _ resource: Resource) {
        acquired.append((step, ref, resource))
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    private func perform(_ step: Step) throws -> String {
        switch step.operation {
        case .openDevice(let path):
            guard path == .kvm else { throw unsupported(step) }
            let kvm = try KVMSystem()
            system = kvm
            acquire(step, .kvm, .system(kvm))
            return "fd \(kvm.rawDescriptor)"

        case .getAPIVersion(_, let expect):
            let version = try requireSystem().apiVersion()
            guard UInt64(version) == expect else {
                throw StepProblem(detail: "KVM API version is \(version), the plan expects \(expect)", status: 126)
            }
            return String(version)

        case .checkExtension(let on, let cap, let expect):
            let kvmCap = KVMCapability(rawValue: cap.number)
            let value = on.kind == .vm ? try requireVM().checkExtension(kvmCap) : try requireSystem().checkExtension(kvmCap)
            guard value >= 0, expect.isSatisfied(by: UInt64(value)) else {
                throw StepProblem(detail: "\(cap.name) is \(value) on \(on), the plan expects \(expectationText(expect))", status: 126)
            }
            return String(value)

        case .createVM(_, let type):
            let created = try requireSystem().createVM(type: KVM.VMType(rawValue: UInt(type.value)))
            vm = created
            acquire(step, .vm, .vm(created))
            return "fd \(created.rawDescriptor)"

        case .enableCap(let on, let cap, let args):
            let kvmCap = KVMCapability(rawValue: cap.number)
            if on.kind == .vcpu {
                try requireVCPU(on, step).enableCap(kvmCap, args: args)
            } else {
                try requireVM().enableCap(kvmCap, args: args)
            }
            return "0"

        case .createGuestMemfd(_, let name, let size, let flags):
            let gmem = try requireVM().createGuestMemfd(size: size, flags: KVM.GuestMemfdFlags(rawValue: flags.rawValue))
            guestMemfds[name] = gmem
            acquire(step, .guestMemfd(name), .guestMemfd(gmem))
            return "fd \(gmem.rawDescriptor)"

        case .memfdCreate(let name, let hugetlb):
            let huge = hugetlb.flatMap { KVM.HugePageSize(rawValue: Int($0.bytes)) }
            // Memfd's initialiser also sizes the file; size 0 leaves that to the plan's own ftruncate step.
            let memfd = try Memfd(name: name, size: 0, hugePages: huge)
            memfds[name] = memfd
            acquire(step, .memfd(name), .memfd(memfd))
            return "fd \(memfd.rawDescriptor)"

        case .ftruncate(let fd, let size):
            guard let memfd = memfds[fd.name] else { throw missing(fd) }
            try memfd.setSize(size)
            return "0"

        case .fallocate(let fd, let mode, let offset, let size):
            switch (fd.kind, mode) {
            case (.guestMemfd, .allocate):
                guard let gmem = guestMemfds[fd.name] else { throw missing(fd) }
                try gmem.allocate(offset: offset, length: size)
            case (.guestMemfd, .punchHole):
                guard let gmem = guestMemfds[fd.name] else { throw missing(fd) }
                try gmem.punchHole(offset: offset, length: size)
            case (.memfd, .punchHole):
                guard let memfd = memfds[fd.name] else { throw missing(fd) }
                try memfd.punchHole(offset: offset, length: size)
            default:
                throw unsupported(step, "the KVM module has no wrapper for fallocate \(mode.rawValue) on \(fd)")
            }
            return "0"

        case .mmap(let name, let source, let size, let offset, let shared, let noreserve):
            guard let length = Int(exactly: size) else { throw StepProblem(detail: "size \(size) does not fit this host") }
            let memory: HostMemory
            var note = ""
            switch source {
            case .anonymous:
                guard !shared, offset == 0 else { throw unsupported(step, "MAP_SHARED anonymous memory has no KVM-module wrapper") }
                memory = try HostMemory.anonymous(size: length, noReserve: noreserve)
            case .hugetlbAnonymous(let huge):
                guard !shared, offset == 0, let pageSize = KVM.HugePageSize(rawValue: Int(huge.bytes)) else {
                    throw unsupported(step, "MAP_SHARED hugetlb anonymous memory has no KVM-module wrapper")
                }
                // Without MAP_NORESERVE the kernel reserves the huge pages now, so a host without enough of
                // them fails this step with ENOMEM instead of killing kvmplan with SIGBUS at the first touch.
                memory = try HostMemory.anonymous(size: length, noReserve: false, hugePages: pageSize)
                if noreserve { note = " (NORESERVE not applied: huge pages are reserved up front)" }
            case .memfd(let fd):
                guard let memfd = memfds[fd.name] else { throw missing(fd) }
                guard shared else { throw unsupported(step, "MAP_PRIVATE memfd mappings have no KVM-module wrapper") }
                memory = try memfd.map(offset: offset, length: length, noReserve: noreserve)
            case .guestMemfd(let fd):
                guard let gmem = guestMemfds[fd.name] else { throw missing(fd) }
                guard shared else { throw StepProblem(detail: "a guest_memfd can only be mapped MAP_SHARED") }
                memory = try gmem.map(offset: offset, length: length)
            }
            mappings[name] = memory
            acquire(step, .mapping(name), .mapping(memory))
            return hex(memory.userspaceAddress) + note

        case .setUserMemoryRegion(_, let region, let slot, let flags, let gpa, let size, let userspace):
            let (memory, address) = try userspaceAddress(userspace, size: size)
            try requireVM().setUserMemoryRegion(
                UserMemoryRegion(
                    slot: slot, flags: KVM.MemoryRegionFlags(rawValue: UInt32(truncatingIfNeeded: flags.rawValue)),
                    guestPhysAddr: gpa, memorySize: size, userspaceAddr: address))
            addSlot(Slot(region: region, slot: slot, gpa: gpa, size: size, mapping: memory,
                         mappingOffset: userspace.offset, readonly: flags.contains(.readonly), guestMemfd: nil,
                         guestMemfdOffset: 0))
            return "0"

        case .setUserMemoryRegion2(_, let region, let slot, let flags, let gpa, let size, let userspace, let binding):
            var memory: HostMemory?
            var address: UInt64 = 0
            if let userspace { (memory, address) = try userspaceAddress(userspace, size: size) }
            var gmem: GuestMemfd?
            if let binding {
                guard let bound = guestMemfds[binding.fd.name] else { throw missing(binding.fd) }
                gmem = bound
            }
            try requireVM().setUserMemoryRegion2(
                UserMemoryRegion2(
                    slot: slot, flags: KVM.MemoryRegionFlags(rawValue: UInt32(truncatingIfNeeded: flags.rawValue)),
                    guestPhysAddr: gpa, memorySize: size, userspaceAddr: address,
                    guestMemfdOffset: binding?.offset ?? 0,
                    guestMemfd: UInt32(bitPattern: gmem?.rawDescriptor ?? 0)))
            addSlot(Slot(region: region, slot: slot, gpa: gpa, size: size, mapping: memory,
                         mappingOffset: userspace?.offset ?? 0, readonly: flags.contains(.readonly), guestMemfd: gmem,
                         guestMemfdOffset: binding?.offset ?? 0))
            return "0"

        case .setMemoryAttributes(_, let gpa, let size, let attributes):
            try requireVM().setMemoryAttributes(
                address: gpa, size: size, attributes: KVM.MemoryAttributes(rawValue: attributes.rawValue))
            return "0"

        case .createVCPU(_, let index):
            // VM.createVCPU also maps the vCPU's kvm_run (KVM_GET_VCPU_MMAP_SIZE + mmap); the plan's map-run
            // step that follows takes that mapping over.
            let vcpu = try requireVM().createVCPU(id: index)
            vcpus[index] = vcpu
            acquire(step, .vcpu(index), .vcpu(vcpu))
            return "fd \(vcpu.rawDescriptor)"

        case .mmapRun(let ref):
            let vcpu = try requireVCPU(ref, step)
            guard let index = ref.index else { throw missing(ref) }
            acquire(step, .run(index), .runMapping(vcpu))
            return "\(hex(UInt64(UInt(bitPattern: vcpu.runPage.baseAddress)))) (\(vcpu.runPage.size) bytes, mapped with the vCPU)"

        case .setCPUID2(let ref, let from):
            guard from == .supported || from == .supportedHypervisor else { throw unsupported(step) }
            #if arch(x86_64)
            let vcpu = try requireVCPU(ref, step)
            var entries = try cpuidEntries()
            if from == .supportedHypervisor, let index = ref.index {
                // The hypervisor bit, and this vCPU's APIC id where CPUID reports it (leaf 1 EBX[31:24], the
                // x2APIC id of leaves 0xb and 0x1f): KVM gives vCPU N local APIC id N, and the MP table says so.
                for i in entries.indices {
                    switch entries[i].function {
                    case 1:
                        entries[i].ecx |= 1 << 31
                        entries[i].ebx = entries[i].ebx & 0x00ff_ffff | index << 24
                    case 0xb, 0x1f:
                        entries[i].edx = index
                    default:
                        break
                    }
                }
            }
            try vcpu.setCPUID2(entries)
            return "0 (\(entries.count) entries)"
            #else
            throw unsupported(step)
            #endif

        case .loadPayload(let into, let gpa, let size, let fileOffset, let digest):
            return try load(into: into, gpa: gpa, size: size, fileOffset: fileOffset, digest: digest)

        case .setBootState(let ref, let mode, let entry, let count):
            return try boot(step, ref, mode: mode, entry: entry, count: count)

        case .setTSSAddr(_, let address):
            #if arch(x86_64)
            guard let address32 = UInt32(exactly: address) else { throw StepProblem(detail: "the TSS address must lie below 4 GiB") }
            try requireVM().setTSSAddress(address32)
            return "0"
            #else
            throw unsupported(step)
            #endif

        case .setIdentityMapAddr(_, let address):
            #if arch(x86_64)
            try requireVM().setIdentityMapAddress(address)
            return "0"
            #else
            throw unsupported(step)
            #endif

        case .createIRQChip:
            #if arch(x86_64)
            try requireVM().createIRQChip()
            return "0"
            #else
            throw unsupported(step)
            #endif

        case .createPIT2(_, let flags):
            #if arch(x86_64)
            try requireVM().createPIT2(speakerDummy: flags.contains(.speakerDummy))
            return "0"
            #else
            throw unsupported(step)
            #endif

        case .loadInitrd(let into, let gpa, let size, let digest):
            guard let initrd else { throw StepProblem(detail: "the plan loads an initrd, but no initrd bytes were given") }
            return try copy(initrd, what: "initrd", into: into, gpa: gpa, fileOffset: 0, size: size, digest: digest)

        case .linuxMPTable(let into, let gpa, let cpus):
            guard let table = LinuxMPTable.build(cpus: cpus, at: gpa) else {
                throw StepProblem(detail: "an MP table lists 1 to \(LinuxMPTable.maxCPUs) processors, not \(cpus)")
            }
            try write(table, into: into, gpa: gpa)
            return "\(table.count) bytes at \(hex(gpa)): \(cpus) processor\(cpus == 1 ? "" : "s"), IOAPIC at \(hex(UInt64(LinuxMPTable.ioAPICAddress)))"

        case .linuxBootParams(let into, let zeroPage, let cmdlineGPA, let cmdline, let initrdRange, let e820):
            guard let payload else { throw StepProblem(detail: "the zero page needs the kernel image, but no payload bytes were given") }
            guard let page = LinuxZeroPage.build(image: payload, cmdlineGPA: cmdlineGPA, initrd: initrdRange, e820: e820) else {
                throw StepProblem(detail: "the payload has no complete setup header, or the e820 map has more than 128 entries")
            }
            guard cmdlineGPA >= zeroPage else { throw StepProblem(detail: "the command line lies below the zero page") }
            try write(page, into: into, gpa: zeroPage)
            try write(Array(cmdline.utf8) + [0], into: Address(into.map, offset: into.offset + (cmdlineGPA - zeroPage)), gpa: cmdlineGPA)
            return "zero page at \(hex(zeroPage)), \(cmdline.utf8.count + 1)-byte command line at \(hex(cmdlineGPA)), \(e820.count) e820 entries"

        case .run:
            // The run phase starts every vCPU together (Launcher); `prepareRun` checks these steps.
            throw StepProblem(detail: "KVM_RUN steps run in the run phase, after every other step")

        case .sevInit2, .snpLaunchStart, .snpLaunchUpdate, .snpLaunchFinish, .tdxCapabilities, .tdxInitVM,
            .tdxInitVCPU, .tdxInitMemRegion, .tdxFinalizeVM, .armVCPUInit, .armRMIPopulate:
            throw unsupported(step)
        }
    }

    // MARK: Pieces

    /// Whether this launcher can execute the step at all (checked for every step before anything is created).
    static func unsupportedReason(_ step: Step) -> String? {
        switch step.operation {
        case .openDevice(let path) where path != .kvm:
            return "opening \(path.rawValue) is not implemented"
        case .setCPUID2(_, let from) where from == .tdx:
            return "\(from.rawValue) is not implemented"
        case .sevInit2, .snpLaunchStart, .snpLaunchUpdate, .snpLaunchFinish, .tdxCapabilities, .tdxInitVM,
            .tdxInitVCPU, .tdxInitMemRegion, .tdxFinalizeVM:
            return "\(step.operation.command ?? step.operation.op) is not implemented"
        case .armVCPUInit, .armRMIPopulate:
            return "\(step.operation.op) is not implemented (arm64)"
        case .setBootState(_, let mode, _, _) where mode == .el1:
            return "arm64 boot state is not implemented"
        default:
            return nil
        }
    }

    private func unsupported(_ step: Step, _ why: String? = nil) -> StepProblem {
        StepProblem(detail: "kvmplan's launcher cannot execute this step: " + (why ?? PlanExecutor.unsupportedReason(step) ?? step.operation.op))
    }

    private func missing(_ ref: FdRef) -> StepProblem {
        StepProblem(detail: "\(ref) is not open (no earlier step defined it)")
    }

    private func requireSystem() throws -> KVMSystem {
        guard let system else { throw missing(.kvm) }
        return system
    }

    private func requireVM() throws -> VM {
        guard let vm else { throw missing(.vm) }
        return vm
    }

    private func requireVCPU(_ ref: FdRef, _ step: Step) throws -> VCPU {
        guard let index = ref.index, let vcpu = vcpus[index] else { throw missing(ref) }
        return vcpu
    }

    private func expectationText(_ expect: CapabilityExpectation) -> String {
        switch expect {
        case .atLeast(let minimum): ">= \(minimum)"
        case .bits(let mask): "bits \(hex(mask))"
        }
    }

    /// The mapping and host address of `%map.NAME+offset`, checking that `size` bytes fit in the mapping.
    private func userspaceAddress(_ address: Address, size: UInt64) throws -> (HostMemory, UInt64) {
        guard let memory = mappings[address.map.name] else { throw missing(address.map) }
        let (end, overflow) = address.offset.addingReportingOverflow(size)
        guard !overflow, end <= UInt64(memory.size) else {
            throw StepProblem(detail: "\(address)+\(hex(size)) is outside \(address.map) (\(hex(UInt64(memory.size))) bytes)")
        }
        return (memory, memory.userspaceAddress + address.offset)
    }

    private func addSlot(_ slot: Slot) {
        slots.removeAll { $0.slot == slot.slot }
        if slot.size > 0 { slots.append(slot) }
    }

    #if arch(x86_64)
    /// `KVM_GET_SUPPORTED_CPUID`, asked once per launch.
    private func cpuidEntries() throws -> [CPUIDEntry] {
        if let supportedCPUID { return supportedCPUID }
        let entries = try requireSystem().supportedCPUID()
        supportedCPUID = entries
        return entries
    }
    #endif

    /// The `load` step: verify the digest of the payload bytes, then copy them into the mapping.
    private func load(into: Address, gpa: UInt64, size: UInt64, fileOffset: UInt64, digest: String) throws -> String {
        guard let payload else { throw StepProblem(detail: "the plan loads a payload, but no payload bytes were given") }
        return try copy(payload, what: "payload", into: into, gpa: gpa, fileOffset: fileOffset, size: size, digest: digest)
    }

    /// Writes generated bytes (the zero page, the command line) at `into`, which must be where `gpa` lives.
    private func write(_ bytes: [UInt8], into: Address, gpa: UInt64) throws {
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
    private func copy(
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

    private func boot(_ step: Step, _ ref: FdRef, mode: BootMode, entry: UInt64, count: UInt32) throws -> String {
        #if arch(x86_64)
        let vcpu = try requireVCPU(ref, step)
        guard let index = ref.index else { throw missing(ref) }
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
        let sregs = BootState.specialRegisters(mode: bootMode, entry: entry, base: try vcpu.getSregs())
        try vcpu.setSregs(sregs)
        var regs = BootState.registers(mode: bootMode, entry: entry, index: Int(index), count: Int(count))
        if mode == .linux { regs = BootState.linuxRegisters(entry: entry) }
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
            }
            // `resource` holds the last reference; it goes at the end of this iteration, which closes the fd
            // (the KVM wrappers close on deinit).
            record(TraceEntry(kind: .undo, stepID: step.id, line: what, result: "0"))
        }
        supportedCPUID = nil
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
