import Diagnostics

/// `KVM_RUN` on a vCPU.
public struct RunStep: StepKind {
    public var vcpu: FdRef

    public init(vcpu: FdRef) {
        self.vcpu = vcpu
    }

    // MARK: What it is

    static let op = "KVM_RUN"
    static let allowedKinds: Set<FdKind> = [.vcpu]

    var actsOn: FdRef? { vcpu }

    func ioctls(arch: PlanArch) -> [Ioctl] { [.run] }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] { [:] }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self { Self(vcpu: try d.on()) }

    // MARK: Text

    var textArguments: [String] { [] }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        ["/* not performed: the reproducer stops after set-up, before KVM_RUN on \(vcpu). */"]
    }
}

extension Operation {
    /// `KVM_RUN` on a vCPU.
    public static func run(vcpu: FdRef) -> Operation { .run(RunStep(vcpu: vcpu)) }
}
