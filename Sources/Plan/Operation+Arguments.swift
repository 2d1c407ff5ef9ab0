import GuestLayout

// The typed argument values of `Operation` cases. Constants are those of KVM_UAPI.md §1.2–§1.4.

// MARK: - Named flag sets

/// A set of flags with uapi names, spelled as arrays of names in JSON and joined by `|` in text.
public protocol NamedFlags: OptionSet, Hashable, Sendable where RawValue == UInt64, Element == Self {
    /// Every flag with its name, in bit order.
    static var named: [(name: String, flag: Self)] { get }
}

extension NamedFlags {
    /// The names of the flags in the set, in bit order.
    public var names: [String] { Self.named.filter { contains($0.flag) }.map(\.name) }

    /// The set of the named flags; nil if a name is unknown.
    public init?(names: [String]) {
        var set = Self()
        for name in names {
            guard let entry = Self.named.first(where: { $0.name == name }) else { return nil }
            set.insert(entry.flag)
        }
        self = set
    }

    /// Whether every bit of the set has a name.
    var isFullyNamed: Bool { Self(names: names)?.rawValue == rawValue }

    /// `GUEST_MEMFD|READONLY`, or `0` for the empty set.
    var text: String {
        guard isFullyNamed else { return PlanFormatting.hex(rawValue) }
        return names.isEmpty ? "0" : names.joined(separator: "|")
    }
}

/// `GUEST_MEMFD_FLAG_*` of `KVM_CREATE_GUEST_MEMFD` (Linux 6.18).
public struct GuestMemfdFlags: NamedFlags {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    // The members and `named` are generated from Scripts/uapi/kvm-uapi.json into UAPI+Generated.swift.
}

/// `KVM_MEM_*` flags of a memslot.
public struct MemoryRegionFlags: NamedFlags {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    // The members and `named` are generated from Scripts/uapi/kvm-uapi.json into UAPI+Generated.swift.
}

/// `KVM_MEMORY_ATTRIBUTE_*` of `KVM_SET_MEMORY_ATTRIBUTES`.
public struct MemoryAttributes: NamedFlags {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    // The members and `named` are generated from Scripts/uapi/kvm-uapi.json into UAPI+Generated.swift.
}

/// `KVM_PIT_*` flags of `struct kvm_pit_config`.
public struct PITFlags: NamedFlags {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    // The members and `named` are generated from Scripts/uapi/kvm-uapi.json into UAPI+Generated.swift.
}

/// The attributes (`args[2]`) of a guest's `KVM_HC_MAP_GPA_RANGE` hypercall.
public struct MapGPARangeAttributes: NamedFlags {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    // The members and `named` are generated from Scripts/uapi/kvm-uapi.json into UAPI+Generated.swift.
}

/// One entry of the e820 memory map in the zero page (`struct boot_e820_entry`).
public struct E820Entry: Hashable, Sendable {
    public enum Kind: String, CaseIterable, Hashable, Sendable {
        /// `E820_TYPE_RAM` (1).
        case ram
        /// `E820_TYPE_RESERVED` (2).
        case reserved

        public var value: UInt32 { self == .ram ? 1 : 2 }
    }

    public var address: UInt64
    public var size: UInt64
    public var kind: Kind

    public init(address: UInt64, size: UInt64, kind: Kind) {
        (self.address, self.size, self.kind) = (address, size, kind)
    }
}

/// `KVM_ARM_VCPU_*` feature bits of `struct kvm_vcpu_init.features[0]` (bit numbers from the arm64 uapi header).
public struct ArmVCPUFeatures: NamedFlags {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    // The members and `named` are generated from Scripts/uapi/kvm-uapi.json into UAPI+Generated.swift.
}

// MARK: - Devices, capabilities, VM types

/// A device node a plan opens.
public enum DevicePath: String, CaseIterable, Hashable, Sendable {
    case kvm = "/dev/kvm"
    case sev = "/dev/sev"

    /// The reference the open defines.
    public var fd: FdRef {
        switch self {
        case .kvm: .kvm
        case .sev: .sev
        }
    }
}

/// Whether a uapi is merged upstream or only exists in a posted series (e.g. Arm CCA). Posted steps are
/// marked in every rendering, because their numbers and layouts may change.
public enum UAPIStatus: String, CaseIterable, Hashable, Sendable, Comparable {
    case merged
    case posted

    public static func < (lhs: UAPIStatus, rhs: UAPIStatus) -> Bool { lhs == .merged && rhs == .posted }

    /// The posted series the `posted` values target (the only posted uapi kvmplan uses is Arm CCA's), shown in
    /// every `posted uapi` mark.
    public static let postedSeries = "Arm CCA series v14"
}

/// A `KVM_CAP_*` capability, by name and number. Use the catalogue (`Capability.guestMemfd`, `Capability.named(_:)`);
/// `Plan.validate()` rejects capabilities not in it.
public struct Capability: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let name: String
    public let number: UInt32
    public let uapiStatus: UAPIStatus

    public init(name: String, number: UInt32, uapiStatus: UAPIStatus = .merged) {
        self.name = name
        self.number = number
        self.uapiStatus = uapiStatus
    }

    public var description: String { name }
    public static func < (lhs: Capability, rhs: Capability) -> Bool { lhs.name < rhs.name }

    // The named members and `catalogue` (every capability a plan may name) are generated from
    // Scripts/uapi/kvm-uapi.json into UAPI+Generated.swift.

    /// The catalogue entry named `name`.
    public static func named(_ name: String) -> Capability? { catalogue.first { $0.name == name } }

    /// Names of the bits of this capability's value, when its value is a named flag set.
    var bitNames: [(name: String, bit: UInt64)]? {
        switch name {
        case Capability.guestMemfdFlags.name: GuestMemfdFlags.named.map { ($0.name, $0.flag.rawValue) }
        case Capability.memoryAttributes.name: MemoryAttributes.named.map { ($0.name, $0.flag.rawValue) }
        default: nil
        }
    }
}

/// What a `KVM_CHECK_EXTENSION` result must be.
public enum CapabilityExpectation: Hashable, Sendable {
    /// The value is at least this (`KVM_CAP_GUEST_MEMFD` ≥ 1).
    case atLeast(UInt64)
    /// Every bit of this mask is set in the value (`KVM_CAP_VM_TYPES` has bit 4).
    case bits(UInt64)

    /// Whether a host's answer satisfies the expectation.
    public func isSatisfied(by value: UInt64) -> Bool {
        switch self {
        case .atLeast(let minimum): value >= minimum
        case .bits(let mask): value & mask == mask
        }
    }
}

/// Which fd a capability is checked on. VM-scope capabilities (`KVM_CAP_GUEST_MEMFD_FLAGS`,
/// `KVM_CAP_MEMORY_ATTRIBUTES`) must be read on a VM fd of the plan's type.
public enum CapabilityScope: String, CaseIterable, Hashable, Sendable {
    case system
    case vm
}

/// The machine type word of `KVM_CREATE_VM`, by symbolic name and value.
///
/// x86_64: `KVM_X86_*_VM`. arm64: the IPA size in bits 7:0 with the type flags (`KVM_VM_TYPE_ARM_PROTECTED`,
/// posted `KVM_VM_TYPE_ARM_REALM`). Construct through the static members so name and value agree.
public struct VMType: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public let value: UInt64
    public let uapiStatus: UAPIStatus

    init(name: String, value: UInt64, uapiStatus: UAPIStatus = .merged) {
        self.name = name
        self.value = value
        self.uapiStatus = uapiStatus
    }

    public var description: String { name }

    // The x86 types (`x86Default` … `x86TDX`, `x86Types`) and the arm64 type flags are generated from
    // Scripts/uapi/kvm-uapi.json into UAPI+Generated.swift.

    /// The arm64 machine kinds, selected by flag bits of the type word.
    public enum ArmKind: String, CaseIterable, Hashable, Sendable {
        case normal
        /// pKVM protected VM: `KVM_VM_TYPE_ARM_PROTECTED` = 1 << 31 (Linux 7.1).
        case protected
        /// Arm CCA realm: `KVM_VM_TYPE_ARM_REALM` = 1UL << 30 (posted series v14, not merged; v5…v13 used
        /// 1 << 8, which is EINVAL on every merged kernel and on v14: KVM_UAPI.md §8).
        case realm
    }

    /// An arm64 type word: `KVM_VM_TYPE_ARM_IPA_SIZE(ipaBits)` plus the kind's flag. `ipaBits` 0 means
    /// the default of 40 bits; otherwise 32…52. Nil for an IPA size KVM cannot accept.
    public static func arm(ipaBits: UInt8, kind: ArmKind = .normal) -> VMType? {
        guard ipaBits == 0 || (32...52).contains(ipaBits) else { return nil }
        let ipa = "KVM_VM_TYPE_ARM_IPA_SIZE(\(ipaBits))"
        switch kind {
        case .normal:
            return VMType(name: ipa, value: UInt64(ipaBits))
        case .protected:
            return VMType(name: armProtectedFlag.name + "|" + ipa, value: armProtectedFlag.value | UInt64(ipaBits))
        case .realm:
            return VMType(name: armRealmFlag.name + "|" + ipa, value: armRealmFlag.value | UInt64(ipaBits), uapiStatus: .posted)
        }
    }

    /// The arm64 kind of the type word (nil for x86 types), from its flag bits.
    public var armKind: ArmKind? {
        if name.hasPrefix(Self.armProtectedFlag.name + "|") { return .protected }
        if name.hasPrefix(Self.armRealmFlag.name + "|") { return .realm }
        return name.hasPrefix("KVM_VM_TYPE_ARM_IPA_SIZE(") ? .normal : nil
    }

    /// What a host needs beyond KVM itself to create this type, for dry runs and host checks: pKVM's boot mode
    /// (arm.c:241-252 in Linux 7.1.5) or the posted CCA series; nil when any KVM of the architecture can.
    public var hostNeeds: String? {
        switch armKind {
        case .protected?: "a host booted with kvm-arm.mode=protected (otherwise KVM_CREATE_VM fails with EINVAL)"
        case .realm?: "an Arm CCA host (RME + RMM) running a kernel with the posted \(UAPIStatus.postedSeries) (otherwise KVM_CREATE_VM fails with EINVAL)"
        default: nil
        }
    }

    /// The type of `arch` spelled `name` (as `name` spells it); nil if there is none.
    public static func named(_ name: String, arch: PlanArch) -> VMType? {
        switch arch {
        case .x86_64:
            return x86Types.first { $0.name == name }
        case .arm64:
            var rest = Substring(name)
            var kind = ArmKind.normal
            if rest.hasPrefix(armProtectedFlag.name + "|") {
                kind = .protected
                rest = rest.dropFirst(armProtectedFlag.name.count + 1)
            } else if rest.hasPrefix(armRealmFlag.name + "|") {
                kind = .realm
                rest = rest.dropFirst(armRealmFlag.name.count + 1)
            }
            guard rest.hasPrefix("KVM_VM_TYPE_ARM_IPA_SIZE("), rest.hasSuffix(")") else { return nil }
            let digits = rest.dropFirst("KVM_VM_TYPE_ARM_IPA_SIZE(".count).dropLast()
            guard let bits = UInt8(digits), String(bits) == digits, let type = arm(ipaBits: bits, kind: kind),
                type.name == name
            else { return nil }
            return type
        }
    }
}

// MARK: - Memory

/// The huge page size of hugetlbfs-backed memory.
public enum HugePageSize: String, CaseIterable, Hashable, Sendable {
    case size2M = "2M"
    case size1G = "1G"

    public var bytes: UInt64 {
        switch self {
        case .size2M: 2 << 20
        case .size1G: 1 << 30
        }
    }

    /// log2 of the size, as encoded in `MAP_HUGE_*` / `MFD_HUGE_*`.
    var shift: Int {
        switch self {
        case .size2M: 21
        case .size1G: 30
        }
    }
}

/// What an `mmap` maps.
public enum MappingSource: Hashable, Sendable {
    /// `MAP_ANONYMOUS` memory.
    case anonymous
    /// `MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB/1GB` memory.
    case hugetlbAnonymous(HugePageSize)
    /// A memfd (`%memfd.NAME`), usually shared with `MAP_SHARED`.
    case memfd(FdRef)
    /// A guest_memfd created with `GUEST_MEMFD_FLAG_MMAP` (`%gmem.NAME`); `MAP_SHARED` only.
    case guestMemfd(FdRef)

    /// The fd mapped, if any.
    public var fd: FdRef? {
        switch self {
        case .anonymous, .hugetlbAnonymous: nil
        case .memfd(let fd), .guestMemfd(let fd): fd
        }
    }
}

/// A userspace address: a mapping plus a byte offset (`%map.ram+0x1000`).
public struct Address: Hashable, Sendable, CustomStringConvertible {
    public var map: FdRef
    public var offset: UInt64

    public init(_ map: FdRef, offset: UInt64 = 0) {
        self.map = map
        self.offset = offset
    }

    public var description: String { "\(map)+\(PlanFormatting.hex(offset))" }
}

/// The guest_memfd side of a memslot: a guest_memfd plus the offset in it (`%gmem.ram+0x0`).
public struct GuestMemfdBinding: Hashable, Sendable, CustomStringConvertible {
    public var fd: FdRef
    public var offset: UInt64

    public init(_ fd: FdRef, offset: UInt64 = 0) {
        self.fd = fd
        self.offset = offset
    }

    public var description: String { "\(fd)+\(PlanFormatting.hex(offset))" }
}

/// The `mode` of a `fallocate(2)` on a guest_memfd or memfd.
public enum FallocateMode: String, CaseIterable, Hashable, Sendable {
    /// `FALLOC_FL_KEEP_SIZE`: allocate backing pages now.
    case allocate
    /// `FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE`: free the backing pages.
    case punchHole = "punch-hole"

    var flagsText: String {
        switch self {
        case .allocate: "KEEP_SIZE"
        case .punchHole: "KEEP_SIZE|PUNCH_HOLE"
        }
    }
}

// MARK: - vCPUs and platforms

/// The state a vCPU starts in.
public enum BootMode: String, CaseIterable, Hashable, Sendable {
    /// x86 real mode: CS base 0, RIP = entry.
    case real
    /// x86 32-bit protected mode, flat segments, paging off.
    case protected
    /// x86 64-bit long mode with identity-mapped page tables built by the launcher.
    case long
    /// arm64 EL1h with the MMU off, PC = entry.
    case el1
    /// x86 64-bit entry of the Linux boot protocol: long mode as `long`, with RSI = the zero page (0x8000),
    /// RSP = 0x10000 and every other general register 0.
    case linux

    /// The architecture the mode belongs to.
    public var arch: PlanArch { self == .el1 ? .arm64 : .x86_64 }

    /// The x86 boot-area mode the launcher sets up for it (`linux` is long mode); nil for arm64.
    public var x86BootArea: X86BootArea.Mode? {
        switch self {
        case .real: .real
        case .protected: .protected
        case .long, .linux: .long
        case .el1: nil
        }
    }
}

/// Where a vCPU's `KVM_SET_CPUID2` entries come from.
public enum CPUIDSource: String, CaseIterable, Hashable, Sendable {
    /// `KVM_GET_SUPPORTED_CPUID` on `/dev/kvm`.
    case supported = "KVM_GET_SUPPORTED_CPUID"
    /// `KVM_GET_SUPPORTED_CPUID` with CPUID.1:ECX.HYPERVISOR (bit 31) set, which KVM leaves to the VMM: with it
    /// a Linux guest looks for KVM's leaves (0x40000000 "KVMKVMKVM", 0x40000001 features) and uses kvmclock,
    /// whose TSC frequency spares it the PIT calibration that fails under nested virtualization. Also the
    /// vCPU's APIC id (its index) in leaf 1 EBX[31:24] and the x2APIC id of leaves 0xb and 0x1f.
    case supportedHypervisor = "KVM_GET_SUPPORTED_CPUID+HYPERVISOR"
    /// `KVM_TDX_GET_CPUID` on the vCPU (TDX: the CPUID the TDX module enforces).
    case tdx = "KVM_TDX_GET_CPUID"
}

// `SNPPageType` (`KVM_SEV_SNP_PAGE_TYPE_*` of `KVM_SEV_SNP_LAUNCH_UPDATE`) is generated from
// Scripts/uapi/kvm-uapi.json into UAPI+Generated.swift.

// MARK: - Launch parameters (manifest keys `sev-snp` and `tdx`, DESIGN §10)

/// The arguments of `KVM_SEV_SNP_LAUNCH_FINISH` (struct kvm_sev_snp_launch_finish, KVM_UAPI.md §1.5): the
/// 32 bytes of host data the attestation report carries, and an optional ID block (96 bytes) with its ID
/// authentication structure (4096 bytes), given together.
public struct SNPLaunchFinish: Hashable, Sendable {
    public static let hostDataSize = 32
    public static let idBlockSize = 96
    public static let idAuthSize = 4096

    public var hostData: [UInt8]
    public var idBlock: [UInt8]?
    public var idAuth: [UInt8]?

    public init(hostData: [UInt8] = [UInt8](repeating: 0, count: 32), idBlock: [UInt8]? = nil, idAuth: [UInt8]? = nil) {
        self.hostData = hostData
        self.idBlock = idBlock
        self.idAuth = idAuth
    }

    /// Whether every field has its default (zero host data, no ID block).
    public var isDefault: Bool { self == SNPLaunchFinish() }
}

/// The measurement registers of `KVM_TDX_INIT_VM` (struct kvm_tdx_init_vm `mrconfigid`, `mrowner`,
/// `mrownerconfig`: 48 bytes each, zero when the manifest gives none).
public struct TDXMeasurementRegisters: Hashable, Sendable {
    public static let size = 48

    public var mrconfigid: [UInt8]
    public var mrowner: [UInt8]
    public var mrownerconfig: [UInt8]

    public init(
        mrconfigid: [UInt8] = [UInt8](repeating: 0, count: 48), mrowner: [UInt8] = [UInt8](repeating: 0, count: 48),
        mrownerconfig: [UInt8] = [UInt8](repeating: 0, count: 48)
    ) {
        self.mrconfigid = mrconfigid
        self.mrowner = mrowner
        self.mrownerconfig = mrownerconfig
    }

    public var isDefault: Bool { self == TDXMeasurementRegisters() }

    /// The registers by their uapi names, in struct order.
    public var named: [(name: String, bytes: [UInt8])] {
        [("mrconfigid", mrconfigid), ("mrowner", mrowner), ("mrownerconfig", mrownerconfig)]
    }
}

/// Lower-case hex of bytes, and back (nil for odd lengths or non-hex characters).
public enum HexBytes {
    public static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        let u = Array(text.utf8)
        guard u.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let hi = nibble(u[i]), let lo = nibble(u[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
