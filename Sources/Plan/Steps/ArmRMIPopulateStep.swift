import Diagnostics

/// `KVM_ARM_RMI_POPULATE` on `%vm` (posted Arm CCA series v14): copy `source` into protected memory.
public struct ArmRMIPopulateStep: StepKind {
    public var on: FdRef
    public var base: UInt64
    public var size: UInt64
    public var source: Address
    public var measure: Bool

    public init(on: FdRef = .vm, base: UInt64, size: UInt64, source: Address, measure: Bool) {
        self.on = on
        self.base = base
        self.size = size
        self.source = source
        self.measure = measure
    }

    // MARK: What it is

    static let op = "KVM_ARM_RMI_POPULATE"
    static let allowedKinds: Set<FdKind> = [.vm]
    static let architectures: Set<PlanArch> = [.arm64]
    static let hardwareNote: String? = "needs an Arm CCA host (RME + RMM) and a kernel with the posted CCA series"

    var actsOn: FdRef? { on }

    var fdUses: [FdUse] {
        var uses = actsOnUse
        uses.append(FdUse(field: "source.map", ref: source.map, allowed: [.mapping]))
        return uses
    }

    var uapiStatus: UAPIStatus { .posted }

    func ioctls(arch: PlanArch) -> [Ioctl] { [.armRMIPopulate] }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] {
        ["base": .number(base), "size": .number(size), "source": source.json, "measure": .bool(measure)]
    }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        Self(
            on: try d.on(), base: try d.args.uint64("base"), size: try d.args.uint64("size"),
            source: try d.args.address("source"), measure: try d.args.bool("measure"))
    }

    // MARK: Text

    var textArguments: [String] {
        let hex = PlanFormatting.hex
        let size = PlanFormatting.size
        let bytes = self.size
        return ["base=\(hex(base))", "size=\(size(bytes))", "source=\(source)", "flags=\(measure ? "MEASURE" : "0")"]
    }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        [
            "{", "    struct kp_arm_rmi_populate p;", "    memset(&p, 0, sizeof p);", "    p.base = \(c.hex(base));",
            "    p.size = \(c.hex(size));", "    p.source_uaddr = \(c.address(source));",
            "    p.flags = \(measure ? "1; /* KVM_ARM_RMI_POPULATE_FLAGS_MEASURE */" : "0;")",
            "    while (p.size > 0) { /* partial progress updates base, size, source_uaddr */",
            "        uint64_t before = p.size;", "        if (kp_ioctl(\(c.v(on)), KP_KVM_ARM_RMI_POPULATE, &p) < 0) {",
            "            if (errno == EAGAIN) continue;", "            kp_fail(\(c.id), \(c.op));", "        }",
            "        if (p.size == before) kp_failf(\(c.id), \(c.op), \"no progress\");", "    }", "}",
        ]
    }
}

extension Operation {
    /// `KVM_ARM_RMI_POPULATE` on `%vm` (posted Arm CCA series v14): copy `source` into protected memory.
    public static func armRMIPopulate(
        on: FdRef = .vm, base: UInt64, size: UInt64, source: Address, measure: Bool
    ) -> Operation {
        .armRMIPopulate(ArmRMIPopulateStep(on: on, base: base, size: size, source: source, measure: measure))
    }
}
