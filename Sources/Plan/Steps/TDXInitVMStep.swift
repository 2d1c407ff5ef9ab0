import Diagnostics

/// `KVM_TDX_INIT_VM` (1) on `%vm`; `gpaw` (48 or 52) goes into CPUID 0x80000008 EAX[23:16].
public struct TDXInitVMStep: StepKind, TDXCommandStep {
    public var on: FdRef
    public var attributes: UInt64
    public var xfam: UInt64
    public var gpaw: UInt8
    public var measurements: TDXMeasurementRegisters

    public init(
        on: FdRef = .vm, attributes: UInt64, xfam: UInt64, gpaw: UInt8, measurements: TDXMeasurementRegisters = TDXMeasurementRegisters()
    ) {
        self.on = on
        self.attributes = attributes
        self.xfam = xfam
        self.gpaw = gpaw
        self.measurements = measurements
    }

    // MARK: What it is

    static let command: String? = "KVM_TDX_INIT_VM"
    static let allowedKinds: Set<FdKind> = [.vm]

    var actsOn: FdRef? { on }

    func argumentProblems(arch: PlanArch) -> [(field: String, message: String)] {
        var problems: [(field: String, message: String)] = []
        if gpaw != 48 && gpaw != 52 { problems.append(("gpaw", "TDX accepts a GPA width of 48 or 52, not \(gpaw)")) }
        return problems
    }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] {
        var args: [String: JSONValue] = ["attributes": .number(attributes), "xfam": .number(xfam), "gpaw": .number(UInt64(gpaw))]
        if !measurements.isDefault {
            for (name, bytes) in measurements.named { args[name] = .string(HexBytes.encode(bytes)) }
        }
        return args
    }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        let attributes = try d.args.uint64("attributes")
        let xfam = try d.args.uint64("xfam")
        let gpaw = try d.args.uint8("gpaw")
        var measurements = TDXMeasurementRegisters()
        if let text = try d.args.optionalString("mrconfigid") {
            measurements.mrconfigid = try d.hexBytes("mrconfigid", text, count: TDXMeasurementRegisters.size)
            measurements.mrowner = try d.hexBytes("mrowner", try d.args.string("mrowner"), count: TDXMeasurementRegisters.size)
            measurements.mrownerconfig = try d.hexBytes(
                "mrownerconfig", try d.args.string("mrownerconfig"), count: TDXMeasurementRegisters.size)
            if measurements.isDefault { throw d.args.error("mrconfigid", "default measurement registers are omitted, not written") }
        }
        return Self(on: try d.on(), attributes: attributes, xfam: xfam, gpaw: gpaw, measurements: measurements)
    }

    // MARK: Text

    var textArguments: [String] {
        let hex = PlanFormatting.hex
        var out = ["attributes=\(hex(attributes))", "xfam=\(hex(xfam))", "gpaw=\(gpaw)"]
        for (name, bytes) in measurements.named where bytes.contains(where: { $0 != 0 }) {
            out.append("\(name)=\(HexBytes.encode(bytes).prefix(16))…")
        }
        return out
    }

    // MARK: C reproducer

    /// Its CPUID starts from KVM_GET_SUPPORTED_CPUID on `%kvm`.
    var cImplicitFds: [FdRef] { [.kvm] }

    func cStatements(_ c: CStatementContext) -> [String] {
        var lines = Self.tdxInitVM(on: c.v(on), attributes: attributes, xfam: xfam, gpaw: gpaw, id: c.id, op: c.op)
        if !measurements.isDefault, let xfamLine = lines.firstIndex(where: { $0.contains("init->xfam =") }) {
            var extra: [String] = []
            for (name, bytes) in measurements.named {
                extra.append("    { static const uint8_t v[48] = { \(PlanCRenderer.byteList(bytes)) }; memcpy(init->\(name), v, 48); }")
            }
            lines.insert(contentsOf: extra, at: xfamLine + 1)
        }
        return lines
    }

    /// KVM_TDX_INIT_VM with a CPUID built from KVM_GET_SUPPORTED_CPUID, restricted to the leaves and bits
    /// KVM_TDX_CAPABILITIES reports as configurable, with GuestPhysAddrSize (0x80000008 EAX[23:16]) = gpaw.
    /// An approximation of a VMM's CPUID model, enough to reproduce INIT_VM itself.
    private static func tdxInitVM(on: String, attributes: UInt64, xfam: UInt64, gpaw: UInt8, id: String, op: String) -> [String] {
        [
            "{",
            "    struct kp_cpuid2 *supported = calloc(1, sizeof *supported + KP_MAX_CPUID_ENTRIES * sizeof(struct kp_cpuid_entry2));",
            "    struct kp_tdx_init_vm *init = calloc(1, sizeof *init + KP_MAX_CPUID_ENTRIES * sizeof(struct kp_cpuid_entry2));",
            "    struct kp_cpuid_entry2 *configurable, *entries;", "    uint32_t i, j;",
            "    if (supported == NULL || init == NULL) kp_fail(\(id), \"calloc\");",
            "    if (tdx_caps == NULL) kp_failf(\(id), \(op), \"needs KVM_TDX_CAPABILITIES first\");",
            "    supported->nent = KP_MAX_CPUID_ENTRIES;",
            "    " + "if (kp_ioctl(\(PlanCRenderer.identifier(.kvm)), KP_KVM_GET_SUPPORTED_CPUID, supported) < 0) kp_fail(\(id), \"KVM_GET_SUPPORTED_CPUID\");",
            "    configurable = (struct kp_cpuid_entry2 *)(tdx_caps + 1);", "    entries = (struct kp_cpuid_entry2 *)(init + 1);",
            "    for (i = 0; i < tdx_caps->cpuid_nent; i++) {", "        struct kp_cpuid_entry2 e = configurable[i];",
            "        for (j = 0; j < supported->nent; j++) {", "            struct kp_cpuid_entry2 s = supported->entries[j];",
            "            if (s.function == e.function && s.index == e.index) {",
            "                e.eax &= s.eax; e.ebx &= s.ebx; e.ecx &= s.ecx; e.edx &= s.edx;", "                break;",
            "            }", "        }", "        if (e.function == 0x80000008u)",
            "            e.eax = (e.eax & ~0x00ff0000u) | (\(gpaw)u << 16); /* GuestPhysAddrSize = GPAW */",
            "        entries[init->cpuid_nent++] = e;", "    }", "    init->attributes = 0x\(String(attributes, radix: 16))ULL;",
            "    init->xfam = 0x\(String(xfam, radix: 16))ULL;", "    {", "        struct kp_tdx_cmd cmd;",
            "        memset(&cmd, 0, sizeof cmd);", "        cmd.id = \(EncryptOpCommand.tdxInitVM); /* KVM_TDX_INIT_VM */",
            "        cmd.data = (uint64_t)(uintptr_t)init;", "        if (kp_ioctl(\(on), KP_KVM_MEMORY_ENCRYPT_OP, &cmd) < 0)",
            "            kp_failf(\(id), \(op), \"%s (hw_error 0x%llx)\", strerror(errno), (unsigned long long)cmd.hw_error);",
            "    }", "    free(init);", "    free(supported);", "}",
        ]
    }
}

extension Operation {
    /// `KVM_TDX_INIT_VM` (1) on `%vm`; `gpaw` (48 or 52) goes into CPUID 0x80000008 EAX[23:16].
    public static func tdxInitVM(
        on: FdRef = .vm, attributes: UInt64, xfam: UInt64, gpaw: UInt8, measurements: TDXMeasurementRegisters = TDXMeasurementRegisters()
    ) -> Operation {
        .tdxInitVM(TDXInitVMStep(on: on, attributes: attributes, xfam: xfam, gpaw: gpaw, measurements: measurements))
    }
}
