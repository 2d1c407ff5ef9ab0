import Diagnostics

/// What a host must provide to run a plan. Every requirement carries the manifest location that needs it,
/// so a host that lacks it can be told which manifest line to change.
public struct Requirements: Hashable, Sendable {
    /// `KVM_GET_API_VERSION` (always 12).
    public var apiVersion: UInt64
    public var vmType: VMTypeRequirement
    /// Capabilities by name (`KVM_CAP_GUEST_MEMFD`).
    public var capabilities: [String: CapabilityRequirement]
    /// The guest_memfd flags the plan creates guest_memfds with (also expressed as a
    /// `KVM_CAP_GUEST_MEMFD_FLAGS` capability requirement); nil when it creates none.
    public var guestMemfdFlags: GuestMemfdFlagsRequirement?

    public init(
        apiVersion: UInt64 = 12, vmType: VMTypeRequirement, capabilities: [String: CapabilityRequirement] = [:],
        guestMemfdFlags: GuestMemfdFlagsRequirement? = nil
    ) {
        self.apiVersion = apiVersion
        self.vmType = vmType
        self.capabilities = capabilities
        self.guestMemfdFlags = guestMemfdFlags
    }

    /// Adds a capability requirement, merging with an existing one of the same kind (the larger minimum,
    /// the union of bits; the first source location stays). Returns false, leaving the existing requirement,
    /// when one is `atLeast` and the other `bits`.
    @discardableResult
    public mutating func require(
        _ cap: Capability, _ expect: CapabilityExpectation, scope: CapabilityScope = .system,
        at source: SourceLocation? = nil
    ) -> Bool {
        guard var existing = capabilities[cap.name] else {
            capabilities[cap.name] = CapabilityRequirement(cap, expect, scope: scope, source: source)
            return true
        }
        switch (existing.expect, expect) {
        case (.atLeast(let a), .atLeast(let b)): existing.expect = .atLeast(max(a, b))
        case (.bits(let a), .bits(let b)): existing.expect = .bits(a | b)
        default: return false
        }
        if scope == .vm { existing.scope = .vm }
        if existing.source == nil { existing.source = source }
        capabilities[cap.name] = existing
        return true
    }

    /// The capability requirements sorted by name.
    public var sortedCapabilities: [CapabilityRequirement] {
        capabilities.keys.sorted().compactMap { capabilities[$0] }
    }
}

/// The VM type a plan creates.
public struct VMTypeRequirement: Hashable, Sendable {
    public var type: VMType
    public var source: SourceLocation?

    public init(_ type: VMType, source: SourceLocation? = nil) {
        self.type = type
        self.source = source
    }
}

/// A capability and the value it must have.
public struct CapabilityRequirement: Hashable, Sendable {
    public var cap: Capability
    public var expect: CapabilityExpectation
    /// Whether to read it on `/dev/kvm` or on a VM fd of the plan's type.
    public var scope: CapabilityScope
    public var source: SourceLocation?

    public init(
        _ cap: Capability, _ expect: CapabilityExpectation, scope: CapabilityScope = .system,
        source: SourceLocation? = nil
    ) {
        self.cap = cap
        self.expect = expect
        self.scope = scope
        self.source = source
    }
}

/// The guest_memfd flags a plan needs.
public struct GuestMemfdFlagsRequirement: Hashable, Sendable {
    public var flags: GuestMemfdFlags
    public var source: SourceLocation?

    public init(_ flags: GuestMemfdFlags, source: SourceLocation? = nil) {
        self.flags = flags
        self.source = source
    }
}
