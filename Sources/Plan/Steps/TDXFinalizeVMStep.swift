import Diagnostics

/// `KVM_TDX_FINALIZE_VM` (4) on `%vm`.
public struct TDXFinalizeVMStep: StepKind, TDXCommandStep {
    public var on: FdRef

    public init(on: FdRef = .vm) {
        self.on = on
    }

    // MARK: What it is

    static let command: String? = "KVM_TDX_FINALIZE_VM"
    static let allowedKinds: Set<FdKind> = [.vm]

    var actsOn: FdRef? { on }

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
