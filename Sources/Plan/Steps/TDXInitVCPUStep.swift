import Diagnostics

/// `KVM_TDX_INIT_VCPU` (2) on a vCPU.
public struct TDXInitVCPUStep: StepKind, TDXCommandStep {
    public var vcpu: FdRef

    public init(vcpu: FdRef) {
        self.vcpu = vcpu
    }

    // MARK: What it is

    static let command: String? = "KVM_TDX_INIT_VCPU"
    static let allowedKinds: Set<FdKind> = [.vcpu]

    var actsOn: FdRef? { vcpu }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] { [:] }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self { Self(vcpu: try d.on()) }

    // MARK: Text

    var textArguments: [String] { [] }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        c.tdxCommand(on: c.v(vcpu), commandID: EncryptOpCommand.tdxInitVCPU, flags: "0", data: "0")
    }
}

extension Operation {
    /// `KVM_TDX_INIT_VCPU` (2) on a vCPU.
    public static func tdxInitVCPU(vcpu: FdRef) -> Operation { .tdxInitVCPU(TDXInitVCPUStep(vcpu: vcpu)) }
}
