/// The closed set of things a plan can do. Each case carries its typed arguments and knows its kernel
/// spelling (`op`, `command`), the fd it acts on (`on`), the fd or mapping it defines (`defines`) and the
/// fd kinds it accepts (`fdUses`). A plan file can only ever run these.
///
/// Fd arguments are explicit so that a wrong one is representable and `Plan.validate()` can reject it
/// (`.run(vcpu: .vm)` is an error, as in syzkaller's resource types).
public enum Operation: Hashable, Sendable {
    // MARK: System

    /// `open(2)` of `/dev/kvm` (defines `%kvm`) or `/dev/sev` (defines `%sev`), `O_RDWR | O_CLOEXEC`.
    case openDevice(DevicePath)
    /// `KVM_GET_API_VERSION` on `%kvm`; fails unless the result equals `expect` (12).
    case getAPIVersion(on: FdRef = .kvm, expect: UInt64 = 12)
    /// `KVM_CHECK_EXTENSION` on `%kvm` or `%vm`; fails unless the result meets `expect`.
    case checkExtension(on: FdRef = .kvm, cap: Capability, expect: CapabilityExpectation)
    /// `KVM_CREATE_VM` on `%kvm`; defines `%vm`.
    case createVM(on: FdRef = .kvm, type: VMType)
    /// `KVM_ENABLE_CAP` on `%vm` or `%vcpu.N`, with `args` = `kvm_enable_cap.args[4]` (exactly four values).
    case enableCap(on: FdRef = .vm, cap: Capability, args: [UInt64])

    // MARK: Memory

    /// `KVM_CREATE_GUEST_MEMFD` on `%vm`; defines `%gmem.NAME`.
    case createGuestMemfd(on: FdRef = .vm, name: String, size: UInt64, flags: GuestMemfdFlags)
    /// `memfd_create(2)` (`MFD_CLOEXEC`, plus `MFD_HUGETLB | MFD_HUGE_*` when `hugetlb`); defines `%memfd.NAME`.
    case memfdCreate(name: String, hugetlb: HugePageSize?)
    /// `ftruncate(2)` of a `%memfd`.
    case ftruncate(fd: FdRef, size: UInt64)
    /// `fallocate(2)` of a `%gmem` or `%memfd`.
    case fallocate(fd: FdRef, mode: FallocateMode, offset: UInt64, size: UInt64)
    /// `mmap(2)`, `PROT_READ | PROT_WRITE`; defines `%map.NAME`. `shared` = `MAP_SHARED` (else `MAP_PRIVATE`).
    case mmap(name: String, source: MappingSource, size: UInt64, offset: UInt64, shared: Bool, noreserve: Bool)
    /// `KVM_SET_USER_MEMORY_REGION` (v1) on `%vm`. `region` is the manifest region the slot belongs to.
    case setUserMemoryRegion(
        on: FdRef = .vm, region: String, slot: UInt32, flags: MemoryRegionFlags, gpa: UInt64, size: UInt64,
        userspace: Address)
    /// `KVM_SET_USER_MEMORY_REGION2` on `%vm`; `flags` contains `GUEST_MEMFD` exactly when `guestMemfd` is set.
    case setUserMemoryRegion2(
        on: FdRef = .vm, region: String, slot: UInt32, flags: MemoryRegionFlags, gpa: UInt64, size: UInt64,
        userspace: Address?, guestMemfd: GuestMemfdBinding?)
    /// `KVM_SET_MEMORY_ATTRIBUTES` on `%vm`.
    case setMemoryAttributes(on: FdRef = .vm, gpa: UInt64, size: UInt64, attributes: MemoryAttributes)

    // MARK: vCPUs

    /// `KVM_CREATE_VCPU(index)` on `%vm`; defines `%vcpu.index`.
    case createVCPU(on: FdRef = .vm, index: UInt32)
    /// `mmap(2)` of a vCPU fd's `struct kvm_run`, `KVM_GET_VCPU_MMAP_SIZE` bytes; defines `%run.N`.
    case mmapRun(vcpu: FdRef)
    /// `KVM_SET_CPUID2` on a vCPU with the entries of `from`.
    case setCPUID2(vcpu: FdRef, from: CPUIDSource)
    /// Host copy of payload bytes `[fileOffset, fileOffset + size)` into the mapping at `into` (guest address
    /// `gpa`); `sha256` is the digest of those bytes. Private memory is populated afterwards by the platform's
    /// launch commands from this shared copy. Spelled `load`.
    case loadPayload(into: Address, gpa: UInt64, size: UInt64, fileOffset: UInt64 = 0, sha256: String)
    /// Initial register state of a vCPU (x86: `KVM_SET_SREGS` + `KVM_SET_REGS`; arm64: `KVM_SET_ONE_REG` PC).
    /// `vcpuCount` is the number of vCPUs of the guest. Spelled `boot`.
    case setBootState(vcpu: FdRef, mode: BootMode, entry: UInt64, vcpuCount: UInt32)

    // MARK: Linux guests (x86): in-kernel devices and the boot protocol

    /// `KVM_SET_TSS_ADDR` on `%vm`: three pages outside RAM for Intel VMX's real-mode TSS (before any vCPU).
    case setTSSAddr(on: FdRef = .vm, address: UInt64)
    /// `KVM_SET_IDENTITY_MAP_ADDR` on `%vm`: one page outside RAM for VMX's identity map (before any vCPU).
    case setIdentityMapAddr(on: FdRef = .vm, address: UInt64)
    /// `KVM_CREATE_IRQCHIP` on `%vm`: in-kernel PIC, IOAPIC and a local APIC per vCPU (before any vCPU).
    case createIRQChip(on: FdRef = .vm)
    /// `KVM_CREATE_PIT2` on `%vm`: the in-kernel i8254 PIT (after the IRQ chip).
    case createPIT2(on: FdRef = .vm, flags: PITFlags)
    /// Host copy of the initrd file's `size` bytes into the mapping at `into` (guest address `gpa`); `sha256`
    /// is their digest. Spelled `load-initrd`.
    case loadInitrd(into: Address, gpa: UInt64, size: UInt64, sha256: String)
    /// The Linux/x86 boot protocol's zero page (`struct boot_params`) at `zeroPage`, written through `into`:
    /// the kernel's setup header copied from the payload, the e820 map, the initrd's place, and the command
    /// line at `cmdlineGPA`. Spelled `boot-params`.
    case linuxBootParams(into: Address, zeroPage: UInt64, cmdlineGPA: UInt64, cmdline: String, initrd: GPARange?, e820: [E820Entry])
    /// An MP table (`LinuxMPTable`) for `cpus` vCPUs at `gpa`, written through `into`: how Linux finds its
    /// processors and the IOAPIC without ACPI. Spelled `mp-table`.
    case linuxMPTable(into: Address, gpa: UInt64, cpus: UInt32)

    // MARK: AMD SEV-SNP (KVM_MEMORY_ENCRYPT_OP on %vm, kvm_sev_cmd.sev_fd = %sev)

    /// `KVM_SEV_INIT2` (22).
    case sevInit2(on: FdRef = .vm, sev: FdRef = .sev, vmsaFeatures: UInt64, ghcbVersion: UInt16)
    /// `KVM_SEV_SNP_LAUNCH_START` (100).
    case snpLaunchStart(on: FdRef = .vm, sev: FdRef = .sev, policy: UInt64)
    /// `KVM_SEV_SNP_LAUNCH_UPDATE` (101): encrypt (and measure) `[gpa, gpa+size)` from `source`.
    case snpLaunchUpdate(on: FdRef = .vm, sev: FdRef = .sev, gpa: UInt64, size: UInt64, pageType: SNPPageType, source: Address)
    /// `KVM_SEV_SNP_LAUNCH_FINISH` (102), with the manifest's `sev-snp` host data and ID block.
    case snpLaunchFinish(on: FdRef = .vm, sev: FdRef = .sev, finish: SNPLaunchFinish = SNPLaunchFinish())

    // MARK: Intel TDX (KVM_MEMORY_ENCRYPT_OP with struct kvm_tdx_cmd)

    /// `KVM_TDX_CAPABILITIES` (0) on `%vm`.
    case tdxCapabilities(on: FdRef = .vm)
    /// `KVM_TDX_INIT_VM` (1) on `%vm`; `gpaw` (48 or 52) goes into CPUID 0x80000008 EAX[23:16].
    case tdxInitVM(
        on: FdRef = .vm, attributes: UInt64, xfam: UInt64, gpaw: UInt8,
        measurements: TDXMeasurementRegisters = TDXMeasurementRegisters())
    /// `KVM_TDX_INIT_VCPU` (2) on a vCPU.
    case tdxInitVCPU(vcpu: FdRef)
    /// `KVM_TDX_INIT_MEM_REGION` (3) on a vCPU: add `nrPages` 4 KiB pages at `gpa` from `source`.
    case tdxInitMemRegion(vcpu: FdRef, gpa: UInt64, nrPages: UInt64, source: Address, measure: Bool)
    /// `KVM_TDX_FINALIZE_VM` (4) on `%vm`.
    case tdxFinalizeVM(on: FdRef = .vm)

    // MARK: arm64

    /// `KVM_ARM_PREFERRED_TARGET` on `%vm`, then `KVM_ARM_VCPU_INIT` on the vCPU with `features`.
    case armVCPUInit(vcpu: FdRef, features: ArmVCPUFeatures)
    /// `KVM_ARM_RMI_POPULATE` on `%vm` (posted Arm CCA series v14): copy `source` into protected memory.
    case armRMIPopulate(on: FdRef = .vm, base: UInt64, size: UInt64, source: Address, measure: Bool)

    // MARK: Running

    /// `KVM_RUN` on a vCPU.
    case run(vcpu: FdRef)
}

// MARK: - Kinds

/// The cases of `Operation`, without their arguments.
public enum OperationKind: String, CaseIterable, Hashable, Sendable {
    case openDevice, getAPIVersion, checkExtension, createVM, enableCap
    case createGuestMemfd, memfdCreate, ftruncate, fallocate, mmap
    case setUserMemoryRegion, setUserMemoryRegion2, setMemoryAttributes
    case createVCPU, mmapRun, setCPUID2, loadPayload, setBootState
    case sevInit2, snpLaunchStart, snpLaunchUpdate, snpLaunchFinish
    case tdxCapabilities, tdxInitVM, tdxInitVCPU, tdxInitMemRegion, tdxFinalizeVM
    case armVCPUInit, armRMIPopulate
    case setTSSAddr, setIdentityMapAddr, createIRQChip, createPIT2, loadInitrd, linuxBootParams, linuxMPTable
    case run

    /// The ioctl or syscall as the kernel spells it (`KVM_CREATE_VM`, `mmap`); `load` and `boot` for the
    /// launcher's own work.
    public var op: String {
        switch self {
        case .openDevice: "open"
        case .getAPIVersion: "KVM_GET_API_VERSION"
        case .checkExtension: "KVM_CHECK_EXTENSION"
        case .createVM: "KVM_CREATE_VM"
        case .enableCap: "KVM_ENABLE_CAP"
        case .createGuestMemfd: "KVM_CREATE_GUEST_MEMFD"
        case .memfdCreate: "memfd_create"
        case .ftruncate: "ftruncate"
        case .fallocate: "fallocate"
        case .mmap, .mmapRun: "mmap"
        case .setUserMemoryRegion: "KVM_SET_USER_MEMORY_REGION"
        case .setUserMemoryRegion2: "KVM_SET_USER_MEMORY_REGION2"
        case .setMemoryAttributes: "KVM_SET_MEMORY_ATTRIBUTES"
        case .createVCPU: "KVM_CREATE_VCPU"
        case .setCPUID2: "KVM_SET_CPUID2"
        case .loadPayload: "load"
        case .setBootState: "boot"
        case .sevInit2, .snpLaunchStart, .snpLaunchUpdate, .snpLaunchFinish, .tdxCapabilities, .tdxInitVM,
            .tdxInitVCPU, .tdxInitMemRegion, .tdxFinalizeVM:
            "KVM_MEMORY_ENCRYPT_OP"
        case .armVCPUInit: "KVM_ARM_VCPU_INIT"
        case .armRMIPopulate: "KVM_ARM_RMI_POPULATE"
        case .setTSSAddr: "KVM_SET_TSS_ADDR"
        case .setIdentityMapAddr: "KVM_SET_IDENTITY_MAP_ADDR"
        case .createIRQChip: "KVM_CREATE_IRQCHIP"
        case .createPIT2: "KVM_CREATE_PIT2"
        case .loadInitrd: "load-initrd"
        case .linuxBootParams: "boot-params"
        case .linuxMPTable: "mp-table"
        case .run: "KVM_RUN"
        }
    }

    /// The `KVM_MEMORY_ENCRYPT_OP` sub-command, for those.
    public var command: String? {
        switch self {
        case .sevInit2: "KVM_SEV_INIT2"
        case .snpLaunchStart: "KVM_SEV_SNP_LAUNCH_START"
        case .snpLaunchUpdate: "KVM_SEV_SNP_LAUNCH_UPDATE"
        case .snpLaunchFinish: "KVM_SEV_SNP_LAUNCH_FINISH"
        case .tdxCapabilities: "KVM_TDX_CAPABILITIES"
        case .tdxInitVM: "KVM_TDX_INIT_VM"
        case .tdxInitVCPU: "KVM_TDX_INIT_VCPU"
        case .tdxInitMemRegion: "KVM_TDX_INIT_MEM_REGION"
        case .tdxFinalizeVM: "KVM_TDX_FINALIZE_VM"
        default: nil
        }
    }

    /// The sub-command's id (`sev_cmd_id` / `kvm_tdx_cmd_id`).
    public var commandID: UInt32? {
        switch self {
        case .sevInit2: EncryptOpCommand.sevInit2
        case .snpLaunchStart: EncryptOpCommand.snpLaunchStart
        case .snpLaunchUpdate: EncryptOpCommand.snpLaunchUpdate
        case .snpLaunchFinish: EncryptOpCommand.snpLaunchFinish
        case .tdxCapabilities: EncryptOpCommand.tdxCapabilities
        case .tdxInitVM: EncryptOpCommand.tdxInitVM
        case .tdxInitVCPU: EncryptOpCommand.tdxInitVCPU
        case .tdxInitMemRegion: EncryptOpCommand.tdxInitMemRegion
        case .tdxFinalizeVM: EncryptOpCommand.tdxFinalizeVM
        default: nil
        }
    }

    /// The fd kinds the operation may act on (`on`); empty when it acts on no fd.
    public var allowedKinds: Set<FdKind> {
        switch self {
        case .openDevice, .memfdCreate: []
        case .getAPIVersion, .createVM: [.system]
        case .checkExtension: [.system, .vm]
        case .enableCap: [.vm, .vcpu]
        case .createGuestMemfd, .setUserMemoryRegion, .setUserMemoryRegion2, .setMemoryAttributes, .createVCPU:
            [.vm]
        case .ftruncate: [.memfd]
        case .fallocate: [.guestMemfd, .memfd]
        case .mmap: [.memfd, .guestMemfd]
        case .mmapRun, .setCPUID2, .setBootState, .tdxInitVCPU, .tdxInitMemRegion, .armVCPUInit, .run: [.vcpu]
        case .loadPayload, .loadInitrd, .linuxBootParams, .linuxMPTable: [.mapping]
        case .setTSSAddr, .setIdentityMapAddr, .createIRQChip, .createPIT2: [.vm]
        case .sevInit2, .snpLaunchStart, .snpLaunchUpdate, .snpLaunchFinish, .tdxCapabilities, .tdxInitVM,
            .tdxFinalizeVM, .armRMIPopulate:
            [.vm]
        }
    }

    /// The kind of fd the operation defines, if any.
    public var definedKind: FdKind? {
        switch self {
        case .openDevice: nil  // %kvm or %sev, by path
        case .createVM: .vm
        case .createGuestMemfd: .guestMemfd
        case .memfdCreate: .memfd
        case .mmap: .mapping
        case .createVCPU: .vcpu
        case .mmapRun: .runMapping
        default: nil
        }
    }

    /// The architectures whose KVM has the operation.
    public var architectures: Set<PlanArch> {
        switch self {
        case .setCPUID2, .sevInit2, .snpLaunchStart, .snpLaunchUpdate, .snpLaunchFinish, .tdxCapabilities,
            .tdxInitVM, .tdxInitVCPU, .tdxInitMemRegion, .tdxFinalizeVM, .setTSSAddr, .setIdentityMapAddr, .createIRQChip,
            .createPIT2, .loadInitrd, .linuxBootParams, .linuxMPTable:
            [.x86_64]
        case .armVCPUInit, .armRMIPopulate: [.arm64]
        default: [.x86_64, .arm64]
        }
    }

    /// The hardware a step of this kind needs beyond a plain KVM host, for comments in renderings.
    public var hardwareNote: String? {
        switch self {
        case .sevInit2, .snpLaunchStart, .snpLaunchUpdate, .snpLaunchFinish:
            "needs an AMD EPYC host with SEV-SNP enabled in firmware and kvm_amd.sev_snp=1"
        case .tdxCapabilities, .tdxInitVM, .tdxInitVCPU, .tdxInitMemRegion, .tdxFinalizeVM:
            "needs an Intel host with TDX enabled (TDX module loaded, kvm_intel.tdx=1)"
        case .armRMIPopulate:
            "needs an Arm CCA host (RME + RMM) and a kernel with the posted CCA series"
        default: nil
        }
    }
}

// MARK: - Spelling, fds

/// One fd or mapping an operation uses, with the JSON field that holds it and the kinds allowed there.
public struct FdUse: Hashable, Sendable {
    /// `fd` for the fd the step acts on; else the argument path (`sev`, `userspace.map`, `guest-memfd.fd`).
    public var field: String
    public var ref: FdRef
    public var allowed: Set<FdKind>
}

extension Operation {
    public var kind: OperationKind {
        switch self {
        case .openDevice: .openDevice
        case .getAPIVersion: .getAPIVersion
        case .checkExtension: .checkExtension
        case .createVM: .createVM
        case .enableCap: .enableCap
        case .createGuestMemfd: .createGuestMemfd
        case .memfdCreate: .memfdCreate
        case .ftruncate: .ftruncate
        case .fallocate: .fallocate
        case .mmap: .mmap
        case .setUserMemoryRegion: .setUserMemoryRegion
        case .setUserMemoryRegion2: .setUserMemoryRegion2
        case .setMemoryAttributes: .setMemoryAttributes
        case .createVCPU: .createVCPU
        case .mmapRun: .mmapRun
        case .setCPUID2: .setCPUID2
        case .loadPayload: .loadPayload
        case .setBootState: .setBootState
        case .sevInit2: .sevInit2
        case .snpLaunchStart: .snpLaunchStart
        case .snpLaunchUpdate: .snpLaunchUpdate
        case .snpLaunchFinish: .snpLaunchFinish
        case .tdxCapabilities: .tdxCapabilities
        case .tdxInitVM: .tdxInitVM
        case .tdxInitVCPU: .tdxInitVCPU
        case .tdxInitMemRegion: .tdxInitMemRegion
        case .tdxFinalizeVM: .tdxFinalizeVM
        case .armVCPUInit: .armVCPUInit
        case .armRMIPopulate: .armRMIPopulate
        case .setTSSAddr: .setTSSAddr
        case .setIdentityMapAddr: .setIdentityMapAddr
        case .createIRQChip: .createIRQChip
        case .createPIT2: .createPIT2
        case .loadInitrd: .loadInitrd
        case .linuxBootParams: .linuxBootParams
        case .linuxMPTable: .linuxMPTable
        case .run: .run
        }
    }

    /// The kernel spelling: `KVM_CREATE_VM`, `KVM_SET_USER_MEMORY_REGION2`, `mmap`, `KVM_MEMORY_ENCRYPT_OP`, `load`.
    public var op: String { kind.op }

    /// The `KVM_MEMORY_ENCRYPT_OP` sub-command (`KVM_SEV_SNP_LAUNCH_START`), if any.
    public var command: String? { kind.command }

    /// The fd or mapping the operation acts on; nil for `open`, `memfd_create` and anonymous `mmap`.
    public var on: FdRef? {
        switch self {
        case .openDevice, .memfdCreate: nil
        case .getAPIVersion(let on, _), .checkExtension(let on, _, _), .createVM(let on, _), .enableCap(let on, _, _),
            .createGuestMemfd(let on, _, _, _), .setUserMemoryRegion(let on, _, _, _, _, _, _),
            .setUserMemoryRegion2(let on, _, _, _, _, _, _, _), .setMemoryAttributes(let on, _, _, _),
            .createVCPU(let on, _), .sevInit2(let on, _, _, _), .snpLaunchStart(let on, _, _),
            .snpLaunchUpdate(let on, _, _, _, _, _), .snpLaunchFinish(let on, _, _), .tdxCapabilities(let on),
            .tdxInitVM(let on, _, _, _, _), .tdxFinalizeVM(let on), .armRMIPopulate(let on, _, _, _, _),
            .setTSSAddr(let on, _), .setIdentityMapAddr(let on, _), .createIRQChip(let on), .createPIT2(let on, _):
            on
        case .ftruncate(let fd, _), .fallocate(let fd, _, _, _): fd
        case .mmap(_, let source, _, _, _, _): source.fd
        case .mmapRun(let vcpu), .setCPUID2(let vcpu, _), .setBootState(let vcpu, _, _, _), .tdxInitVCPU(let vcpu),
            .tdxInitMemRegion(let vcpu, _, _, _, _), .armVCPUInit(let vcpu, _), .run(let vcpu):
            vcpu
        case .loadPayload(let into, _, _, _, _), .loadInitrd(let into, _, _, _), .linuxBootParams(let into, _, _, _, _, _),
            .linuxMPTable(let into, _, _):
            into.map
        }
    }

    /// The fd or mapping the operation creates, if any.
    public var defines: FdRef? {
        switch self {
        case .openDevice(let path): path.fd
        case .createVM: .vm
        case .createGuestMemfd(_, let name, _, _): .guestMemfd(name)
        case .memfdCreate(let name, _): .memfd(name)
        case .mmap(let name, _, _, _, _, _): .mapping(name)
        case .createVCPU(_, let index): .vcpu(index)
        case .mmapRun(let vcpu): FdRef(kind: .runMapping, name: vcpu.name)
        default: nil
        }
    }

    /// Every fd and mapping the operation uses, `on` first (field `fd`), with the kinds allowed in each place.
    public var fdUses: [FdUse] {
        var uses: [FdUse] = []
        if let on {
            var allowed = kind.allowedKinds
            // An mmap of a file must name a fd of the kind its source says.
            if case .mmap(_, let source, _, _, _, _) = self {
                switch source {
                case .memfd: allowed = [.memfd]
                case .guestMemfd: allowed = [.guestMemfd]
                case .anonymous, .hugetlbAnonymous: break
                }
            }
            uses.append(FdUse(field: "fd", ref: on, allowed: allowed))
        }
        switch self {
        case .setUserMemoryRegion(_, _, _, _, _, _, let userspace):
            uses.append(FdUse(field: "userspace.map", ref: userspace.map, allowed: [.mapping]))
        case .setUserMemoryRegion2(_, _, _, _, _, _, let userspace, let guestMemfd):
            if let userspace { uses.append(FdUse(field: "userspace.map", ref: userspace.map, allowed: [.mapping])) }
            if let guestMemfd {
                uses.append(FdUse(field: "guest-memfd.fd", ref: guestMemfd.fd, allowed: [.guestMemfd]))
            }
        case .sevInit2(_, let sev, _, _), .snpLaunchStart(_, let sev, _), .snpLaunchFinish(_, let sev, _):
            uses.append(FdUse(field: "sev", ref: sev, allowed: [.sev]))
        case .snpLaunchUpdate(_, let sev, _, _, _, let source):
            uses.append(FdUse(field: "sev", ref: sev, allowed: [.sev]))
            uses.append(FdUse(field: "source.map", ref: source.map, allowed: [.mapping]))
        case .tdxInitMemRegion(_, _, _, let source, _), .armRMIPopulate(_, _, _, let source, _):
            uses.append(FdUse(field: "source.map", ref: source.map, allowed: [.mapping]))
        default:
            break
        }
        return uses
    }

    /// `posted` when the operation or one of its arguments exists only in a posted series.
    public var uapiStatus: UAPIStatus {
        switch self {
        case .armRMIPopulate: .posted
        case .createVM(_, let type): type.uapiStatus
        case .checkExtension(_, let cap, _), .enableCap(_, let cap, _): cap.uapiStatus
        default: .merged
        }
    }

    /// The ioctls the operation issues, in order (empty for plain syscalls and `load`).
    public func ioctls(arch: PlanArch) -> [Ioctl] {
        switch kind {
        case .openDevice, .memfdCreate, .ftruncate, .fallocate, .mmap, .loadPayload, .loadInitrd, .linuxBootParams,
            .linuxMPTable:
            []
        case .setTSSAddr: [.setTSSAddr]
        case .setIdentityMapAddr: [.setIdentityMapAddr]
        case .createIRQChip: [.createIRQChip]
        case .createPIT2: [.createPIT2]
        case .getAPIVersion: [.getAPIVersion]
        case .checkExtension: [.checkExtension]
        case .createVM: [.createVM]
        case .enableCap: [.enableCap]
        case .createGuestMemfd: [.createGuestMemfd]
        case .setUserMemoryRegion: [.setUserMemoryRegion]
        case .setUserMemoryRegion2: [.setUserMemoryRegion2]
        case .setMemoryAttributes: [.setMemoryAttributes]
        case .createVCPU: [.createVCPU]
        case .mmapRun: [.getVCPUMmapSize]
        case .setCPUID2:
            if case .setCPUID2(_, .tdx) = self { [.memoryEncryptOp, .setCPUID2] } else { [.getSupportedCPUID, .setCPUID2] }
        case .setBootState: arch == .x86_64 ? [.getSregs, .setSregs, .setRegs] : [.setOneReg]
        case .sevInit2, .snpLaunchStart, .snpLaunchUpdate, .snpLaunchFinish, .tdxCapabilities, .tdxInitVM,
            .tdxInitVCPU, .tdxInitMemRegion, .tdxFinalizeVM:
            [.memoryEncryptOp]
        case .armVCPUInit: [.armPreferredTarget, .armVCPUInit]
        case .armRMIPopulate: [.armRMIPopulate]
        case .run: [.run]
        }
    }
}
