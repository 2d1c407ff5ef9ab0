// MARK: - Kinds

/// What a plan-level resource is. Every file descriptor and mapping a plan uses is typed by its kind,
/// so a step that runs a vCPU can only name a vCPU fd (the checker rejects `KVM_RUN %vm`).
public enum FdKind: String, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    /// `%kvm`: the `/dev/kvm` system fd.
    case system = "kvm"
    /// `%vm`: the VM fd returned by `KVM_CREATE_VM`.
    case vm
    /// `%gmem.NAME`: a guest_memfd returned by `KVM_CREATE_GUEST_MEMFD`.
    case guestMemfd = "gmem"
    /// `%memfd.NAME`: a memfd returned by `memfd_create(2)`.
    case memfd
    /// `%vcpu.N`: the vCPU fd returned by `KVM_CREATE_VCPU`.
    case vcpu
    /// `%sev`: `/dev/sev`, passed to SEV commands in `kvm_sev_cmd.sev_fd`.
    case sev
    /// `%map.NAME`: a userspace mapping (an address, not an fd) returned by `mmap(2)`.
    case mapping = "map"
    /// `%run.N`: the mapping of vCPU N's `struct kvm_run` (an address, not an fd).
    case runMapping = "run"

    /// Whether references of this kind carry a name (`%gmem.ram`) or stand alone (`%vm`).
    public var isNamed: Bool {
        switch self {
        case .system, .vm, .sev: false
        case .guestMemfd, .memfd, .vcpu, .mapping, .runMapping: true
        }
    }

    /// Whether the resource is a userspace address rather than a file descriptor.
    public var isMapping: Bool { self == .mapping || self == .runMapping }

    /// Whether names of this kind are vCPU indices (decimal) rather than manifest names.
    var hasIndexName: Bool { self == .vcpu || self == .runMapping }

    public var description: String {
        switch self {
        case .system: "the /dev/kvm fd (%kvm)"
        case .vm: "a VM fd (%vm)"
        case .guestMemfd: "a guest_memfd (%gmem.NAME)"
        case .memfd: "a memfd (%memfd.NAME)"
        case .vcpu: "a vCPU fd (%vcpu.N)"
        case .sev: "the /dev/sev fd (%sev)"
        case .mapping: "a userspace mapping (%map.NAME)"
        case .runMapping: "a kvm_run mapping (%run.N)"
        }
    }
}

// MARK: - References

/// A typed reference to a file descriptor or mapping of a plan: `%kvm`, `%vm`, `%gmem.ram`, `%vcpu.0`, `%map.ram`.
///
/// The step that defines a reference (`Operation.defines`) must come before every step that uses it.
public struct FdRef: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let kind: FdKind
    /// The manifest name (`ram`) or vCPU index (`0`); empty for `%kvm`, `%vm` and `%sev`.
    public let name: String

    public init(kind: FdKind, name: String = "") {
        self.kind = kind
        self.name = name
    }

    public static let kvm = FdRef(kind: .system)
    public static let vm = FdRef(kind: .vm)
    public static let sev = FdRef(kind: .sev)
    public static func guestMemfd(_ name: String) -> FdRef { FdRef(kind: .guestMemfd, name: name) }
    public static func memfd(_ name: String) -> FdRef { FdRef(kind: .memfd, name: name) }
    public static func vcpu(_ index: UInt32) -> FdRef { FdRef(kind: .vcpu, name: String(index)) }
    public static func mapping(_ name: String) -> FdRef { FdRef(kind: .mapping, name: name) }
    public static func run(_ vcpuIndex: UInt32) -> FdRef { FdRef(kind: .runMapping, name: String(vcpuIndex)) }

    /// `%kvm`, `%gmem.ram`, `%vcpu.0`.
    public var description: String { "%" + kind.rawValue + (name.isEmpty ? "" : "." + name) }

    /// The vCPU index of a `%vcpu.N` or `%run.N` reference.
    public var index: UInt32? { kind.hasIndexName ? UInt32(name) : nil }

    /// Whether the name is well formed for the kind: none for `%vm`, a decimal index for `%vcpu.N`,
    /// a manifest name (`[a-z0-9][a-z0-9-]*`) otherwise.
    public var isWellFormed: Bool {
        if !kind.isNamed { return name.isEmpty }
        if kind.hasIndexName { return PlanFormatting.isCanonicalIndex(name) }
        return PlanFormatting.isManifestName(name)
    }

    /// Parses the spelling of `description`; nil unless the result is well formed.
    public init?(parsing text: String) {
        guard text.hasPrefix("%") else { return nil }
        let body = text.dropFirst()
        let kindText: Substring
        let name: Substring
        if let dot = body.firstIndex(of: ".") {
            kindText = body[..<dot]
            name = body[body.index(after: dot)...]
        } else {
            kindText = body
            name = ""
        }
        guard let kind = FdKind(rawValue: String(kindText)) else { return nil }
        let ref = FdRef(kind: kind, name: String(name))
        guard ref.isWellFormed else { return nil }
        self = ref
    }

    public static func < (lhs: FdRef, rhs: FdRef) -> Bool { lhs.description < rhs.description }
}
