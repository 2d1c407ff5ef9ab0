import Diagnostics

/// `KVM_TDX_FINALIZE_VM` (4) on `%vm`.
public struct TDXFinalizeVMStep: StepKind {
    public var on: FdRef

    public init(on: FdRef = .vm) {
        self.on = on
    }

    // MARK: What it is

    static let op = "KVM_MEMORY_ENCRYPT_OP"
    static let command: String? = "KVM_TDX_FINALIZE_VM"
    static let allowedKinds: Set<FdKind> = [.vm]
    static let architectures: Set<PlanArch> = [.x86_64]
    static let hardwareNote: String? = "needs an Intel host with TDX enabled (TDX module loaded, kvm_intel.tdx=1)"

    var actsOn: FdRef? { on }

    func ioctls(arch: PlanArch) -> [Ioctl] { [.memoryEncryptOp] }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] { [:] }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self { Self(on: try d.on()) }

    // MARK: Text

    var textArguments: [String] { [] }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        c.tdxCommand(on: c.v(on), commandID: EncryptOpCommand.tdxFinalizeVM, flags: "0", data: "0")
    }
}

extension Operation {
    /// `KVM_TDX_FINALIZE_VM` (4) on `%vm`.
    public static func tdxFinalizeVM(on: FdRef = .vm) -> Operation { .tdxFinalizeVM(TDXFinalizeVMStep(on: on)) }
}
