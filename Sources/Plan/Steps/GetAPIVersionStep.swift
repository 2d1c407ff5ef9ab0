import Diagnostics

/// `KVM_GET_API_VERSION` on `%kvm`; fails unless the result equals `expect` (12).
public struct GetAPIVersionStep: StepKind {
    public var on: FdRef
    public var expect: UInt64

    public init(on: FdRef = .kvm, expect: UInt64 = 12) {
        self.on = on
        self.expect = expect
    }

    // MARK: What it is

    static let op = "KVM_GET_API_VERSION"
    static let allowedKinds: Set<FdKind> = [.system]

    var actsOn: FdRef? { on }

    func ioctls(arch: PlanArch) -> [Ioctl] { [.getAPIVersion] }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] { ["expect": .number(expect)] }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        Self(on: try d.on(), expect: try d.args.uint64("expect"))
    }

    // MARK: Text

    var textArguments: [String] { ["expect \(expect)"] }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        [
            "{", "    int r = kp_ioctl_value(\(c.v(on)), KP_KVM_GET_API_VERSION, 0);",
            "    if (r < 0) kp_fail(\(c.id), \(c.op));",
            "    if ((uint64_t)r != \(c.hex(expect))) kp_failf(\(c.id), \(c.op), \"returned %d, expected \(expect)\", r);",
            "}",
        ]
    }
}

extension Operation {
    /// `KVM_GET_API_VERSION` on `%kvm`; fails unless the result equals `expect` (12).
    public static func getAPIVersion(
        on: FdRef = .kvm, expect: UInt64 = 12
    ) -> Operation {
        .getAPIVersion(GetAPIVersionStep(on: on, expect: expect))
    }
}
