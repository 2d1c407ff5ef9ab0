import Diagnostics

/// `KVM_SET_USER_MEMORY_REGION` (v1) on `%vm`. `region` is the manifest region the slot belongs to.
public struct SetUserMemoryRegionStep: StepKind {
    public var on: FdRef
    public var region: String
    public var slot: UInt32
    public var flags: MemoryRegionFlags
    public var gpa: UInt64
    public var size: UInt64
    public var userspace: Address

    public init(
        on: FdRef = .vm, region: String, slot: UInt32, flags: MemoryRegionFlags, gpa: UInt64, size: UInt64, userspace: Address
    ) {
        self.on = on
        self.region = region
        self.slot = slot
        self.flags = flags
        self.gpa = gpa
        self.size = size
        self.userspace = userspace
    }

    // MARK: What it is

    static let op = "KVM_SET_USER_MEMORY_REGION"
    static let allowedKinds: Set<FdKind> = [.vm]

    var actsOn: FdRef? { on }

    var fdUses: [FdUse] {
        var uses = actsOnUse
        uses.append(FdUse(field: "userspace.map", ref: userspace.map, allowed: [.mapping]))
        return uses
    }

    func ioctls(arch: PlanArch) -> [Ioctl] { [.setUserMemoryRegion] }

    func argumentProblems(arch: PlanArch) -> [(field: String, message: String)] {
        var problems: [(field: String, message: String)] = []
        if !PlanFormatting.isManifestName(region) { problems.append(("region", "region name '\(region)' is not a manifest name")) }
        if !flags.isSubset(of: [.logDirtyPages, .readonly]) {
            problems.append(("flags", "KVM_SET_USER_MEMORY_REGION accepts only LOG_DIRTY_PAGES and READONLY"))
        }
        return problems
    }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] {
        [
            "region": .string(region), "slot": .number(UInt64(slot)), "flags": flags.json, "gpa": .number(gpa),
            "size": .number(size), "userspace": userspace.json,
        ]
    }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        Self(
            on: try d.on(), region: try d.args.string("region"), slot: try d.args.uint32("slot"),
            flags: try d.args.flags("flags", MemoryRegionFlags.self), gpa: try d.args.uint64("gpa"),
            size: try d.args.uint64("size"), userspace: try d.args.address("userspace"))
    }

    // MARK: Text

    var textArguments: [String] {
        let hex = PlanFormatting.hex
        let size = PlanFormatting.size
        let bytes = self.size
        return ["slot=\(slot)", "gpa=\(hex(gpa))", "size=\(size(bytes))", "flags=\(flags.text)", "userspace=\(userspace)"]
    }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        [
            "{", "    struct kp_userspace_memory_region r;", "    memset(&r, 0, sizeof r);", "    r.slot = \(slot);",
            "    r.flags = \(flags.rawValue); /* \(flags.text) */", "    r.guest_phys_addr = \(c.hex(gpa));",
            "    r.memory_size = \(c.hex(size));", "    r.userspace_addr = \(c.address(userspace));",
            "    " + c.check("kp_ioctl(\(c.v(on)), KP_KVM_SET_USER_MEMORY_REGION, &r)"), "}",
        ]
    }
}

extension Operation {
    /// `KVM_SET_USER_MEMORY_REGION` (v1) on `%vm`. `region` is the manifest region the slot belongs to.
    public static func setUserMemoryRegion(
        on: FdRef = .vm, region: String, slot: UInt32, flags: MemoryRegionFlags, gpa: UInt64, size: UInt64, userspace: Address
    ) -> Operation {
        .setUserMemoryRegion(SetUserMemoryRegionStep(on: on, region: region, slot: slot, flags: flags, gpa: gpa, size: size, userspace: userspace))
    }
}
