internal import CKVM

/// A virtual CPU: a vCPU fd from `VM.createVCPU` plus its mapped `kvm_run` page.
///
/// The run loop is `run()`, which returns the exit decoded from `kvm_run` (a `VCPUExit`, in the style
/// of kvm-ioctls' `VcpuExit`); answers for the guest (`writeIOData`, `writeMMIOData`,
/// `setHypercallReturn`) are written before the next `run()`.
///
/// `@unchecked Sendable`: the descriptor and mapping never change; `kvm_run` is shared memory that
/// only KVM and the thread currently calling `run()` touch (KVM serialises vCPU ioctls). Use one
/// vCPU from one thread at a time; `immediateExit` is the one field meant to be written from
/// elsewhere (e.g. a timeout) — it is a single byte the kernel reads on entry.
public final class VCPU: @unchecked Sendable {
    /// The vCPU id passed to `KVM_CREATE_VCPU`.
    public let id: UInt32
    /// The VM this vCPU belongs to (kept alive by the vCPU).
    public let vm: VM
    /// The descriptor number (read-only; owned by this object).
    public let rawDescriptor: CInt
    /// The `KVM_GET_VCPU_MMAP_SIZE` bytes mapped from the vCPU fd; starts with `struct kvm_run`.
    public let runPage: HostMemory
    private let kvmRun: UnsafeMutablePointer<ckvm_run>
    /// Whether the last `run()` that returned `.memoryFault` failed with EHWPOISON (else EFAULT). Written and
    /// read only by the thread running this vCPU.
    private var lastFaultWasPoison = false

    init(descriptor: CInt, id: UInt32, vm: VM, runPage: HostMemory) {
        precondition(runPage.size >= MemoryLayout<ckvm_run>.size, "kvm_run mapping smaller than struct kvm_run")
        self.rawDescriptor = descriptor
        self.id = id
        self.vm = vm
        self.runPage = runPage
        // SAFETY: the mapping is page aligned, at least sizeof(kvm_run) bytes long (checked above)
        // and lives as long as `runPage`, which this object owns.
        self.kvmRun = runPage.baseAddress.bindMemory(to: ckvm_run.self, capacity: 1)
    }

    /// Adopts `descriptor` as a vCPU fd, with `runPage` standing in for its `kvm_run` mapping
    /// (any mapping of at least 2352 bytes); for tests with deliberately bad descriptors.
    package convenience init(adoptingDescriptor descriptor: CInt, id: UInt32 = 0, vm: VM, runPage: HostMemory) {
        self.init(descriptor: descriptor, id: id, vm: vm, runPage: runPage)
    }

    deinit {
        // The kvm_run mapping goes with `runPage`; the kernel keeps the vCPU until both are gone.
        Syscalls.closeIgnoringErrors(rawDescriptor)
    }

    // MARK: - Running

    /// Enters the guest until the next exit and returns it, decoded from `kvm_run`.
    ///
    /// Two failures of the ioctl are exits, not errors (KVM_UAPI.md §2.5): EINTR (a signal, or
    /// `immediateExit`) returns `.interrupted`, and EFAULT/EHWPOISON with `exit_reason` =
    /// KVM_EXIT_MEMORY_FAULT returns `.memoryFault`. Anything else throws.
    ///
    /// The corresponding ioctl is `KVM_RUN`.
    public func run() throws(KVMError) -> VCPUExit {
        switch try runReason() {
        case .io:
            let io = self.io
            return .io(io, data: io.direction == .out ? Array(ioData) : [])
        case .mmio: return .mmio(mmio)
        case .hlt: return .hlt
        case .hypercall: return .hypercall(hypercall)
        case .memoryFault: return .memoryFault(memoryFault)
        case .shutdown: return .shutdown
        case .internalError: return .internalError(internalError)
        case .failEntry: return .failEntry(failEntry)
        case .systemEvent: return .systemEvent(systemEvent)
        case .intr: return .interrupted
        case let reason: return .other(reason)
        }
    }

    /// KVM_RUN and the exit's reason (`.intr` for EINTR, `.memoryFault` for its EFAULT/EHWPOISON).
    private func runReason() throws(KVMError) -> ExitReason {
        do {
            _ = try Syscalls.run(rawDescriptor)
            return exitReason
        } catch {
            if error.errno == .interrupted { return .intr }
            let hardwarePoison = 133  // EHWPOISON
            if error.errno == .badAddress || error.errno.rawValue == hardwarePoison,
                exitReason == .memoryFault
            {
                lastFaultWasPoison = error.errno.rawValue == hardwarePoison
                return .memoryFault
            }
            throw error
        }
    }

    /// `kvm_run.immediate_exit`: when set, the next `run()` returns `.intr` without entering the guest.
    public var immediateExit: Bool {
        // SAFETY: `kvmRun` points into the live kvm_run mapping (see init). The field is one byte,
        // accessed alone through a raw pointer so that a writer on another thread touches nothing else.
        get { UnsafeRawPointer(kvmRun).load(fromByteOffset: Self.immediateExitOffset, as: UInt8.self) != 0 }
        set {
            UnsafeMutableRawPointer(kvmRun).storeBytes(
                of: newValue ? 1 : 0, toByteOffset: Self.immediateExitOffset, as: UInt8.self)
        }
    }

    private static let immediateExitOffset = MemoryLayout<ckvm_run>.offset(of: \.immediate_exit) ?? 1

    /// `kvm_run.exit_reason` of the last exit (for tests: `run()` decodes it).
    package var exitReason: ExitReason {
        // SAFETY: `kvmRun` points into the live kvm_run mapping owned by `runPage` (see init).
        return ExitReason(rawValue: kvmRun.pointee.exit_reason)
    }

    // MARK: - Exit data

    /// The KVM_EXIT_IO data of the last exit.
    private var io: IOExit {
        // SAFETY: `kvmRun` points into the live kvm_run mapping owned by `runPage` (see init).
        let io = kvmRun.pointee.exit.io
        return IOExit(
            direction: io.direction == UInt8(CKVM_KVM_EXIT_IO_OUT) ? .out : .in, size: Int(io.size), port: io.port,
            count: Int(io.count), dataOffset: Int(io.data_offset))
    }

    /// The `size * count` bytes of the last KVM_EXIT_IO, inside the kvm_run mapping: the bytes the
    /// guest wrote (`.out`), or where to put the bytes it reads (`.in`). Valid until the next `run()`.
    private var ioData: UnsafeMutableRawBufferPointer {
        let exit = io
        let length = exit.size * exit.count
        precondition(
            exit.dataOffset >= 0 && length >= 0 && exit.dataOffset <= runPage.size - length,
            "KVM_EXIT_IO data outside the kvm_run mapping")
        // SAFETY: the range lies inside the kvm_run mapping (checked above), which outlives the call.
        return UnsafeMutableRawBufferPointer(rebasing: runPage.bytes[exit.dataOffset..<exit.dataOffset + length])
    }

    /// Answers a port-in exit: copies `bytes` (at most `size * count`) to the I/O data area.
    public func writeIOData(_ bytes: [UInt8]) {
        let destination = ioData
        precondition(bytes.count <= destination.count, "more I/O-in bytes than the exit asked for")
        // SAFETY: `destination` is the I/O data area inside the live kvm_run mapping (see `ioData`),
        // and no more bytes than it holds are copied (checked above).
        destination.copyBytes(from: bytes)
    }

    /// The KVM_EXIT_MMIO data of the last exit.
    private var mmio: MMIOExit {
        // SAFETY: `kvmRun` points into the live kvm_run mapping owned by `runPage` (see init).
        let m = kvmRun.pointee.exit.mmio
        let length = min(Int(m.len), 8)
        // SAFETY: reads at most the 8 bytes of the local copy of `data`.
        let data = withUnsafeBytes(of: m.data) { Array($0.prefix(length)) }
        return MMIOExit(physAddr: m.phys_addr, data: data, isWrite: m.is_write != 0)
    }

    /// Answers an MMIO read: the bytes (at most 8, normally `mmio.data.count`) the guest loads.
    public func writeMMIOData(_ bytes: [UInt8]) {
        precondition(bytes.count <= 8, "an MMIO access is at most 8 bytes")
        // SAFETY: `data` is an 8-byte array inside the live kvm_run mapping owned by `runPage`; at
        // most 8 bytes are copied.
        withUnsafeMutableBytes(of: &kvmRun.pointee.exit.mmio.data) { $0.copyBytes(from: bytes) }
    }

    /// The KVM_EXIT_HYPERCALL data of the last exit.
    private var hypercall: HypercallExit {
        // SAFETY: `kvmRun` points into the live kvm_run mapping owned by `runPage` (see init).
        let h = kvmRun.pointee.exit.hypercall
        return HypercallExit(
            nr: h.nr, args: [h.args.0, h.args.1, h.args.2, h.args.3, h.args.4, h.args.5], ret: h.ret, flags: h.flags)
    }

    /// Answers a hypercall exit: `hypercall.ret` (0 = success; for KVM_HC_MAP_GPA_RANGE also
    /// EINVAL 22 or EAGAIN 11 since 7.2, KVM_UAPI.md §7).
    public func setHypercallReturn(_ value: UInt64) {
        // SAFETY: `kvmRun` points into the live kvm_run mapping owned by `runPage` (see init).
        kvmRun.pointee.exit.hypercall.ret = value
    }

    /// The KVM_EXIT_MEMORY_FAULT data of the last exit.
    private var memoryFault: MemoryFaultExit {
        // SAFETY: `kvmRun` points into the live kvm_run mapping owned by `runPage` (see init).
        let f = kvmRun.pointee.exit.memory_fault
        return MemoryFaultExit(flags: f.flags, gpa: f.gpa, size: f.size, hardwarePoison: lastFaultWasPoison)
    }

    /// The KVM_EXIT_SYSTEM_EVENT data of the last exit.
    private var systemEvent: SystemEventExit {
        // SAFETY: `kvmRun` points into the live kvm_run mapping owned by `runPage` (see init).
        let e = kvmRun.pointee.exit.system_event
        return SystemEventExit(type: e.type, data: Self.words(e.data, count: Int(e.ndata)))
    }

    /// The KVM_EXIT_INTERNAL_ERROR data of the last exit.
    private var internalError: InternalErrorExit {
        // SAFETY: `kvmRun` points into the live kvm_run mapping owned by `runPage` (see init).
        let e = kvmRun.pointee.exit.internal
        return InternalErrorExit(suberror: e.suberror, data: Self.words(e.data, count: Int(e.ndata)))
    }

    /// The KVM_EXIT_FAIL_ENTRY data of the last exit.
    private var failEntry: FailEntryExit {
        // SAFETY: `kvmRun` points into the live kvm_run mapping owned by `runPage` (see init).
        let e = kvmRun.pointee.exit.fail_entry
        return FailEntryExit(hardwareEntryFailureReason: e.hardware_entry_failure_reason, cpu: e.cpu)
    }

    /// The first `count` (at most 16) words of a `__u64 data[16]` array imported as a tuple.
    private static func words<T>(_ array: T, count: Int) -> [UInt64] {
        let n = max(0, min(count, MemoryLayout<T>.size / 8))
        // SAFETY: reads `n` aligned 8-byte words inside the local copy of the array.
        return withUnsafeBytes(of: array) { raw in (0..<n).map { raw.load(fromByteOffset: $0 * 8, as: UInt64.self) } }
    }

    // MARK: - Memory

    /// Pre-populates the guest mappings of `gpa ..< gpa + size` and returns the part not yet done
    /// (loop while `size > 0`; KVM_UAPI.md §2.6). Needs `KVM_CAP_PRE_FAULT_MEMORY`.
    ///
    /// The corresponding ioctl is `KVM_PRE_FAULT_MEMORY`.
    public func preFaultMemory(gpa: UInt64, size: UInt64) throws(KVMError) -> (gpa: UInt64, size: UInt64) {
        var request = ckvm_pre_fault_memory()
        request.gpa = gpa
        request.size = size
        _ = try Syscalls.ioctl(
            rawDescriptor, .preFaultMemory, argument: &request,
            detail: "0x\(String(gpa, radix: 16))+0x\(String(size, radix: 16))")
        return (request.gpa, request.size)
    }

    /// Enables a per-vCPU capability.
    ///
    /// The corresponding ioctl is `KVM_ENABLE_CAP` (on the vCPU fd).
    public func enableCap(_ capability: KVMCapability, flags: UInt32 = 0, args: [UInt64] = []) throws(KVMError) {
        var request = EnableCapRequest.make(capability, flags: flags, args: args)
        _ = try Syscalls.ioctl(
            rawDescriptor, .enableCap, argument: &request,
            detail: capability.name)
    }

    // MARK: - x86 state

    #if arch(x86_64)
    /// Reads the general-purpose registers.
    ///
    /// The corresponding ioctl is `KVM_GET_REGS`.
    public func getRegs() throws(KVMError) -> Registers {
        var raw = ckvm_regs()
        _ = try Syscalls.ioctl(rawDescriptor, .getRegs, argument: &raw)
        return Registers(raw)
    }

    /// Writes the general-purpose registers.
    ///
    /// The corresponding ioctl is `KVM_SET_REGS`.
    public func setRegs(_ registers: Registers) throws(KVMError) {
        var raw = registers.raw
        _ = try Syscalls.ioctl(rawDescriptor, .setRegs, argument: &raw)
    }

    /// Reads the special registers (segments, descriptor tables, control registers, EFER).
    ///
    /// The corresponding ioctl is `KVM_GET_SREGS`.
    public func getSregs() throws(KVMError) -> SpecialRegisters {
        var raw = ckvm_sregs()
        _ = try Syscalls.ioctl(rawDescriptor, .getSregs, argument: &raw)
        return SpecialRegisters(raw)
    }

    /// Writes the special registers.
    ///
    /// The corresponding ioctl is `KVM_SET_SREGS`.
    public func setSregs(_ registers: SpecialRegisters) throws(KVMError) {
        var raw = registers.raw
        _ = try Syscalls.ioctl(rawDescriptor, .setSregs, argument: &raw)
    }

    /// Sets the CPUID the guest sees (usually `getSupportedCPUID()`, filtered). At most
    /// KVM_MAX_CPUID_ENTRIES (256) entries, else E2BIG.
    ///
    /// The corresponding ioctl is `KVM_SET_CPUID2`.
    public func setCPUID2(_ entries: [CPUIDEntry]) throws(KVMError) {
        let buffer = CPUIDBuffer(entries: entries)
        defer { withExtendedLifetime(buffer) {} }
        _ = try Syscalls.ioctl(
            rawDescriptor, .setCPUID2, buffer: buffer.bytes,
            detail: "\(entries.count) entries")
    }

    /// The CPUID leaves KVM supports on this host, read through the VM's system fd.
    ///
    /// The corresponding ioctl is `KVM_GET_SUPPORTED_CPUID` (on `/dev/kvm`).
    public func getSupportedCPUID() throws(KVMError) -> [CPUIDEntry] {
        try vm.system.supportedCPUID()
    }

    // The TDX vCPU sub-commands are in VCPU+TDX.swift.
    #endif
}

// MARK: - Exit values

/// What one `KVM_RUN` ended with, decoded from `kvm_run` (kvm-ioctls' `VcpuExit`).
public enum VCPUExit: Hashable, Sendable {
    /// KVM_EXIT_IO; `data` holds the bytes of an OUT (empty for an IN, which `VCPU.writeIOData` answers).
    case io(IOExit, data: [UInt8])
    /// KVM_EXIT_MMIO; a read is answered with `VCPU.writeMMIOData`.
    case mmio(MMIOExit)
    case hlt
    /// KVM_EXIT_HYPERCALL; answered with `VCPU.setHypercallReturn`.
    case hypercall(HypercallExit)
    /// KVM_RUN failed with EFAULT/EHWPOISON and `exit_reason` = KVM_EXIT_MEMORY_FAULT.
    case memoryFault(MemoryFaultExit)
    case shutdown
    case internalError(InternalErrorExit)
    case failEntry(FailEntryExit)
    case systemEvent(SystemEventExit)
    /// KVM_RUN returned EINTR (a signal or `immediate_exit`).
    case interrupted
    /// Any other exit reason.
    case other(ExitReason)

    /// The `KVM_EXIT_*` reason (`.intr` for `.interrupted`).
    public var reason: ExitReason {
        switch self {
        case .io: .io
        case .mmio: .mmio
        case .hlt: .hlt
        case .hypercall: .hypercall
        case .memoryFault: .memoryFault
        case .shutdown: .shutdown
        case .internalError: .internalError
        case .failEntry: .failEntry
        case .systemEvent: .systemEvent
        case .interrupted: .intr
        case .other(let reason): reason
        }
    }
}

/// `kvm_run.exit_reason` (`KVM_EXIT_*`).
public struct ExitReason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let unknown = ExitReason(rawValue: UInt32(CKVM_KVM_EXIT_UNKNOWN))
    public static let io = ExitReason(rawValue: UInt32(CKVM_KVM_EXIT_IO))
    public static let hypercall = ExitReason(rawValue: UInt32(CKVM_KVM_EXIT_HYPERCALL))
    public static let hlt = ExitReason(rawValue: UInt32(CKVM_KVM_EXIT_HLT))
    public static let mmio = ExitReason(rawValue: UInt32(CKVM_KVM_EXIT_MMIO))
    public static let shutdown = ExitReason(rawValue: UInt32(CKVM_KVM_EXIT_SHUTDOWN))
    public static let failEntry = ExitReason(rawValue: UInt32(CKVM_KVM_EXIT_FAIL_ENTRY))
    public static let intr = ExitReason(rawValue: UInt32(CKVM_KVM_EXIT_INTR))
    public static let internalError = ExitReason(rawValue: UInt32(CKVM_KVM_EXIT_INTERNAL_ERROR))
    public static let systemEvent = ExitReason(rawValue: UInt32(CKVM_KVM_EXIT_SYSTEM_EVENT))
    public static let memoryFault = ExitReason(rawValue: UInt32(CKVM_KVM_EXIT_MEMORY_FAULT))

    // `names` is generated from Scripts/uapi/kvm-uapi.json into UAPI+Generated.swift.

    /// The kernel's name (`KVM_EXIT_IO`), or `KVM_EXIT_<n>`.
    public var description: String { Self.names[rawValue] ?? "KVM_EXIT_\(rawValue)" }
}

/// A port I/O exit (`kvm_run.io`).
public struct IOExit: Hashable, Sendable {
    public enum Direction: Hashable, Sendable {
        /// The guest reads from the port (`KVM_EXIT_IO_IN`): write the answer with `VCPU.writeIOData`.
        case `in`
        /// The guest writes to the port (`KVM_EXIT_IO_OUT`): the bytes are in `VCPU.ioData`.
        case out
    }
    public var direction: Direction
    /// Bytes per access: 1, 2 or 4.
    public var size: Int
    public var port: UInt16
    /// Number of accesses (> 1 for `rep ins/outs`).
    public var count: Int
    /// Offset of the data from the start of `kvm_run`.
    public var dataOffset: Int

    public init(direction: Direction, size: Int, port: UInt16, count: Int, dataOffset: Int) {
        (self.direction, self.size, self.port, self.count, self.dataOffset) = (direction, size, port, count, dataOffset)
    }
}

/// An MMIO exit (`kvm_run.mmio`).
public struct MMIOExit: Hashable, Sendable {
    public var physAddr: UInt64
    /// `len` bytes: the value written, or (for a read) what KVM holds before the answer.
    public var data: [UInt8]
    public var isWrite: Bool

    public init(physAddr: UInt64, data: [UInt8], isWrite: Bool) {
        (self.physAddr, self.data, self.isWrite) = (physAddr, data, isWrite)
    }
}

/// A hypercall exit (`kvm_run.hypercall`); `nr` 12 is KVM_HC_MAP_GPA_RANGE (its number and attributes: the Plan
/// module's `Hypercall` and `MapGPARangeAttributes`, from the uapi table).
public struct HypercallExit: Hashable, Sendable {

    public var nr: UInt64
    /// Six arguments. For MAP_GPA_RANGE: GPA, number of 4 KiB pages, attributes.
    public var args: [UInt64]
    public var ret: UInt64
    /// `KVM_EXIT_HYPERCALL_LONG_MODE` (bit 0) when the guest was in 64-bit mode.
    public var flags: UInt64

    public init(nr: UInt64, args: [UInt64], ret: UInt64 = 0, flags: UInt64 = 0) {
        (self.nr, self.args, self.ret, self.flags) = (nr, args, ret, flags)
    }
}

/// A memory fault exit (`kvm_run.memory_fault`): the guest's access disagreed with the page's
/// private/shared attribute, or hit memory KVM could not map.
public struct MemoryFaultExit: Hashable, Sendable {
    public var flags: UInt64
    /// Page-aligned guest-physical address, with any shared/C bit stripped.
    public var gpa: UInt64
    public var size: UInt64
    /// `KVM_RUN` failed with EHWPOISON (the backing page is poisoned), not EFAULT: never recoverable.
    public var hardwarePoison: Bool

    public init(flags: UInt64, gpa: UInt64, size: UInt64, hardwarePoison: Bool = false) {
        (self.flags, self.gpa, self.size, self.hardwarePoison) = (flags, gpa, size, hardwarePoison)
    }
    /// `KVM_MEMORY_EXIT_FLAG_PRIVATE`: the access was private.
    public var isPrivate: Bool { flags & UInt64(CKVM_KVM_MEMORY_EXIT_FLAG_PRIVATE) != 0 }
}

/// A system event exit (`kvm_run.system_event`).
public struct SystemEventExit: Hashable, Sendable {
    /// `KVM_SYSTEM_EVENT_SHUTDOWN` 1, `RESET` 2, `CRASH` 3, `WAKEUP` 4, `SUSPEND` 5, `SEV_TERM` 6, `TDX_FATAL` 7.
    public var type: UInt32
    /// The first `ndata` words of `data`.
    public var data: [UInt64]

    public init(type: UInt32, data: [UInt64] = []) {
        (self.type, self.data) = (type, data)
    }
}

/// A KVM internal error exit (`kvm_run.internal`).
public struct InternalErrorExit: Hashable, Sendable {
    /// `KVM_INTERNAL_ERROR_EMULATION` 1, `SIMUL_EX` 2, `DELIVERY_EV` 3, `UNEXPECTED_EXIT_REASON` 4.
    public var suberror: UInt32
    /// The first `ndata` words of `data`.
    public var data: [UInt64]

    public init(suberror: UInt32, data: [UInt64] = []) {
        (self.suberror, self.data) = (suberror, data)
    }
}

/// A failed VM entry (`kvm_run.fail_entry`).
public struct FailEntryExit: Hashable, Sendable {
    public var hardwareEntryFailureReason: UInt64
    public var cpu: UInt32

    public init(hardwareEntryFailureReason: UInt64, cpu: UInt32) {
        (self.hardwareEntryFailureReason, self.cpu) = (hardwareEntryFailureReason, cpu)
    }
}
