import Diagnostics

/// `KVM_SET_MEMORY_ATTRIBUTES` on `%vm`.
public struct SetMemoryAttributesStep: StepKind {
    public var on: FdRef
    public var gpa: UInt64
    public var size: UInt64
    public var attributes: MemoryAttributes

    public init(on: FdRef = .vm, gpa: UInt64, size: UInt64, attributes: MemoryAttributes) {
        self.on = on
        self.gpa = gpa
        self.size = size
        self.attributes = attributes
    }

    // MARK: What it is

    static let op = "KVM_SET_MEMORY_ATTRIBUTES"
    static let allowedKinds: Set<FdKind> = [.vm]

    var actsOn: FdRef? { on }

    func ioctls(arch: PlanArch) -> [Ioctl] { [.setMemoryAttributes] }

    func argumentProblems(arch: PlanArch) -> [(field: String, message: String)] {
        var problems: [(field: String, message: String)] = []
        if !attributes.isFullyNamed {
            problems.append(("attributes", "unknown attribute bits \(PlanFormatting.hex(attributes.rawValue))"))
        }
        return problems
    }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] { ["gpa": .number(gpa), "size": .number(size), "attributes": attributes.json] }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        Self(
            on: try d.on(), gpa: try d.args.uint64("gpa"), size: try d.args.uint64("size"),
            attributes: try d.args.flags("attributes", MemoryAttributes.self))
    }

    // MARK: Text

    var textArguments: [String] {
        let hex = PlanFormatting.hex
        let size = PlanFormatting.size
        let bytes = self.size
        return ["gpa=\(hex(gpa))", "size=\(size(bytes))", "attributes=\(attributes.text)"]
    }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        [
            "{", "    struct kp_memory_attributes a;", "    memset(&a, 0, sizeof a);", "    a.address = \(c.hex(gpa));",
            "    a.size = \(c.hex(size));", "    a.attributes = \(c.hex(attributes.rawValue)); /* \(attributes.text) */",
            "    " + c.check("kp_ioctl(\(c.v(on)), KP_KVM_SET_MEMORY_ATTRIBUTES, &a)"), "}",
        ]
    }
}

extension Operation {
    /// `KVM_SET_MEMORY_ATTRIBUTES` on `%vm`.
    public static func setMemoryAttributes(
        on: FdRef = .vm, gpa: UInt64, size: UInt64, attributes: MemoryAttributes
    ) -> Operation {
        .setMemoryAttributes(SetMemoryAttributesStep(on: on, gpa: gpa, size: size, attributes: attributes))
    }
}
