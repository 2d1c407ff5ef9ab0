import Diagnostics

/// `KVM_SEV_INIT2` (22).
public struct SEVInit2Step: StepKind, SEVCommandStep {
    public var on: FdRef
    public var sev: FdRef
    public var vmsaFeatures: UInt64
    public var ghcbVersion: UInt16

    public init(on: FdRef = .vm, sev: FdRef = .sev, vmsaFeatures: UInt64, ghcbVersion: UInt16) {
        self.on = on
        self.sev = sev
        self.vmsaFeatures = vmsaFeatures
        self.ghcbVersion = ghcbVersion
    }

    // MARK: What it is

    static let command: String? = "KVM_SEV_INIT2"

    // MARK: JSON

    var jsonArgs: [String: JSONValue] {
        [
            "sev": .string(sev.description), "vmsa-features": .number(vmsaFeatures),
            "ghcb-version": .number(UInt64(ghcbVersion)),
        ]
    }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        Self(
            on: try d.on(), sev: try d.args.fd("sev", kinds: [.sev]), vmsaFeatures: try d.args.uint64("vmsa-features"),
            ghcbVersion: try d.args.uint16("ghcb-version"))
    }

    // MARK: Text

    var textArguments: [String] {
        let hex = PlanFormatting.hex
        let ghcb = self.ghcbVersion
        return ["vmsa-features=\(hex(vmsaFeatures))", "ghcb-version=\(ghcb)", "sev=\(sev)"]
    }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        let ghcb = self.ghcbVersion
        return c.sevCommand(
            on: c.v(on), sev: c.v(sev), commandID: EncryptOpCommand.sevInit2, structName: "kp_sev_init",
            fields: ["vmsa_features = \(c.hex(vmsaFeatures))", "ghcb_version = \(ghcb)"])
    }
}

extension Operation {
    /// `KVM_SEV_INIT2` (22).
    public static func sevInit2(
        on: FdRef = .vm, sev: FdRef = .sev, vmsaFeatures: UInt64, ghcbVersion: UInt16
    ) -> Operation {
        .sevInit2(SEVInit2Step(on: on, sev: sev, vmsaFeatures: vmsaFeatures, ghcbVersion: ghcbVersion))
    }
}
