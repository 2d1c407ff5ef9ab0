import Diagnostics
import GuestLayout

/// Initial register state of a vCPU (x86: `KVM_SET_SREGS` + `KVM_SET_REGS`; arm64: `KVM_SET_ONE_REG` PC).
/// `vcpuCount` is the number of vCPUs of the guest. Spelled `boot`.
public struct SetBootStateStep: StepKind {
    public var vcpu: FdRef
    public var mode: BootMode
    public var entry: UInt64
    public var vcpuCount: UInt32

    public init(vcpu: FdRef, mode: BootMode, entry: UInt64, vcpuCount: UInt32) {
        self.vcpu = vcpu
        self.mode = mode
        self.entry = entry
        self.vcpuCount = vcpuCount
    }

    // MARK: What it is

    static let op = "boot"
    static let allowedKinds: Set<FdKind> = [.vcpu]

    var actsOn: FdRef? { vcpu }

    func ioctls(arch: PlanArch) -> [Ioctl] { arch == .x86_64 ? [.getSregs, .setSregs, .setRegs] : [.setOneReg] }

    func argumentProblems(arch: PlanArch) -> [(field: String, message: String)] {
        var problems: [(field: String, message: String)] = []
        if mode.arch != arch { problems.append(("mode", "boot mode \(mode.rawValue) is not a \(arch.rawValue) mode")) }
        if vcpuCount == 0 { problems.append(("vcpus", "a guest has at least one vCPU")) }
        return problems
    }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] {
        ["mode": .string(mode.rawValue), "entry": .number(entry), "vcpus": .number(UInt64(vcpuCount))]
    }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        Self(
            vcpu: try d.on(), mode: try d.args.choice("mode", BootMode.self), entry: try d.args.uint64("entry"),
            vcpuCount: try d.args.uint32("vcpus"))
    }

    // MARK: Text

    var textArguments: [String] {
        let hex = PlanFormatting.hex
        return ["mode=\(mode.rawValue)", "entry=\(hex(entry))", "vcpus=\(vcpuCount)"]
    }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        Self.bootState(vcpu: c.v(vcpu), index: vcpu.index ?? 0, mode: mode, entry: entry, count: vcpuCount, id: c.id)
    }

    /// Register state as the launcher sets it (Launcher/BootState), from the guest layout (`X86BootArea`,
    /// `LinuxBootArea`): the flat GDT and identity page tables of the boot area (not written here: the guest does
    /// not run), RIP = entry, RDI = vCPU index, RSI = vCPU count.
    private static func bootState(vcpu: String, index: UInt32, mode: BootMode, entry: UInt64, count: UInt32, id: String) -> [String] {
        if mode == .el1 {
            return [
                "{", "    uint64_t pc = 0x\(String(entry, radix: 16))ULL;",
                "    struct kp_one_reg reg = { KP_ARM64_REG_PC, (uint64_t)(uintptr_t)&pc };",
                "    if (kp_ioctl(\(vcpu), KP_KVM_SET_ONE_REG, &reg) < 0) kp_fail(\(id), \"KVM_SET_ONE_REG\");", "}",
            ]
        }
        var lines = [
            "{", "    struct kp_sregs s;", "    struct kp_regs r;",
            "    if (kp_ioctl(\(vcpu), KP_KVM_GET_SREGS, &s) < 0) kp_fail(\(id), \"KVM_GET_SREGS\");",
        ]
        let hex = PlanFormatting.hex
        func selector(_ value: UInt16) -> String {
            let digits = String(value, radix: 16)
            return "0x" + (digits.count < 2 ? "0" + digits : digits)
        }
        var rip = entry
        switch mode {
        case .real:
            let selector = (entry >> 4) & 0xF000
            rip = entry - (selector << 4)
            lines += [
                "    s.cs.base = 0x\(String(selector << 4, radix: 16)); s.cs.limit = 0xffff; s.cs.selector = 0x\(String(selector, radix: 16));",
                "    s.cs.type = 0xb; s.cs.present = 1; s.cs.s = 1; s.cs.db = 0; s.cs.l = 0; s.cs.g = 0;",
                "    s.ds = s.es = s.fs = s.gs = s.ss = s.cs;", "    s.ds.base = 0; s.ds.selector = 0; s.ds.type = 0x3;",
                "    s.es = s.fs = s.gs = s.ss = s.ds;", "    s.cr0 &= ~0x80000001ULL;",
            ]
        case .protected, .long, .linux:
            let long = mode != .protected
            lines += [
                "    memset(&s.cs, 0, sizeof s.cs);", "    s.gdt.base = \(hex(X86BootArea.gdtAddress)); s.gdt.limit = 3 * 8 - 1;",
                "    s.cs.limit = 0xffffffff; s.cs.selector = \(selector(X86BootArea.codeSelector)); s.cs.type = 0xb; s.cs.present = 1; s.cs.s = 1; s.cs.g = 1;",
                "    s.cs.db = \(long ? 0 : 1); s.cs.l = \(long ? 1 : 0);", "    s.ds = s.cs;",
                "    s.ds.selector = \(selector(X86BootArea.dataSelector)); s.ds.type = 0x3; s.ds.db = 1; s.ds.l = 0;", "    s.es = s.fs = s.gs = s.ss = s.ds;",
                "    s.cr0 = \(hex(X86BootArea.cr0ProtectedMode)); /* PE | ET */",
            ]
            if long {
                lines += [
                    "    s.cr0 |= \(hex(X86BootArea.cr0Paging))ULL; /* PG */",
                    "    s.cr3 = \(hex(X86BootArea.pml4Address)); /* PML4 of the launcher's identity map */",
                    "    s.cr4 = \(hex(X86BootArea.cr4PAE)); /* PAE */", "    s.efer = \(hex(X86BootArea.eferLongMode)); /* LME | LMA */",
                ]
            }
        case .el1:
            break
        }
        lines += [
            "    if (kp_ioctl(\(vcpu), KP_KVM_SET_SREGS, &s) < 0) kp_fail(\(id), \"KVM_SET_SREGS\");", "    memset(&r, 0, sizeof r);",
            "    r.rip = 0x\(String(rip, radix: 16))ULL;",
        ]
        if mode == .linux {
            lines += [
                "    r.rsi = \(hex(LinuxBootArea.zeroPage)); /* the zero page (boot protocol) */",
                "    r.rsp = \(hex(LinuxBootArea.stackTop));",
            ]
        } else {
            lines += ["    r.rdi = \(index); /* vCPU index */", "    r.rsi = \(count); /* vCPU count */"]
        }
        lines += [
            "    r.rflags = 0x2;",
            "    if (kp_ioctl(\(vcpu), KP_KVM_SET_REGS, &r) < 0) kp_fail(\(id), \"KVM_SET_REGS\");", "}",
        ]
        return lines
    }
}

extension Operation {
    /// Initial register state of a vCPU (x86: `KVM_SET_SREGS` + `KVM_SET_REGS`; arm64: `KVM_SET_ONE_REG` PC).
    /// `vcpuCount` is the number of vCPUs of the guest. Spelled `boot`.
    public static func setBootState(
        vcpu: FdRef, mode: BootMode, entry: UInt64, vcpuCount: UInt32
    ) -> Operation {
        .setBootState(SetBootStateStep(vcpu: vcpu, mode: mode, entry: entry, vcpuCount: vcpuCount))
    }
}
