import Diagnostics

/// What the launcher does on a kind of vCPU exit.
public struct Handler: Hashable, Sendable {
    public var kind: Kind
    /// The manifest location that asked for the handler.
    public var source: SourceLocation?

    public init(_ kind: Kind, source: SourceLocation? = nil) {
        self.kind = kind
        self.source = source
    }

    public enum Kind: Hashable, Sendable {
        /// `KVM_EXIT_IO` on the COM1 8250 UART (0x3f8): console to stdout.
        case serial(port: UInt16)
        /// `KVM_EXIT_IO` OUT to the exit port (0xf4): the byte written is the exit status.
        case exitPort(port: UInt16)
        /// `KVM_EXIT_MMIO` in an MMIO region (no memslot, or a READONLY one).
        case mmio(region: String, range: GPARange, readonly: Bool)
        /// `KVM_EXIT_HYPERCALL(KVM_HC_MAP_GPA_RANGE)`: convert pages within `convertible`.
        case hypercallMapGPARange(convertible: [ConvertibleRange], onShare: OnShare, onUnshare: OnUnshare)
        /// `KVM_EXIT_MEMORY_FAULT`: convert the faulting pages within `convertible`.
        case memoryFault(convertible: [ConvertibleRange], onShare: OnShare, onUnshare: OnUnshare)
        /// `KVM_EXIT_HLT`: the guest is done, exit status 0.
        case halt
        /// `KVM_EXIT_IO` on the i8042 keyboard controller's command/status port (0x64) and data port (0x60):
        /// no keyboard behind it (status: input buffer empty, output buffer never drains, so Linux finds "no
        /// controller" at once); the reset command 0xfe (Linux `reboot=k`) ends the guest, exit status 0.
        case i8042(port: UInt16)
    }

    public static func serial(port: UInt16 = 0x3f8, source: SourceLocation? = nil) -> Handler {
        Handler(.serial(port: port), source: source)
    }

    public static func exitPort(port: UInt16 = 0xf4, source: SourceLocation? = nil) -> Handler {
        Handler(.exitPort(port: port), source: source)
    }

    public static func halt(source: SourceLocation? = nil) -> Handler { Handler(.halt, source: source) }

    public static func i8042(port: UInt16 = 0x64, source: SourceLocation? = nil) -> Handler {
        Handler(.i8042(port: port), source: source)
    }
}

/// A guest-physical range `[gpa, gpa + size)`.
public struct GPARange: Hashable, Sendable, CustomStringConvertible {
    public var gpa: UInt64
    public var size: UInt64

    public init(gpa: UInt64, size: UInt64) {
        self.gpa = gpa
        self.size = size
    }

    /// Whether `other` lies inside this range.
    public func contains(_ other: GPARange) -> Bool {
        let (end, overflow) = gpa.addingReportingOverflow(size)
        let (otherEnd, otherOverflow) = other.gpa.addingReportingOverflow(other.size)
        guard !overflow, !otherOverflow else { return false }
        return other.gpa >= gpa && otherEnd <= end
    }

    public var description: String { "[\(PlanFormatting.hex(gpa)), +\(PlanFormatting.size(size)))" }
}

/// A range of a named region whose pages the guest may convert between private and shared.
public struct ConvertibleRange: Hashable, Sendable {
    public var region: String
    public var range: GPARange

    public init(region: String, gpa: UInt64, size: UInt64) {
        self.region = region
        self.range = GPARange(gpa: gpa, size: size)
    }
}

/// What happens to the private backing of a page that becomes shared.
public enum OnShare: String, CaseIterable, Hashable, Sendable {
    /// `fallocate(PUNCH_HOLE)` on the guest_memfd: the private contents are freed.
    case punchHole = "punch-hole"
    case keep
}

/// What happens to the shared backing of a page that becomes private.
public enum OnUnshare: String, CaseIterable, Hashable, Sendable {
    /// `madvise(MADV_REMOVE)` / punch hole on the shared backing.
    case discard
    case keep
}
