// What every step of a plan answers, forwarded to its step kind (`Plan/Steps/`). `Operation` and
// `OperationKind` themselves are generated (Operation+Generated.swift, by Scripts/generate-steps.py).

extension OperationKind {
    /// The ioctl or syscall as the kernel spells it (`KVM_CREATE_VM`, `mmap`); `load` and `boot` for the
    /// launcher's own work.
    public var op: String { stepType.op }

    /// The `KVM_MEMORY_ENCRYPT_OP` sub-command, for those.
    public var command: String? { stepType.command }

    /// The fd kinds the operation may act on (`on`); empty when it acts on no fd.
    public var allowedKinds: Set<FdKind> { stepType.allowedKinds }

    /// The architectures whose KVM has the operation.
    public var architectures: Set<PlanArch> { stepType.architectures }

    /// The hardware a step of this kind needs beyond a plain KVM host, for comments in renderings.
    public var hardwareNote: String? { stepType.hardwareNote }
}

/// One fd or mapping an operation uses, with the JSON field that holds it and the kinds allowed there.
public struct FdUse: Hashable, Sendable {
    /// `fd` for the fd the step acts on; else the argument path (`sev`, `userspace.map`, `guest-memfd.fd`).
    public var field: String
    public var ref: FdRef
    public var allowed: Set<FdKind>
}

extension Operation {
    /// The kernel spelling: `KVM_CREATE_VM`, `KVM_SET_USER_MEMORY_REGION2`, `mmap`, `KVM_MEMORY_ENCRYPT_OP`, `load`.
    public var op: String { kind.op }

    /// The `KVM_MEMORY_ENCRYPT_OP` sub-command (`KVM_SEV_SNP_LAUNCH_START`), if any.
    public var command: String? { kind.command }

    /// The fd or mapping the operation acts on; nil for `open`, `memfd_create` and anonymous `mmap`.
    public var on: FdRef? { step.actsOn }

    /// The fd or mapping the operation creates, if any.
    public var defines: FdRef? { step.defines }

    /// Every fd and mapping the operation uses, `on` first (field `fd`), with the kinds allowed in each place.
    public var fdUses: [FdUse] { step.fdUses }

    /// `posted` when the operation or one of its arguments exists only in a posted series.
    public var uapiStatus: UAPIStatus { step.uapiStatus }

    /// The ioctls the operation issues, in order (empty for plain syscalls and `load`).
    public func ioctls(arch: PlanArch) -> [Ioctl] { step.ioctls(arch: arch) }

    /// The step kind's value (`CreateVMStep`, …), for modules that extend step kinds with their own protocols
    /// (the launcher's `ExecutableStep`) and ask for them with `as?`.
    public var stepValue: any Hashable & Sendable { step }
}

// MARK: - Shapes several step kinds share

/// A memslot as a `KVM_SET_USER_MEMORY_REGION` or `KVM_SET_USER_MEMORY_REGION2` step sets it.
public struct MemslotSetting: Hashable, Sendable {
    /// The manifest region the slot belongs to.
    public var region: String
    public var slot: UInt32
    public var flags: MemoryRegionFlags
    public var gpa: UInt64
    public var size: UInt64
    /// The shared (host-mapped) side; always present for v1.
    public var userspace: Address?
    /// The private side (v2 only).
    public var guestMemfd: GuestMemfdBinding?
}

extension Operation {
    /// The memslot the step sets, for either memslot ioctl; nil for every other step.
    public var memslot: MemslotSetting? {
        switch self {
        case .setUserMemoryRegion(let s):
            MemslotSetting(region: s.region, slot: s.slot, flags: s.flags, gpa: s.gpa, size: s.size, userspace: s.userspace)
        case .setUserMemoryRegion2(let s):
            MemslotSetting(
                region: s.region, slot: s.slot, flags: s.flags, gpa: s.gpa, size: s.size, userspace: s.userspace,
                guestMemfd: s.guestMemfd)
        default:
            nil
        }
    }
}
