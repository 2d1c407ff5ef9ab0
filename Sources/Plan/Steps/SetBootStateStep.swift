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

    /// The registers this step gives an x86 vCPU (`X86BootRegisters`, the one home of their values: the launcher,
    /// the C reproducer and the SEV-SNP VMSA model read them here); nil for an arm64 mode.
    public var x86Registers: X86BootRegisters? {
        Self.x86Registers(mode: mode, entry: entry, index: vcpu.index ?? 0, count: vcpuCount)
    }

    static func x86Registers(mode: BootMode, entry: UInt64, index: UInt32, count: UInt32) -> X86BootRegisters? {
        let (index, count) = (Int(index), Int(count))
        switch mode {
        case .real: return .payload(mode: .real, entry: entry, index: index, count: count)
        case .protected: return .payload(mode: .protected, entry: entry, index: index, count: count)
        case .long: return .payload(mode: .long, entry: entry, index: index, count: count)
        case .linux: return .linux(entry: entry)
        case .el1: return nil
        }
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
        guard let boot = Self.x86Registers(mode: mode, entry: entry, index: index, count: count) else { return lines }
        func segment(_ x: X86BootRegisters.Segment) -> String {
            func bit(_ b: Bool) -> Int { b ? 1 : 0 }
            return "(struct kp_segment){ .base = \(hex(x.base)), .limit = \(hex(UInt64(x.limit))), .selector = \(hex(UInt64(x.selector))), "
                + ".type = \(hex(UInt64(x.type))), .present = \(bit(x.present)), .dpl = \(x.dpl), .db = \(bit(x.db)), .s = \(bit(x.s)), "
                + ".l = \(bit(x.l)), .g = \(bit(x.g)), .avl = \(bit(x.avl)) }"
        }
        lines += ["    s.cs = \(segment(boot.code));", "    s.ds = s.es = s.fs = s.gs = s.ss = \(segment(boot.data));"]
        if let gdt = boot.gdt { lines.append("    s.gdt.base = \(hex(gdt.base)); s.gdt.limit = \(gdt.limit);") }
        if let cr0 = boot.cr0 { lines.append("    s.cr0 = \(hex(cr0)); /* \(cr0 & X86BootArea.cr0Paging != 0 ? "PG | " : "")PE | ET */") }
        if boot.cr0Clear != 0 { lines.append("    s.cr0 &= ~\(hex(boot.cr0Clear))ULL; /* PG, PE off */") }
        let notes = ["cr3": "PML4 of the launcher's identity map", "cr4": "PAE", "efer": "LME | LMA"]
        for (name, value) in [("cr3", boot.cr3), ("cr4", boot.cr4), ("efer", boot.efer)] {
            if let value { lines.append("    s.\(name) = \(hex(value)); /* \(notes[name] ?? "") */") }
        }
        lines += [
            "    if (kp_ioctl(\(vcpu), KP_KVM_SET_SREGS, &s) < 0) kp_fail(\(id), \"KVM_SET_SREGS\");", "    memset(&r, 0, sizeof r);",
        ]
        let linux = mode == .linux
        lines.append("    r.rip = \(hex(boot.rip));")
        if !linux { lines.append("    r.rdi = \(boot.rdi); /* vCPU index */") }
        lines.append("    r.rsi = \(hex(boot.rsi)); /* \(linux ? "the zero page (boot protocol)" : "vCPU count") */")
        if boot.rsp != 0 { lines.append("    r.rsp = \(hex(boot.rsp)); /* the boot stack */") }
        lines += [
            "    r.rflags = \(hex(boot.rflags));",
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
