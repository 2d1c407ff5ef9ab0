import Diagnostics

/// `KVM_SET_CPUID2` on a vCPU with the entries of `from`.
public struct SetCPUID2Step: StepKind {
    public var vcpu: FdRef
    public var from: CPUIDSource

    public init(vcpu: FdRef, from: CPUIDSource) {
        self.vcpu = vcpu
        self.from = from
    }

    // MARK: What it is

    static let op = "KVM_SET_CPUID2"
    static let allowedKinds: Set<FdKind> = [.vcpu]
    static let architectures: Set<PlanArch> = [.x86_64]

    var actsOn: FdRef? { vcpu }

    func ioctls(arch: PlanArch) -> [Ioctl] {
        from == .tdx ? [.memoryEncryptOp, .setCPUID2] : [.getSupportedCPUID, .setCPUID2]
    }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] { ["from": .string(from.rawValue)] }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        Self(vcpu: try d.on(), from: try d.args.choice("from", CPUIDSource.self))
    }

    // MARK: Text

    var textArguments: [String] { ["from=\(from.rawValue)"] }

    // MARK: C reproducer

    /// KVM_GET_SUPPORTED_CPUID is asked on `%kvm`.
    var cImplicitFds: [FdRef] { from == .tdx ? [] : [.kvm] }

    func cStatements(_ c: CStatementContext) -> [String] {
        var lines = [
            "{",
            "    struct kp_cpuid2 *c = calloc(1, sizeof *c + KP_MAX_CPUID_ENTRIES * sizeof(struct kp_cpuid_entry2));",
            "    if (c == NULL) kp_fail(\(c.id), \"calloc\");", "    c->nent = KP_MAX_CPUID_ENTRIES;",
        ]
        switch from {
        case .supported:
            lines.append("    " + c.check("kp_ioctl(\(c.v(.kvm)), KP_KVM_GET_SUPPORTED_CPUID, c)", "KVM_GET_SUPPORTED_CPUID"))
        case .supportedHypervisor:
            lines += [
                "    " + c.check("kp_ioctl(\(c.v(.kvm)), KP_KVM_GET_SUPPORTED_CPUID, c)", "KVM_GET_SUPPORTED_CPUID"),
                "    for (uint32_t i = 0; i < c->nent; i++) {",
                "        if (c->entries[i].function == 1) { /* CPUID.1:ECX.HYPERVISOR, and the APIC id */",
                "            c->entries[i].ecx |= 1u << 31;",
                "            c->entries[i].ebx = (c->entries[i].ebx & 0x00ffffffu) | (\(vcpu.index ?? 0)u << 24);",
                "        }",
                "        if (c->entries[i].function == 0xb || c->entries[i].function == 0x1f) c->entries[i].edx = \(vcpu.index ?? 0); /* x2APIC id */",
                "    }",
            ]
        case .tdx:
            lines += [
                "    {", "        struct kp_tdx_cmd cmd;", "        memset(&cmd, 0, sizeof cmd);",
                "        cmd.id = \(EncryptOpCommand.tdxGetCPUID); /* KVM_TDX_GET_CPUID */", "        cmd.data = (uint64_t)(uintptr_t)c;",
                "        " + c.check("kp_ioctl(\(c.v(vcpu)), KP_KVM_MEMORY_ENCRYPT_OP, &cmd)", "KVM_TDX_GET_CPUID"), "    }",
            ]
        }
        lines += ["    " + c.check("kp_ioctl(\(c.v(vcpu)), KP_KVM_SET_CPUID2, c)", "KVM_SET_CPUID2"), "    free(c);", "}"]
        return lines
    }
}

extension Operation {
    /// `KVM_SET_CPUID2` on a vCPU with the entries of `from`.
    public static func setCPUID2(
        vcpu: FdRef, from: CPUIDSource
    ) -> Operation {
        .setCPUID2(SetCPUID2Step(vcpu: vcpu, from: from))
    }
}
