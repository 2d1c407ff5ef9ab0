import Diagnostics

/// `KVM_SET_USER_MEMORY_REGION2` on `%vm`; `flags` contains `GUEST_MEMFD` exactly when `guestMemfd` is set.
public struct SetUserMemoryRegion2Step: StepKind {
    public var on: FdRef
    public var region: String
    public var slot: UInt32
    public var flags: MemoryRegionFlags
    public var gpa: UInt64
    public var size: UInt64
    public var userspace: Address?
    public var guestMemfd: GuestMemfdBinding?

    public init(
        on: FdRef = .vm, region: String, slot: UInt32, flags: MemoryRegionFlags, gpa: UInt64, size: UInt64, userspace: Address?, guestMemfd: GuestMemfdBinding?
    ) {
        self.on = on
        self.region = region
        self.slot = slot
        self.flags = flags
        self.gpa = gpa
        self.size = size
        self.userspace = userspace
        self.guestMemfd = guestMemfd
    }

    // MARK: What it is

    static let op = "KVM_SET_USER_MEMORY_REGION2"
    static let allowedKinds: Set<FdKind> = [.vm]

    var actsOn: FdRef? { on }

    var fdUses: [FdUse] {
        var uses = actsOnUse
        if let userspace { uses.append(FdUse(field: "userspace.map", ref: userspace.map, allowed: [.mapping])) }
        if let guestMemfd {
            uses.append(FdUse(field: "guest-memfd.fd", ref: guestMemfd.fd, allowed: [.guestMemfd]))
        }
        return uses
    }

    func ioctls(arch: PlanArch) -> [Ioctl] { [.setUserMemoryRegion2] }

    func argumentProblems(arch: PlanArch) -> [(field: String, message: String)] {
        var problems: [(field: String, message: String)] = []
        if !PlanFormatting.isManifestName(region) { problems.append(("region", "region name '\(region)' is not a manifest name")) }
        if !flags.isFullyNamed { problems.append(("flags", "unknown memslot flag bits \(PlanFormatting.hex(flags.rawValue))")) }
        if flags.contains(.guestMemfd) != (guestMemfd != nil) {
            problems.append(("guest-memfd", "flags contain GUEST_MEMFD exactly when a guest_memfd is bound"))
        }
        if userspace == nil && guestMemfd == nil {
            problems.append(("userspace", "a memslot needs a userspace mapping, a guest_memfd or both"))
        }
        return problems
    }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] {
        [
            "region": .string(region), "slot": .number(UInt64(slot)), "flags": flags.json, "gpa": .number(gpa),
            "size": .number(size), "userspace": userspace?.json ?? .null,
            "guest-memfd": guestMemfd.map { .object(["fd": .string($0.fd.description), "offset": .number($0.offset)]) }
                ?? .null,
        ]
    }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        let region = try d.args.string("region")
        let slot = try d.args.uint32("slot")
        let flags = try d.args.flags("flags", MemoryRegionFlags.self)
        let gpa = try d.args.uint64("gpa")
        let size = try d.args.uint64("size")
        let userspace = try d.args.optionalAddress("userspace")
        var binding: GuestMemfdBinding?
        if var gmem = try d.args.optionalObject("guest-memfd") {
            binding = GuestMemfdBinding(try gmem.fd("fd", kinds: [.guestMemfd]), offset: try gmem.uint64("offset"))
            try gmem.finish()
        }
        return Self(
            on: try d.on(), region: region, slot: slot, flags: flags, gpa: gpa, size: size, userspace: userspace,
            guestMemfd: binding)
    }

    // MARK: Text

    var textArguments: [String] {
        let hex = PlanFormatting.hex
        let size = PlanFormatting.size
        let bytes = self.size
        var out = ["slot=\(slot)", "gpa=\(hex(gpa))", "size=\(size(bytes))", "flags=\(flags.text)"]
        if let userspace { out.append("userspace=\(userspace)") }
        if let guestMemfd { out.append("gmem=\(guestMemfd)") }
        return out
    }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        var lines = [
            "{", "    struct kp_userspace_memory_region2 r;", "    memset(&r, 0, sizeof r);", "    r.slot = \(slot);",
            "    r.flags = \(flags.rawValue); /* \(flags.text) */", "    r.guest_phys_addr = \(c.hex(gpa));",
            "    r.memory_size = \(c.hex(size));",
        ]
        if let userspace { lines.append("    r.userspace_addr = \(c.address(userspace));") }
        if let guestMemfd {
            lines.append("    r.guest_memfd = (uint32_t)\(c.v(guestMemfd.fd));")
            lines.append("    r.guest_memfd_offset = \(c.hex(guestMemfd.offset));")
        }
        lines += ["    " + c.check("kp_ioctl(\(c.v(on)), KP_KVM_SET_USER_MEMORY_REGION2, &r)"), "}"]
        return lines
    }
}

extension Operation {
    /// `KVM_SET_USER_MEMORY_REGION2` on `%vm`; `flags` contains `GUEST_MEMFD` exactly when `guestMemfd` is set.
    public static func setUserMemoryRegion2(
        on: FdRef = .vm, region: String, slot: UInt32, flags: MemoryRegionFlags, gpa: UInt64, size: UInt64, userspace: Address?, guestMemfd: GuestMemfdBinding?
    ) -> Operation {
        .setUserMemoryRegion2(SetUserMemoryRegion2Step(on: on, region: region, slot: slot, flags: flags, gpa: gpa, size: size, userspace: userspace, guestMemfd: guestMemfd))
    }
}
