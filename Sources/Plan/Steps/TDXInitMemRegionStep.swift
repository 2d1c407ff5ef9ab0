import Diagnostics

/// `KVM_TDX_INIT_MEM_REGION` (3) on a vCPU: add `nrPages` 4 KiB pages at `gpa` from `source`.
public struct TDXInitMemRegionStep: StepKind, TDXCommandStep {
    public var vcpu: FdRef
    public var gpa: UInt64
    public var nrPages: UInt64
    public var source: Address
    public var measure: Bool

    public init(vcpu: FdRef, gpa: UInt64, nrPages: UInt64, source: Address, measure: Bool) {
        self.vcpu = vcpu
        self.gpa = gpa
        self.nrPages = nrPages
        self.source = source
        self.measure = measure
    }

    // MARK: What it is

    static let command: String? = "KVM_TDX_INIT_MEM_REGION"
    static let allowedKinds: Set<FdKind> = [.vcpu]

    var actsOn: FdRef? { vcpu }

    var fdUses: [FdUse] {
        var uses = actsOnUse
        uses.append(FdUse(field: "source.map", ref: source.map, allowed: [.mapping]))
        return uses
    }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] {
        ["gpa": .number(gpa), "nr-pages": .number(nrPages), "source": source.json, "measure": .bool(measure)]
    }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        Self(
            vcpu: try d.on(), gpa: try d.args.uint64("gpa"), nrPages: try d.args.uint64("nr-pages"),
            source: try d.args.address("source"), measure: try d.args.bool("measure"))
    }

    // MARK: Text

    var textArguments: [String] {
        let hex = PlanFormatting.hex
        return ["gpa=\(hex(gpa))", "pages=\(nrPages)", "source=\(source)", "flags=\(measure ? "MEASURE_MEMORY_REGION" : "0")"]
    }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        [
            "{", "    struct kp_tdx_init_mem_region m;", "    struct kp_tdx_cmd cmd;", "    memset(&cmd, 0, sizeof cmd);",
            "    m.source_addr = \(c.address(source));", "    m.gpa = \(c.hex(gpa));", "    m.nr_pages = \(c.hex(nrPages));",
            "    cmd.id = \(EncryptOpCommand.tdxInitMemRegion); /* KVM_TDX_INIT_MEM_REGION */",
            "    cmd.flags = \(measure ? "1; /* KVM_TDX_MEASURE_MEMORY_REGION */" : "0;")",
            "    cmd.data = (uint64_t)(uintptr_t)&m;",
            "    while (m.nr_pages > 0) { /* the kernel updates source_addr, gpa, nr_pages with the remainder */",
            "        uint64_t before = m.nr_pages;", "        cmd.hw_error = 0;",
            "        if (kp_ioctl(\(c.v(vcpu)), KP_KVM_MEMORY_ENCRYPT_OP, &cmd) < 0) {",
            "            if (errno == EAGAIN) continue;",
            "            kp_failf(\(c.id), \(c.op), \"%s (hw_error 0x%llx)\", strerror(errno), (unsigned long long)cmd.hw_error);",
            "        }", "        if (m.nr_pages == before) kp_failf(\(c.id), \(c.op), \"no progress\");", "    }", "}",
        ]
    }
}

extension Operation {
    /// `KVM_TDX_INIT_MEM_REGION` (3) on a vCPU: add `nrPages` 4 KiB pages at `gpa` from `source`.
    public static func tdxInitMemRegion(
        vcpu: FdRef, gpa: UInt64, nrPages: UInt64, source: Address, measure: Bool
    ) -> Operation {
        .tdxInitMemRegion(TDXInitMemRegionStep(vcpu: vcpu, gpa: gpa, nrPages: nrPages, source: source, measure: measure))
    }
}
