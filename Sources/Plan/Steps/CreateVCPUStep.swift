import Diagnostics

/// `KVM_CREATE_VCPU(index)` on `%vm`; defines `%vcpu.index`.
public struct CreateVCPUStep: StepKind {
    public var on: FdRef
    public var index: UInt32

    public init(on: FdRef = .vm, index: UInt32) {
        self.on = on
        self.index = index
    }

    // MARK: What it is

    static let op = "KVM_CREATE_VCPU"
    static let allowedKinds: Set<FdKind> = [.vm]

    var actsOn: FdRef? { on }

    var defines: FdRef? { .vcpu(index) }

    func ioctls(arch: PlanArch) -> [Ioctl] { [.createVCPU] }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] { ["index": .number(UInt64(index))] }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        let index = try d.args.uint32("index")
        let name = try d.definedName(.vcpu)
        guard name == String(index) else { throw d.context.error("defines", "must be %vcpu.\(index), not %vcpu.\(name)") }
        return Self(on: try d.on(), index: index)
    }

    // MARK: Text

    var textArguments: [String] { ["id=\(index)"] }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        let fd = c.v(.vcpu(index))
        return ["\(fd) = kp_ioctl_value(\(c.v(on)), KP_KVM_CREATE_VCPU, \(index));", c.check(fd)]
    }
}

extension Operation {
    /// `KVM_CREATE_VCPU(index)` on `%vm`; defines `%vcpu.index`.
    public static func createVCPU(
        on: FdRef = .vm, index: UInt32
    ) -> Operation {
        .createVCPU(CreateVCPUStep(on: on, index: index))
    }
}
