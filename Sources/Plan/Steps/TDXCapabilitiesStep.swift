import Diagnostics

/// `KVM_TDX_CAPABILITIES` (0) on `%vm`.
public struct TDXCapabilitiesStep: StepKind, TDXCommandStep {
    public var on: FdRef

    public init(on: FdRef = .vm) {
        self.on = on
    }

    // MARK: What it is

    static let command: String? = "KVM_TDX_CAPABILITIES"
    static let allowedKinds: Set<FdKind> = [.vm]

    var actsOn: FdRef? { on }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] { [:] }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self { Self(on: try d.on()) }

    // MARK: Text

    var textArguments: [String] { [] }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        return [
            "tdx_caps = calloc(1, sizeof *tdx_caps + KP_MAX_CPUID_ENTRIES * sizeof(struct kp_cpuid_entry2));",
            "if (tdx_caps == NULL) kp_fail(\(c.id), \"calloc\");", "tdx_caps->cpuid_nent = KP_MAX_CPUID_ENTRIES;",
        ] + c.tdxCommand(on: c.v(on), commandID: EncryptOpCommand.tdxCapabilities, flags: "0", data: "(uint64_t)(uintptr_t)tdx_caps")
    }
}

extension Operation {
    /// `KVM_TDX_CAPABILITIES` (0) on `%vm`.
    public static func tdxCapabilities(on: FdRef = .vm) -> Operation { .tdxCapabilities(TDXCapabilitiesStep(on: on)) }
}
