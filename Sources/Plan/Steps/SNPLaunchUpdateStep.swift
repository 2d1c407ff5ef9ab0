import Diagnostics

/// `KVM_SEV_SNP_LAUNCH_UPDATE` (101): encrypt (and measure) `[gpa, gpa+size)` from `source`.
public struct SNPLaunchUpdateStep: StepKind, SEVCommandStep {
    public var on: FdRef
    public var sev: FdRef
    public var gpa: UInt64
    public var size: UInt64
    public var pageType: SNPPageType
    public var source: Address

    public init(on: FdRef = .vm, sev: FdRef = .sev, gpa: UInt64, size: UInt64, pageType: SNPPageType, source: Address) {
        self.on = on
        self.sev = sev
        self.gpa = gpa
        self.size = size
        self.pageType = pageType
        self.source = source
    }

    // MARK: What it is

    static let command: String? = "KVM_SEV_SNP_LAUNCH_UPDATE"

    var fdUses: [FdUse] {
        var uses = actsOnUse
        uses.append(FdUse(field: "sev", ref: sev, allowed: [.sev]))
        uses.append(FdUse(field: "source.map", ref: source.map, allowed: [.mapping]))
        return uses
    }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] {
        [
            "sev": .string(sev.description), "gpa": .number(gpa), "size": .number(size),
            "page-type": .string(pageType.rawValue), "source": source.json,
        ]
    }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        Self(
            on: try d.on(), sev: try d.args.fd("sev", kinds: [.sev]), gpa: try d.args.uint64("gpa"),
            size: try d.args.uint64("size"), pageType: try d.args.choice("page-type", SNPPageType.self),
            source: try d.args.address("source"))
    }

    // MARK: Text

    var textArguments: [String] {
        let hex = PlanFormatting.hex
        let size = PlanFormatting.size
        let bytes = self.size
        return ["gpa=\(hex(gpa))", "size=\(size(bytes))", "type=\(pageType.rawValue.uppercased())", "source=\(source)", "sev=\(sev)"]
    }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        [
            "{", "    struct kp_sev_snp_launch_update u;", "    struct kp_sev_cmd cmd;", "    memset(&u, 0, sizeof u);",
            "    memset(&cmd, 0, sizeof cmd);", "    u.gfn_start = \(c.hex(gpa >> 12));", "    u.uaddr = \(c.address(source));",
            "    u.len = \(c.hex(size));", "    u.type = \(pageType.value); /* \(pageType.uapiName) */",
            "    cmd.id = \(EncryptOpCommand.snpLaunchUpdate); /* KVM_SEV_SNP_LAUNCH_UPDATE */", "    cmd.data = (uint64_t)(uintptr_t)&u;",
            "    cmd.sev_fd = (uint32_t)\(c.v(sev));",
            "    while (u.len > 0) { /* the kernel may process part and update gfn_start, uaddr, len */",
            "        uint64_t before = u.len;", "        if (kp_ioctl(\(c.v(on)), KP_KVM_MEMORY_ENCRYPT_OP, &cmd) < 0) {",
            "            if (errno == EAGAIN) continue;",
            "            kp_failf(\(c.id), \(c.op), \"%s (firmware error %u)\", strerror(errno), cmd.error);", "        }",
            "        if (u.len == before) kp_failf(\(c.id), \(c.op), \"no progress\");", "    }", "}",
        ]
    }
}

extension Operation {
    /// `KVM_SEV_SNP_LAUNCH_UPDATE` (101): encrypt (and measure) `[gpa, gpa+size)` from `source`.
    public static func snpLaunchUpdate(
        on: FdRef = .vm, sev: FdRef = .sev, gpa: UInt64, size: UInt64, pageType: SNPPageType, source: Address
    ) -> Operation {
        .snpLaunchUpdate(SNPLaunchUpdateStep(on: on, sev: sev, gpa: gpa, size: size, pageType: pageType, source: source))
    }
}
