// Request numbers are computed, never written out: `_IOC(dir, type, nr, size)` with the struct sizes of
// KVM_UAPI.md §1.5, per architecture. x86_64 and arm64 share the asm-generic encoding
// (nr bits 7:0, type 15:8, size 29:16, dir 31:30; write = 1, read = 2); they differ only in the sizes of
// arch-specific structs (`struct kvm_regs`) and in which ioctls exist. Tests pin every number.

// MARK: - Encoding

/// The direction bits of `_IOC`.
public enum IoctlDirection: UInt32, CaseIterable, Hashable, Sendable {
    /// `_IO`: no argument struct.
    case none = 0
    /// `_IOW`: userspace writes the struct.
    case write = 1
    /// `_IOR`: the kernel writes the struct.
    case read = 2
    /// `_IOWR`.
    case readWrite = 3
}

/// The argument types of the ioctls, with their sizes per architecture.
public enum UAPIStruct: String, CaseIterable, Hashable, Sendable {
    case none
    case unsignedLong = "unsigned long"
    case kvmUserspaceMemoryRegion = "struct kvm_userspace_memory_region"
    case kvmUserspaceMemoryRegion2 = "struct kvm_userspace_memory_region2"
    case kvmEnableCap = "struct kvm_enable_cap"
    case kvmEncRegion = "struct kvm_enc_region"
    case kvmMemoryAttributes = "struct kvm_memory_attributes"
    case kvmCreateGuestMemfd = "struct kvm_create_guest_memfd"
    case kvmPreFaultMemory = "struct kvm_pre_fault_memory"
    case kvmRegs = "struct kvm_regs"
    case kvmSregs = "struct kvm_sregs"
    case kvmCPUID2 = "struct kvm_cpuid2"
    case kvmOneReg = "struct kvm_one_reg"
    case kvmVCPUInit = "struct kvm_vcpu_init"
    case kvmArmRMIPopulate = "struct kvm_arm_rmi_populate"
    case kvmIRQLevel = "struct kvm_irq_level"
    case kvmPITConfig = "struct kvm_pit_config"
    case u64 = "__u64"

    /// `sizeof` on `arch`; nil where the struct does not exist.
    public func size(arch: PlanArch) -> UInt32? {
        switch self {
        case .none: 0
        case .unsignedLong: 8
        case .kvmUserspaceMemoryRegion: 32
        case .kvmUserspaceMemoryRegion2: 160
        case .kvmEnableCap: 104  // cap u32, flags u32, args[4] u64, pad[64]
        case .kvmEncRegion: 16
        case .kvmMemoryAttributes: 32
        case .kvmCreateGuestMemfd: 64
        case .kvmPreFaultMemory: 64
        // x86: 18 u64 (rax…r15, rip, rflags). arm64: user_pt_regs (34 u64 = 272) + sp_el1 + elr_el1 +
        // spsr[5] = 328, padded to 336 for the 16-aligned user_fpsimd_state (32 × 16 + fpsr + fpcr + 2 u64 = 528).
        case .kvmRegs: arch == .x86_64 ? 144 : 864
        // x86: 8 kvm_segment (24) + gdt, idt kvm_dtable (16) + cr0 cr2 cr3 cr4 cr8 efer apic_base + interrupt_bitmap[4].
        case .kvmSregs: arch == .x86_64 ? 312 : nil
        case .kvmCPUID2: arch == .x86_64 ? 8 : nil  // nent u32, padding u32, entries[]
        case .kvmOneReg: 16  // id u64, addr u64
        case .kvmVCPUInit: arch == .arm64 ? 32 : nil  // target u32, features[7] u32
        case .kvmArmRMIPopulate: arch == .arm64 ? 32 : nil
        case .kvmIRQLevel: 8  // irq (or status) u32, level u32
        case .kvmPITConfig: arch == .x86_64 ? 64 : nil  // flags u32, pad[15] u32
        case .u64: 8
        }
    }
}

/// The ioctls kvmplan issues, by name. Request numbers come from `IoctlNumbers`.
public enum Ioctl: String, CaseIterable, Hashable, Sendable {
    case getAPIVersion = "KVM_GET_API_VERSION"
    case createVM = "KVM_CREATE_VM"
    case checkExtension = "KVM_CHECK_EXTENSION"
    case getVCPUMmapSize = "KVM_GET_VCPU_MMAP_SIZE"
    case getSupportedCPUID = "KVM_GET_SUPPORTED_CPUID"
    case createVCPU = "KVM_CREATE_VCPU"
    case setUserMemoryRegion = "KVM_SET_USER_MEMORY_REGION"
    case setUserMemoryRegion2 = "KVM_SET_USER_MEMORY_REGION2"
    case run = "KVM_RUN"
    case getRegs = "KVM_GET_REGS"
    case setRegs = "KVM_SET_REGS"
    case getSregs = "KVM_GET_SREGS"
    case setSregs = "KVM_SET_SREGS"
    case setCPUID2 = "KVM_SET_CPUID2"
    case enableCap = "KVM_ENABLE_CAP"
    case setOneReg = "KVM_SET_ONE_REG"
    case armVCPUInit = "KVM_ARM_VCPU_INIT"
    case armPreferredTarget = "KVM_ARM_PREFERRED_TARGET"
    case memoryEncryptOp = "KVM_MEMORY_ENCRYPT_OP"
    case memoryEncryptRegRegion = "KVM_MEMORY_ENCRYPT_REG_REGION"
    case memoryEncryptUnregRegion = "KVM_MEMORY_ENCRYPT_UNREG_REGION"
    case setMemoryAttributes = "KVM_SET_MEMORY_ATTRIBUTES"
    case createGuestMemfd = "KVM_CREATE_GUEST_MEMFD"
    case preFaultMemory = "KVM_PRE_FAULT_MEMORY"
    case armRMIPopulate = "KVM_ARM_RMI_POPULATE"
    case setTSSAddr = "KVM_SET_TSS_ADDR"
    case setIdentityMapAddr = "KVM_SET_IDENTITY_MAP_ADDR"
    case createIRQChip = "KVM_CREATE_IRQCHIP"
    case irqLine = "KVM_IRQ_LINE"
    case createPIT2 = "KVM_CREATE_PIT2"

    /// The `_IOC` definition: direction, number within `KVMIO`, argument type.
    public var definition: (direction: IoctlDirection, nr: UInt32, argument: UAPIStruct) {
        switch self {
        case .getAPIVersion: (.none, 0x00, .none)
        case .createVM: (.none, 0x01, .none)
        case .checkExtension: (.none, 0x03, .none)
        case .getVCPUMmapSize: (.none, 0x04, .none)
        case .getSupportedCPUID: (.readWrite, 0x05, .kvmCPUID2)
        case .createVCPU: (.none, 0x41, .none)
        case .setUserMemoryRegion: (.write, 0x46, .kvmUserspaceMemoryRegion)
        case .setUserMemoryRegion2: (.write, 0x49, .kvmUserspaceMemoryRegion2)
        case .run: (.none, 0x80, .none)
        case .getRegs: (.read, 0x81, .kvmRegs)
        case .setRegs: (.write, 0x82, .kvmRegs)
        case .getSregs: (.read, 0x83, .kvmSregs)
        case .setSregs: (.write, 0x84, .kvmSregs)
        case .setCPUID2: (.write, 0x90, .kvmCPUID2)
        case .enableCap: (.write, 0xa3, .kvmEnableCap)
        case .setOneReg: (.write, 0xac, .kvmOneReg)
        case .armVCPUInit: (.write, 0xae, .kvmVCPUInit)
        case .armPreferredTarget: (.read, 0xaf, .kvmVCPUInit)
        case .memoryEncryptOp: (.readWrite, 0xba, .unsignedLong)
        case .memoryEncryptRegRegion: (.read, 0xbb, .kvmEncRegion)
        case .memoryEncryptUnregRegion: (.read, 0xbc, .kvmEncRegion)
        case .setMemoryAttributes: (.write, 0xd2, .kvmMemoryAttributes)
        case .createGuestMemfd: (.readWrite, 0xd4, .kvmCreateGuestMemfd)
        case .preFaultMemory: (.readWrite, 0xd5, .kvmPreFaultMemory)
        case .armRMIPopulate: (.readWrite, 0xd7, .kvmArmRMIPopulate)
        case .setTSSAddr: (.none, 0x47, .none)
        case .setIdentityMapAddr: (.write, 0x48, .u64)
        case .createIRQChip: (.none, 0x60, .none)
        case .irqLine: (.write, 0x61, .kvmIRQLevel)
        case .createPIT2: (.write, 0x77, .kvmPITConfig)
        }
    }

    /// The architectures whose uapi defines the ioctl (and whose KVM implements it).
    public var architectures: Set<PlanArch> {
        switch self {
        case .getSupportedCPUID, .getSregs, .setSregs, .setCPUID2, .memoryEncryptOp, .memoryEncryptRegRegion,
            .memoryEncryptUnregRegion, .setTSSAddr, .setIdentityMapAddr, .createPIT2:
            [.x86_64]
        case .armVCPUInit, .armPreferredTarget, .armRMIPopulate: [.arm64]
        default: [.x86_64, .arm64]
        }
    }

    /// `posted` for ioctls only in a posted series.
    public var uapiStatus: UAPIStatus { self == .armRMIPopulate ? .posted : .merged }
}

/// Computes ioctl request numbers per architecture.
public enum IoctlNumbers {
    /// `KVMIO`, the ioctl type of every KVM request.
    public static let kvmio: UInt32 = 0xAE

    /// `_IOC(dir, type, nr, size)` of the asm-generic encoding used by x86_64 and arm64.
    public static func encode(direction: IoctlDirection, type: UInt32, nr: UInt32, size: UInt32) -> UInt32 {
        precondition(type <= 0xff && nr <= 0xff && size < (1 << 14), "_IOC field out of range")
        return (direction.rawValue << 30) | (size << 16) | (type << 8) | nr
    }

    /// The request number of `ioctl` on `arch`; nil if the architecture does not have it.
    public static func number(_ ioctl: Ioctl, arch: PlanArch) -> UInt32? {
        guard ioctl.architectures.contains(arch) else { return nil }
        let (direction, nr, argument) = ioctl.definition
        guard let size = argument.size(arch: arch) else { return nil }
        return encode(direction: direction, type: kvmio, nr: nr, size: size)
    }

    /// Every ioctl of `arch` with its number, in declaration order.
    public static func table(arch: PlanArch) -> [(ioctl: Ioctl, number: UInt32)] {
        Ioctl.allCases.compactMap { ioctl in number(ioctl, arch: arch).map { (ioctl, $0) } }
    }
}
