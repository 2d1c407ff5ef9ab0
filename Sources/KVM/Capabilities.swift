internal import CKVM

// MARK: - Capabilities

/// A `KVM_CAP_*` number for `KVM_CHECK_EXTENSION` and `KVM_ENABLE_CAP` (KVM_UAPI.md §1.3).
public struct KVMCapability: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    // The named members and `names` are generated from Scripts/uapi/kvm-uapi.json into UAPI+Generated.swift.

    /// The kernel's name, e.g. `KVM_CAP_USER_MEMORY2`; `KVM_CAP_<n>` for numbers this module does not name.
    public var name: String { Self.names[rawValue] ?? "KVM_CAP_\(rawValue)" }

    /// The capability with the kernel name `name` (`KVM_CAP_GUEST_MEMFD`), or nil if unknown.
    public init?(name: String) {
        guard let entry = Self.names.first(where: { $0.value == name }) else { return nil }
        self.rawValue = entry.key
    }

    public var description: String { name }
}

// MARK: - VM types

/// The machine type passed to `KVM_CREATE_VM` (KVM_UAPI.md §1.2).
///
/// On x86 the type is a small number whose bit is set in `KVM_CAP_VM_TYPES`; on arm64 it holds the
/// IPA size in bits 7:0 and type flags such as `KVM_VM_TYPE_ARM_PROTECTED` above.
public struct VMType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt
    public init(rawValue: UInt) { self.rawValue = rawValue }

    /// `KVM_X86_DEFAULT_VM` (0); on arm64, a normal VM with the default 40-bit IPA space.
    public static let `default` = VMType(rawValue: UInt(CKVM_KVM_X86_DEFAULT_VM))
    /// `KVM_X86_SW_PROTECTED_VM` (1): guest_memfd private memory without encryption.
    public static let swProtected = VMType(rawValue: UInt(CKVM_KVM_X86_SW_PROTECTED_VM))
    /// `KVM_X86_SEV_VM` (2).
    public static let sev = VMType(rawValue: UInt(CKVM_KVM_X86_SEV_VM))
    /// `KVM_X86_SEV_ES_VM` (3).
    public static let sevES = VMType(rawValue: UInt(CKVM_KVM_X86_SEV_ES_VM))
    /// `KVM_X86_SNP_VM` (4).
    public static let sevSNP = VMType(rawValue: UInt(CKVM_KVM_X86_SNP_VM))
    /// `KVM_X86_TDX_VM` (5).
    public static let tdx = VMType(rawValue: UInt(CKVM_KVM_X86_TDX_VM))
    /// arm64 `KVM_VM_TYPE_ARM_PROTECTED` (`1UL << 31`, Linux 7.1): a pKVM protected VM.
    public static let armProtected = VMType(rawValue: CKVM_KVM_VM_TYPE_ARM_PROTECTED)

    /// The x86 types in the order of their `KVM_CAP_VM_TYPES` bit.
    public static let x86Types: [VMType] = [.default, .swProtected, .sev, .sevES, .sevSNP, .tdx]

    /// Decodes an x86 `KVM_CAP_VM_TYPES` bitmap (bit n = type n). Bits this module does not name
    /// are kept as `VMType(rawValue: n)`, whose name is `type-n`.
    public static func decodeX86Bitmap(_ bitmap: UInt64) -> [VMType] {
        (0..<64).filter { bitmap & (1 << UInt64($0)) != 0 }.map { VMType(rawValue: UInt($0)) }
    }

    /// The manifest's platform spelling for x86 types: `default`, `sw-protected`, `sev`, `sev-es`,
    /// `sev-snp`, `tdx`; `pkvm` for the arm64 protected flag; otherwise `type-<n>`.
    public var name: String {
        switch self {
        case .default: return "default"
        case .swProtected: return "sw-protected"
        case .sev: return "sev"
        case .sevES: return "sev-es"
        case .sevSNP: return "sev-snp"
        case .tdx: return "tdx"
        case .armProtected: return "pkvm"
        default: return "type-\(rawValue)"
        }
    }

    /// The type named `name` (see `name`), or nil.
    public init?(name: String) {
        let all = VMType.x86Types + [.armProtected]
        guard let match = all.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    /// The kernel's constant name: `KVM_X86_SNP_VM`, … (`KVM_CREATE_VM type=…` in plans); the value in hex
    /// for types this module does not name. The names are generated into UAPI+Generated.swift.
    public var kernelName: String { Self.kernelNames[rawValue] ?? "0x\(String(rawValue, radix: 16))" }

    public var description: String { name }
}

// MARK: - Flags

/// `kvm_userspace_memory_region(2).flags` (`KVM_MEM_*`).
public struct MemoryRegionFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `KVM_MEM_READONLY`: guest writes exit as MMIO.
    public static let readonly = MemoryRegionFlags(rawValue: CKVM_KVM_MEM_READONLY)
    /// `KVM_MEM_GUEST_MEMFD` (region2 only): the slot's private side is a guest_memfd.
    public static let guestMemfd = MemoryRegionFlags(rawValue: CKVM_KVM_MEM_GUEST_MEMFD)
}

/// `kvm_create_guest_memfd.flags` (`GUEST_MEMFD_FLAG_*`, Linux 6.18).
public struct GuestMemfdFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// `GUEST_MEMFD_FLAG_MMAP`: the guest_memfd can be mmap'ed (MAP_SHARED only).
    public static let mmap = GuestMemfdFlags(rawValue: UInt64(CKVM_GUEST_MEMFD_FLAG_MMAP))
    /// `GUEST_MEMFD_FLAG_INIT_SHARED`: pages start shared (EINVAL on private-memory VMs).
    public static let initShared = GuestMemfdFlags(rawValue: UInt64(CKVM_GUEST_MEMFD_FLAG_INIT_SHARED))
}

/// `kvm_memory_attributes.attributes` (`KVM_MEMORY_ATTRIBUTE_*`).
public struct MemoryAttributes: OptionSet, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// `KVM_MEMORY_ATTRIBUTE_PRIVATE` (bit 3): the range is backed by guest_memfd.
    public static let `private` = MemoryAttributes(rawValue: UInt64(CKVM_KVM_MEMORY_ATTRIBUTE_PRIVATE))
}

/// A huge page size for hugetlb-backed host memory.
public enum HugePageSize: Int, Hashable, Sendable, CaseIterable {
    /// 2 MiB pages (`MFD_HUGE_2MB` / `MAP_HUGE_2MB`).
    case size2MiB = 0x20_0000
    /// 1 GiB pages (`MFD_HUGE_1GB` / `MAP_HUGE_1GB`).
    case size1GiB = 0x4000_0000

    var memfdFlags: CUnsignedInt {
        CKVM_MFD_HUGETLB | (self == .size2MiB ? CKVM_MFD_HUGE_2MB : CKVM_MFD_HUGE_1GB)
    }

    var mmapFlags: CInt {
        CKVM_MAP_HUGETLB | (self == .size2MiB ? CKVM_MAP_HUGE_2MB : CKVM_MAP_HUGE_1GB)
    }
}
