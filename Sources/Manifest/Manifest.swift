import Diagnostics
import GuestLayout

/// A value from the manifest with the place it came from. Values the manifest omits carry the
/// location of the mapping that would have held them and `isExplicit == false`.
public struct Located<Value: Sendable>: Sendable {
    public var value: Value
    public var location: SourceLocation
    /// Location of the key, when the value was written under a key.
    public var keyLocation: SourceLocation
    public var path: DataPath
    public var isExplicit: Bool

    public init(
        _ value: Value, at location: SourceLocation, key: SourceLocation? = nil, path: DataPath,
        explicit: Bool = true
    ) {
        self.value = value
        self.location = location
        self.keyLocation = key ?? location
        self.path = path
        self.isExplicit = explicit
    }

    /// The value's place, without its type, for diagnostics that may point at one of several keys.
    public var site: Site { Site(location: location, path: path) }

    public func map<T>(_ transform: (Value) -> T) -> Located<T> {
        Located<T>(transform(value), at: location, key: keyLocation, path: path, explicit: isExplicit)
    }
}

/// A place in the manifest: location and data path.
public struct Site: Sendable, Hashable {
    public var location: SourceLocation
    public var path: DataPath
    public init(location: SourceLocation, path: DataPath) {
        self.location = location
        self.path = path
    }
}

extension Located: Equatable where Value: Equatable {}
extension Located: Hashable where Value: Hashable {}

// MARK: - Vocabulary (the public manifest contract of DESIGN §2)

public enum Architecture: String, Sendable, Hashable, CaseIterable {
    case x86_64
    case arm64
}

public enum Platform: String, Sendable, Hashable, CaseIterable {
    case `default` = "default"
    case swProtected = "sw-protected"
    case sevSnp = "sev-snp"
    case tdx
    case pkvm
    case cca
}

public enum Access: String, Sendable, Hashable, CaseIterable {
    case `private`
    case shared
    case convertible
}

public enum InitialState: String, Sendable, Hashable, CaseIterable {
    case `private`
    case shared
}

public enum Backing: String, Sendable, Hashable, CaseIterable {
    case guestMemfd = "guest-memfd"
    case anonymous
    case memfd
    case hugetlb2M = "hugetlb-2m"
    case hugetlb1G = "hugetlb-1g"
    case none

    /// The huge page size this backing needs its ranges aligned to, if any.
    public var hugePageSize: UInt64? {
        switch self {
        case .hugetlb2M: 2 << 20
        case .hugetlb1G: 1 << 30
        default: nil
        }
    }
}

public enum AccessType: String, Sendable, Hashable, CaseIterable {
    case attribute
    case cBit = "c-bit"
    case gpaBit = "gpa-bit"
    case inPlace = "in-place"
    case ipaBit = "ipa-bit"

    /// Whether the access type names a bit position (`shared-bit`).
    public var usesSharedBit: Bool { self == .cBit || self == .gpaBit || self == .ipaBit }
}

public enum ConversionExit: String, Sendable, Hashable, CaseIterable {
    case hypercall
    case fault
}

public enum OnShare: String, Sendable, Hashable, CaseIterable {
    case punchHole = "punch-hole"
    case keep
}

public enum OnUnshare: String, Sendable, Hashable, CaseIterable {
    case discard
    case keep
}

public enum PayloadFormat: String, Sendable, Hashable, CaseIterable {
    case flat
    case elf
    /// x86: a flat image that ends at 4 GiB and is entered at the reset vector 0xfffffff0 with the CPU's
    /// reset state (a TD's only start; KVM_UAPI.md §8). `load` defaults to 4 GiB − size; no `entry`, no `mode`.
    case firmware
    /// An x86 bzImage booted through the Linux/x86 boot protocol (2.06 or newer), entered at its 64-bit entry.
    case linux
}

/// `payload.mode`: the launcher's x86 boot modes, as the guest layout defines them.
public typealias BootMode = X86BootArea.Mode

// MARK: - The manifest

/// A parsed manifest, format 1 (DESIGN §2). Every value keeps its `file:line:col` and data path.
public struct Manifest: Sendable {
    /// A top-level key of the manifest, spelled as in YAML (`gpa-bits`), in the order the format lists them.
    public enum TopLevelKey: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        case kvmplan, name, arch, platform, vcpus
        case gpaBits = "gpa-bits"
        case memory, sharing, payload
        case sevSnp = "sev-snp"
        case tdx

        public var description: String { rawValue }
    }

    public var file: String
    /// SHA-256-free identity of the input: the raw bytes, kept so plans can digest them.
    public var bytes: [UInt8]
    public var root: SourceLocation
    public var formatVersion: Located<Int>
    public var name: Located<String>
    public var arch: Located<Architecture>
    public var platform: Located<Platform>
    public var vcpus: Located<Int>
    public var gpaBits: Located<Int>?
    public var memory: Memory
    public var sharing: Sharing?
    public var payload: Payload?
    /// Top-level keys whose values were missing or invalid and were replaced by a fallback, so the
    /// rules that depend on them stay quiet instead of piling follow-up errors on the first one.
    public var damaged: Set<TopLevelKey> = []
    /// `sev-snp:` launch parameters (DESIGN §10; platform sev-snp only).
    public var sevSnp: SEVSNPOptions? = nil
    /// `tdx:` launch parameters (DESIGN §10; platform tdx only).
    public var tdx: TDXOptions? = nil

    /// `sev-snp: {policy, host-data, id-block, id-auth}`: KVM_SEV_SNP_LAUNCH_START's guest policy and
    /// KVM_SEV_SNP_LAUNCH_FINISH's host data and ID block. Hex strings and file paths are checked by the rules.
    public struct SEVSNPOptions: Sendable {
        public var location: SourceLocation
        public var keyLocation: SourceLocation
        public var policy: Located<UInt64>?
        /// 64 hex digits (32 bytes).
        public var hostData: Located<String>?
        /// Paths relative to the manifest: the 96-byte ID block and its 4096-byte authentication structure.
        public var idBlock: Located<String>?
        public var idAuth: Located<String>?
    }

    /// `tdx: {attributes, xfam, mrconfigid, mrowner, mrownerconfig}`: KVM_TDX_INIT_VM's TD attributes, XFAM and
    /// measurement registers (96 hex digits, 48 bytes each).
    public struct TDXOptions: Sendable {
        public var location: SourceLocation
        public var keyLocation: SourceLocation
        public var attributes: Located<UInt64>?
        public var xfam: Located<UInt64>?
        public var mrconfigid: Located<String>?
        public var mrowner: Located<String>?
        public var mrownerconfig: Located<String>?

        /// The measurement registers the manifest gives, by key.
        public var measurementRegisters: [(key: String, value: Located<String>)] {
            [("mrconfigid", mrconfigid), ("mrowner", mrowner), ("mrownerconfig", mrownerconfig)].compactMap { key, value in
                value.map { (key, $0) }
            }
        }
    }

    public struct Memory: Sendable {
        public var location: SourceLocation
        public var regionsLocation: SourceLocation
        public var regions: [Region]
    }

    public struct GuestMemfdOptions: Sendable {
        public var location: SourceLocation
        public var mmap: Located<Bool>
        public var initShared: Located<Bool>
    }

    public struct Region: Sendable {
        public var index: Int
        public var location: SourceLocation
        public var path: DataPath
        public var name: Located<String>
        public var base: Located<UInt64>
        public var size: Located<UInt64>
        public var access: Located<Access>
        public var initial: Located<InitialState>
        public var backing: Located<Backing>
        public var guestMemfd: GuestMemfdOptions?
        public var readonly: Located<Bool>
        public var dirtyLog: Located<Bool>

        /// One past the last byte, or `nil` when `base + size` overflows 64 bits.
        public var end: UInt64? {
            let (sum, overflow) = base.value.addingReportingOverflow(size.value)
            return overflow ? nil : sum
        }

        /// The initial state of the region's pages: private regions start private, shared ones shared.
        public var initiallyPrivate: Bool {
            switch access.value {
            case .private: true
            case .shared: false
            case .convertible: initial.value == .private
            }
        }
    }

    public struct Sharing: Sendable {
        public var location: SourceLocation
        public var accessType: Located<AccessType>?
        public var sharedBit: Located<Int>?
        public var conversion: Located<[Located<ConversionExit>]>?
        public var convertible: Located<[Located<String>]>?
        public var onShare: Located<OnShare>
        public var onUnshare: Located<OnUnshare>
    }

    public enum LoadAddress: Sendable, Hashable {
        case region(name: String, offset: UInt64)
        case absolute(UInt64)
    }

    public struct Payload: Sendable {
        public var location: SourceLocation
        public var format: Located<PayloadFormat>
        public var path: Located<String>
        public var load: Located<LoadAddress>?
        public var entry: Located<UInt64>?
        public var mode: Located<BootMode>
        public var measured: Located<Bool>?
        /// `format: linux` only: the initial ramdisk, relative to the manifest file.
        public var initrd: Located<String>? = nil
        /// `format: linux` only: the kernel command line.
        public var cmdline: Located<String>? = nil
    }

    public func region(named name: String) -> Region? { memory.regions.first { $0.name.value == name } }
}
