import Diagnostics

/// `KVM_SEV_SNP_LAUNCH_START` (100).
public struct SNPLaunchStartStep: StepKind, SEVCommandStep {
    public var on: FdRef
    public var sev: FdRef
    public var policy: UInt64

    public init(on: FdRef = .vm, sev: FdRef = .sev, policy: UInt64) {
        self.on = on
        self.sev = sev
        self.policy = policy
    }

    // MARK: What it is

    static let command: String? = "KVM_SEV_SNP_LAUNCH_START"

    // MARK: JSON

    var jsonArgs: [String: JSONValue] { ["sev": .string(sev.description), "policy": .number(policy)] }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        Self(on: try d.on(), sev: try d.args.fd("sev", kinds: [.sev]), policy: try d.args.uint64("policy"))
    }

    // MARK: Text

    var textArguments: [String] {
        let hex = PlanFormatting.hex
        return ["policy=\(hex(policy))", "sev=\(sev)"]
    }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        c.sevCommand(
            on: c.v(on), sev: c.v(sev), commandID: EncryptOpCommand.snpLaunchStart, structName: "kp_sev_snp_launch_start",
            fields: ["policy = \(c.hex(policy))"])
    }
}

extension Operation {
    /// `KVM_SEV_SNP_LAUNCH_START` (100).
    public static func snpLaunchStart(
        on: FdRef = .vm, sev: FdRef = .sev, policy: UInt64
    ) -> Operation {
        .snpLaunchStart(SNPLaunchStartStep(on: on, sev: sev, policy: policy))
    }
}
