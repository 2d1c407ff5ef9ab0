import Diagnostics

/// `KVM_TDX_INIT_VCPU` (2) on a vCPU.
public struct TDXInitVCPUStep: StepKind {
    public var vcpu: FdRef

    public init(vcpu: FdRef) {
        self.vcpu = vcpu
    }

    // MARK: What it is

    static let op = "KVM_MEMORY_ENCRYPT_OP"
    static let command: String? = "KVM_TDX_INIT_VCPU"
    static let allowedKinds: Set<FdKind> = [.vcpu]
    static let architectures: Set<PlanArch> = [.x86_64]
    static let hardwareNote: String? = "needs an Intel host with TDX enabled (TDX module loaded, kvm_intel.tdx=1)"

    var actsOn: FdRef? { vcpu }

    func ioctls(arch: PlanArch) -> [Ioctl] { [.memoryEncryptOp] }

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
