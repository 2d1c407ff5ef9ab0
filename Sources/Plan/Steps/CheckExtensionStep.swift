import Diagnostics

/// `KVM_CHECK_EXTENSION` on `%kvm` or `%vm`; fails unless the result meets `expect`.
public struct CheckExtensionStep: StepKind {
    public var on: FdRef
    public var cap: Capability
    public var expect: CapabilityExpectation

    public init(on: FdRef = .kvm, cap: Capability, expect: CapabilityExpectation) {
        self.on = on
        self.cap = cap
        self.expect = expect
    }

    // MARK: What it is

    static let op = "KVM_CHECK_EXTENSION"
    static let allowedKinds: Set<FdKind> = [.system, .vm]

    var actsOn: FdRef? { on }

    var uapiStatus: UAPIStatus { cap.uapiStatus }

    func ioctls(arch: PlanArch) -> [Ioctl] { [.checkExtension] }

    func argumentProblems(arch: PlanArch) -> [(field: String, message: String)] {
        var problems: [(field: String, message: String)] = []
        if Capability.named(cap.name) != cap { problems.append(("cap", "'\(cap.name)' is not a capability of the catalogue")) }
        return problems
    }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] { ["cap": .string(cap.name), "expect": .object(expect.jsonMembers)] }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        let cap = try d.capability("cap")
        var expect = try d.args.object("expect")
        let expectation: CapabilityExpectation
        if expect.members.keys.contains("bits") {
            expectation = .bits(try expect.uint64("bits"))
        } else {
            expectation = .atLeast(try expect.uint64("at-least"))
        }
        try expect.finish()
        return Self(on: try d.on(), cap: cap, expect: expectation)
    }

    // MARK: Text

    var textArguments: [String] { [cap.name, PlanTextRenderer.expectationText(cap, expect)] }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        let condition: String
        let expected: String
        switch expect {
        case .atLeast(let minimum):
            condition = "(uint64_t)r >= \(c.hex(minimum))"
            expected = ">= \(minimum)"
        case .bits(let mask):
            condition = "((uint64_t)r & \(c.hex(mask))) == \(c.hex(mask))"
            expected = "bits 0x\(String(mask, radix: 16))"
        }
        return [
            "{", "    int r = kp_ioctl_value(\(c.v(on)), KP_KVM_CHECK_EXTENSION, \(cap.number)); /* \(cap.name) */",
            "    if (r < 0) kp_fail(\(c.id), \(c.op));",
            "    if (!(\(condition))) kp_failf(\(c.id), \(c.op), \"\(cap.name) = %d, expected \(expected)\", r);", "}",
        ]
    }
}

extension Operation {
    /// `KVM_CHECK_EXTENSION` on `%kvm` or `%vm`; fails unless the result meets `expect`.
    public static func checkExtension(
        on: FdRef = .kvm, cap: Capability, expect: CapabilityExpectation
    ) -> Operation {
        .checkExtension(CheckExtensionStep(on: on, cap: cap, expect: expect))
    }
}
