internal import CKVM

// MARK: - Memory slot descriptions

/// A memslot for `KVM_SET_USER_MEMORY_REGION` (`struct kvm_userspace_memory_region`).
public struct UserMemoryRegion: Hashable, Sendable {
    /// Bits 15:0 slot id, bits 31:16 address-space id.
    public var slot: UInt32
    /// `KVM_MEM_LOG_DIRTY_PAGES` and `KVM_MEM_READONLY` only (GUEST_MEMFD needs region2).
    public var flags: MemoryRegionFlags
    public var guestPhysAddr: UInt64
    /// Bytes, host-page aligned; 0 deletes the slot.
    public var memorySize: UInt64
    /// Host address of the backing (`HostMemory.userspaceAddress`).
    public var userspaceAddr: UInt64

    public init(
        slot: UInt32, flags: MemoryRegionFlags = [], guestPhysAddr: UInt64, memorySize: UInt64,
        userspaceAddr: UInt64
    ) {
        (self.slot, self.flags, self.guestPhysAddr) = (slot, flags, guestPhysAddr)
        (self.memorySize, self.userspaceAddr) = (memorySize, userspaceAddr)
    }
}

/// A memslot for `KVM_SET_USER_MEMORY_REGION2` (`struct kvm_userspace_memory_region2`): the v1
/// fields plus a guest_memfd binding.
public struct UserMemoryRegion2: Hashable, Sendable {
    public var slot: UInt32
    /// Include `.guestMemfd` to bind `guestMemfd`.
    public var flags: MemoryRegionFlags
    public var guestPhysAddr: UInt64
    public var memorySize: UInt64
    /// Host address of the shared side (may be 0 for a private-only guest_memfd slot).
    public var userspaceAddr: UInt64
    /// Offset into the guest_memfd, host-page aligned.
    public var guestMemfdOffset: UInt64
    /// The guest_memfd descriptor (`GuestMemfd.rawDescriptor`), or 0 without `.guestMemfd`.
    public var guestMemfd: UInt32

    public init(
        slot: UInt32, flags: MemoryRegionFlags = [], guestPhysAddr: UInt64, memorySize: UInt64,
        userspaceAddr: UInt64 = 0, guestMemfdOffset: UInt64 = 0, guestMemfd: UInt32 = 0
    ) {
        (self.slot, self.flags, self.guestPhysAddr, self.memorySize) = (slot, flags, guestPhysAddr, memorySize)
        (self.userspaceAddr, self.guestMemfdOffset, self.guestMemfd) = (userspaceAddr, guestMemfdOffset, guestMemfd)
    }

    /// A slot bound to `guestMemfd` at `offset`; adds `.guestMemfd` to `flags`.
    public init(
        slot: UInt32, flags: MemoryRegionFlags = [], guestPhysAddr: UInt64, memorySize: UInt64,
        userspaceAddr: UInt64 = 0, guestMemfd: GuestMemfd, offset: UInt64 = 0
    ) {
        self.init(
            slot: slot, flags: flags.union(.guestMemfd), guestPhysAddr: guestPhysAddr, memorySize: memorySize,
            userspaceAddr: userspaceAddr, guestMemfdOffset: offset,
            guestMemfd: UInt32(bitPattern: guestMemfd.rawDescriptor))
    }
}

// MARK: - Confidential-computing command ids

/// `KVM_MEMORY_ENCRYPT_OP` sub-commands for SEV VMs (`enum sev_cmd_id`).
public struct SEVCommand: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let initVM = SEVCommand(rawValue: UInt32(CKVM_KVM_SEV_INIT))
    public static let esInit = SEVCommand(rawValue: UInt32(CKVM_KVM_SEV_ES_INIT))
    public static let launchStart = SEVCommand(rawValue: UInt32(CKVM_KVM_SEV_LAUNCH_START))
    public static let init2 = SEVCommand(rawValue: UInt32(CKVM_KVM_SEV_INIT2))
    public static let snpLaunchStart = SEVCommand(rawValue: UInt32(CKVM_KVM_SEV_SNP_LAUNCH_START))
    public static let snpLaunchUpdate = SEVCommand(rawValue: UInt32(CKVM_KVM_SEV_SNP_LAUNCH_UPDATE))
    public static let snpLaunchFinish = SEVCommand(rawValue: UInt32(CKVM_KVM_SEV_SNP_LAUNCH_FINISH))

    /// `KVM_SEV_SNP_LAUNCH_START`, …; `KVM_SEV_<n>` for others.
    public var description: String {
        switch self {
        case .initVM: return "KVM_SEV_INIT"
        case .esInit: return "KVM_SEV_ES_INIT"
        case .launchStart: return "KVM_SEV_LAUNCH_START"
        case .init2: return "KVM_SEV_INIT2"
        case .snpLaunchStart: return "KVM_SEV_SNP_LAUNCH_START"
        case .snpLaunchUpdate: return "KVM_SEV_SNP_LAUNCH_UPDATE"
        case .snpLaunchFinish: return "KVM_SEV_SNP_LAUNCH_FINISH"
        default: return "KVM_SEV_\(rawValue)"
        }
    }
}

/// `KVM_MEMORY_ENCRYPT_OP` sub-commands for TDX VMs and vCPUs (`enum kvm_tdx_cmd_id`).
public struct TDXCommand: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let capabilities = TDXCommand(rawValue: UInt32(CKVM_KVM_TDX_CAPABILITIES))
    public static let initVM = TDXCommand(rawValue: UInt32(CKVM_KVM_TDX_INIT_VM))
    public static let initVCPU = TDXCommand(rawValue: UInt32(CKVM_KVM_TDX_INIT_VCPU))
    public static let initMemRegion = TDXCommand(rawValue: UInt32(CKVM_KVM_TDX_INIT_MEM_REGION))
    public static let finalizeVM = TDXCommand(rawValue: UInt32(CKVM_KVM_TDX_FINALIZE_VM))
    public static let getCPUID = TDXCommand(rawValue: UInt32(CKVM_KVM_TDX_GET_CPUID))

    /// `KVM_TDX_INIT_VM`, …; `KVM_TDX_<n>` for others.
    public var description: String {
        switch self {
        case .capabilities: return "KVM_TDX_CAPABILITIES"
        case .initVM: return "KVM_TDX_INIT_VM"
        case .initVCPU: return "KVM_TDX_INIT_VCPU"
        case .initMemRegion: return "KVM_TDX_INIT_MEM_REGION"
        case .finalizeVM: return "KVM_TDX_FINALIZE_VM"
        case .getCPUID: return "KVM_TDX_GET_CPUID"
        default: return "KVM_TDX_\(rawValue)"
        }
    }
}

// MARK: - VM

/// A virtual machine: a VM fd from `KVMSystem.createVM`. Owns its descriptor (closed on deinit)
/// and keeps its `KVMSystem` alive.
public final class VM: Sendable {
    /// The KVM system this VM was created from.
    public let system: KVMSystem
    /// The machine type it was created with.
    public let type: VMType
    /// The descriptor number (read-only; owned by this object).
    public let rawDescriptor: CInt

    init(descriptor: CInt, type: VMType, system: KVMSystem) {
        self.rawDescriptor = descriptor
        self.type = type
        self.system = system
    }

    /// Adopts `descriptor` as a VM fd; for tests (deliberately bad descriptors) and callers that
    /// received a VM fd from elsewhere. The object closes it.
    package convenience init(adoptingDescriptor descriptor: CInt, type: VMType = .default, system: KVMSystem) {
        self.init(descriptor: descriptor, type: type, system: system)
    }

    deinit { Syscalls.closeIgnoringErrors(rawDescriptor) }

    /// The value of a capability for this VM (e.g. `KVM_CAP_GUEST_MEMFD_FLAGS` and
    /// `KVM_CAP_MEMORY_ATTRIBUTES` depend on the VM type; KVM_UAPI.md §7).
    ///
    /// The corresponding ioctl is `KVM_CHECK_EXTENSION` (on the VM fd).
    public func checkExtension(_ capability: KVMCapability) throws(KVMError) -> Int {
        try Syscalls.ioctl(
            rawDescriptor, .checkExtension, value: UInt(capability.rawValue),
            detail: capability.name)
    }

    /// Enables a capability with up to four arguments, e.g.
    /// `enableCap(.exitHypercall, args: [1 << 12])` for `KVM_HC_MAP_GPA_RANGE` exits.
    ///
    /// The corresponding ioctl is `KVM_ENABLE_CAP`.
    public func enableCap(_ capability: KVMCapability, flags: UInt32 = 0, args: [UInt64] = []) throws(KVMError) {
        var request = EnableCapRequest.make(capability, flags: flags, args: args)
        _ = try Syscalls.ioctl(
            rawDescriptor, .enableCap, argument: &request,
            detail: capability.name)
    }

    /// Creates a guest_memfd of `size` bytes (host-page aligned) bound to this VM.
    ///
    /// The corresponding ioctl is `KVM_CREATE_GUEST_MEMFD`.
    public func createGuestMemfd(size: UInt64, flags: GuestMemfdFlags = []) throws(KVMError) -> GuestMemfd {
        var request = ckvm_create_guest_memfd()
        request.size = size
        request.flags = flags.rawValue
        let fd = try Syscalls.ioctl(
            rawDescriptor, .createGuestMemfd, argument: &request)
        return GuestMemfd(descriptor: CInt(fd), size: size, flags: flags)
    }

    /// Creates, moves, changes or (with `memorySize` 0) deletes a memslot, without guest_memfd.
    ///
    /// The corresponding ioctl is `KVM_SET_USER_MEMORY_REGION`.
    public func setUserMemoryRegion(_ region: UserMemoryRegion) throws(KVMError) {
        var request = ckvm_userspace_memory_region(
            slot: region.slot, flags: region.flags.rawValue, guest_phys_addr: region.guestPhysAddr,
            memory_size: region.memorySize, userspace_addr: region.userspaceAddr)
        _ = try Syscalls.ioctl(
            rawDescriptor, .setUserMemoryRegion, argument: &request, detail: "slot \(region.slot)")
    }

    /// Creates, moves, changes or deletes a memslot, optionally bound to a guest_memfd.
    /// Needs `KVM_CAP_USER_MEMORY2`.
    ///
    /// The corresponding ioctl is `KVM_SET_USER_MEMORY_REGION2`.
    public func setUserMemoryRegion2(_ region: UserMemoryRegion2) throws(KVMError) {
        var request = ckvm_userspace_memory_region2()
        request.slot = region.slot
        request.flags = region.flags.rawValue
        request.guest_phys_addr = region.guestPhysAddr
        request.memory_size = region.memorySize
        request.userspace_addr = region.userspaceAddr
        request.guest_memfd_offset = region.guestMemfdOffset
        request.guest_memfd = region.guestMemfd
        _ = try Syscalls.ioctl(
            rawDescriptor, .setUserMemoryRegion2, argument: &request, detail: "slot \(region.slot)")
    }

    /// Sets the attributes of the guest-physical range `address ..< address + size` (page aligned).
    /// `[]` makes it shared, `.private` private; EINVAL when the VM type has no private memory.
    ///
    /// The corresponding ioctl is `KVM_SET_MEMORY_ATTRIBUTES`.
    public func setMemoryAttributes(address: UInt64, size: UInt64, attributes: MemoryAttributes) throws(KVMError) {
        var request = ckvm_memory_attributes(address: address, size: size, attributes: attributes.rawValue, flags: 0)
        _ = try Syscalls.ioctl(
            rawDescriptor, .setMemoryAttributes, argument: &request,
            detail: "0x\(String(address, radix: 16))+0x\(String(size, radix: 16))")
    }

    /// Creates vCPU `id` and maps its `kvm_run` page (`KVM_GET_VCPU_MMAP_SIZE` bytes, MAP_SHARED).
    ///
    /// The corresponding ioctl is `KVM_CREATE_VCPU`.
    public func createVCPU(id: UInt32) throws(KVMError) -> VCPU {
        let fd = CInt(
            try Syscalls.ioctl(
                rawDescriptor, .createVCPU, value: UInt(id),
                detail: "vCPU \(id)"))
        let runPage: HostMemory
        do {
            let mmapSize = try system.vcpuMmapSize()
            runPage = try HostMemory.sharedFile(fd: fd, offset: 0, length: mmapSize, noReserve: false, kind: "kvm_run")
        } catch {
            Syscalls.closeIgnoringErrors(fd)
            throw error
        }
        return VCPU(descriptor: fd, id: id, vm: self, runPage: runPage)
    }

    #if arch(x86_64)
    /// Issues a raw `KVM_MEMORY_ENCRYPT_OP` with `argument` pointing at a `struct kvm_sev_cmd` or
    /// `struct kvm_tdx_cmd` the caller built. The mocking driver sees only the call, not the bytes behind the
    /// pointer: prefer the typed sub-commands (VM+SEV.swift, VM+TDX.swift), which it records in full.
    ///
    /// The corresponding ioctl is `KVM_MEMORY_ENCRYPT_OP`.
    public func memoryEncryptOp(_ argument: UnsafeMutableRawPointer, detail: String? = nil) throws(KVMError) {
        _ = try Syscalls.ioctl(
            rawDescriptor, .memoryEncryptOp, pointer: argument, detail: detail)
    }

    /// Tells KVM where 3 pages of guest-physical space for the real-mode TSS may live (Intel VMX).
    ///
    /// The corresponding ioctl is `KVM_SET_TSS_ADDR`.
    public func setTSSAddress(_ address: UInt32) throws(KVMError) {
        _ = try Syscalls.ioctl(rawDescriptor, .setTSSAddr, value: UInt(address))
    }

    /// Tells KVM where the one-page EPT identity map for real mode may live (Intel VMX).
    ///
    /// The corresponding ioctl is `KVM_SET_IDENTITY_MAP_ADDR`.
    public func setIdentityMapAddress(_ address: UInt64) throws(KVMError) {
        var value = address
        _ = try Syscalls.ioctl(
            rawDescriptor, .setIdentityMapAddr, argument: &value)
    }

    /// Creates the in-kernel interrupt controllers: the 8259 PICs, the IOAPIC and, for every vCPU created
    /// afterwards, a local APIC (which handles HLT and INIT/SIPI itself). Before any vCPU.
    ///
    /// The corresponding ioctl is `KVM_CREATE_IRQCHIP`.
    public func createIRQChip() throws(KVMError) {
        _ = try Syscalls.ioctl(rawDescriptor, .createIRQChip)
    }

    /// Creates the in-kernel i8254 PIT, wired to IRQ 0; `speakerDummy` makes KVM answer port 0x61 too.
    /// After `createIRQChip`.
    ///
    /// The corresponding ioctl is `KVM_CREATE_PIT2`.
    public func createPIT2(speakerDummy: Bool) throws(KVMError) {
        var config = ckvm_pit_config()
        config.flags = speakerDummy ? UInt32(CKVM_KVM_PIT_SPEAKER_DUMMY) : 0
        _ = try Syscalls.ioctl(rawDescriptor, .createPIT2, argument: &config)
    }

    /// Sets the level of interrupt line `irq` (a GSI: ISA IRQs 0–15 reach both the PIC and the IOAPIC).
    /// Needs the in-kernel IRQ chip. Any thread may call it.
    ///
    /// The corresponding ioctl is `KVM_IRQ_LINE`.
    public func setIRQLine(_ irq: UInt32, high: Bool) throws(KVMError) {
        var level = ckvm_irq_level(irq: irq, level: high ? 1 : 0)
        _ = try Syscalls.ioctl(rawDescriptor, .irqLine, argument: &level, detail: "irq \(irq)")
    }
    #endif
}

// MARK: - Shared request builders

enum EnableCapRequest {
    static func make(_ capability: KVMCapability, flags: UInt32, args: [UInt64]) -> ckvm_enable_cap {
        precondition(args.count <= 4, "KVM_ENABLE_CAP takes at most 4 arguments")
        var request = ckvm_enable_cap()
        request.cap = capability.rawValue
        request.flags = flags
        let a = args + Array(repeating: 0, count: 4 - args.count)
        request.args = (a[0], a[1], a[2], a[3])
        return request
    }
}

extension KVMError {
    /// The error with `firmwareError` set when `code` is non-zero.
    func withFirmwareError(_ code: UInt64) -> KVMError {
        var copy = self
        if code != 0 { copy.firmwareError = code }
        return copy
    }
}
