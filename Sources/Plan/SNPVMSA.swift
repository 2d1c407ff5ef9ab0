import GuestLayout

/// The VMSA KVM builds for each vCPU of an SEV-SNP VM inside `KVM_SEV_SNP_LAUNCH_FINISH`, and which the firmware
/// measures into the launch digest: `struct sev_es_save_area` (arch/x86/include/asm/svm.h:375-484) filled by
/// `sev_es_sync_vmsa` (arch/x86/kvm/svm/sev.c:924-1022) from the vCPU's state. kvmplan models that state from
/// the calls a plan makes: `KVM_CREATE_VCPU` (kvm_vcpu_reset x86.c:12993-13127, init_vmcb svm.c:1117-1266), then
/// `KVM_GET_SREGS`, `KVM_SET_SREGS` and `KVM_SET_REGS` (x86.c:12155-12186, 12200-12233, 12424-12489; the svm.c
/// setters). Line numbers are Linux 7.1.5's; 6.12.117 builds the same bytes (docs/kernel-facts.md).
///
/// Assumptions: nested paging (SNP requires it); CR4.MCE set on the host, which reaches the guest's CR4
/// (svm.c:1830) — true unless the host was booted with `mce=off` or built without CONFIG_X86_MCE, where every
/// VMSA, and so the digest, differs; the default `KVM_X86_QUIRK_CD_NW_CLEARED` (svm.c:1800-1801); and no
/// `KVM_SET_FPU`, `KVM_SET_XSAVE`, `KVM_SET_XCRS`, `KVM_SET_MSRS` or guest debugging (kvmplan's plans make none);
/// one boot per vCPU (paging never turned off again).
///
/// Checked against sev-snp-measure's VMSA (an independent implementation, validated by attestation in the field)
/// for reset-vector states, byte for byte; the long- and protected-mode states kvmplan's boots give are the same
/// conversions with other values, checked field by field against the source above, not against hardware.
public struct SNPVMSA: Hashable, Sendable {
    /// `struct vmcb_seg` (svm.h:315-320): selector, attrib, limit, base.
    public struct Segment: Hashable, Sendable {
        public var selector: UInt16
        public var attrib: UInt16
        public var limit: UInt32
        public var base: UInt64
    }

    /// What `KVM_GET_SREGS` reports and `KVM_SET_SREGS` takes (the part that reaches the VMSA).
    public struct SpecialRegisters: Hashable, Sendable {
        public var cs, ds, es, fs, gs, ss, tr, ldt: KVMSegment
        public var gdt, idt: X86BootRegisters.Table
        public var cr0, cr3, cr4, efer: UInt64
    }

    /// `struct kvm_segment` as KVM_GET_SREGS reports it (with `unusable`).
    public struct KVMSegment: Hashable, Sendable {
        public var segment: X86BootRegisters.Segment
        public var unusable = false

        public init(_ segment: X86BootRegisters.Segment, unusable: Bool = false) {
            self.segment = segment
            self.unusable = unusable
        }
    }

    /// `struct kvm_regs`: every general register, RIP and RFLAGS.
    public struct GeneralRegisters: Hashable, Sendable {
        public var rax: UInt64 = 0, rbx: UInt64 = 0, rcx: UInt64 = 0, rdx: UInt64 = 0
        public var rsi: UInt64 = 0, rdi: UInt64 = 0, rsp: UInt64 = 0, rbp: UInt64 = 0
        public var r8_15 = [UInt64](repeating: 0, count: 8)
        public var rip: UInt64 = 0
        public var rflags: UInt64 = 0x2

        public init() {}
    }

    /// The VMCB save area's segments, in VMSA order: es, cs, ss, ds, fs, gs, gdtr, ldtr, idtr, tr.
    public private(set) var segments: [Segment]
    public private(set) var cpl: UInt8 = 0
    /// VMCB save-area values (what the memcpy at sev.c:949 copies).
    public private(set) var efer: UInt64, cr4: UInt64, cr3: UInt64, cr0: UInt64, dr7: UInt64, gPAT: UInt64
    /// `vcpu->arch` values (what sev_es_sync_vmsa copies one by one, sev.c:952-976); RFLAGS, which KVM keeps in the
    /// save area itself, is here too (GET and SET_REGS see the same value).
    public private(set) var registers: GeneralRegisters
    var archCR0: UInt64, archCR3: UInt64 = 0, archCR4: UInt64 = 0, archEFER: UInt64 = 0
    let dr6: UInt64 = 0xFFFF_0FF0, xcr0: UInt64 = 1, xss: UInt64 = 0, pkru: UInt32 = 0

    static let es = 0, cs = 1, ss = 2, ds = 3, fs = 4, gs = 5, gdtr = 6, ldtr = 7, idtr = 8, tr = 9

    static let eferSVME: UInt64 = 1 << 12
    static let cr4MCE: UInt64 = 1 << 6
    static let cr0CDNW: UInt64 = 0x6000_0000
    static let cr0PG: UInt64 = 1 << 31
    static let eferLME: UInt64 = 1 << 8
    static let eferLMA: UInt64 = 1 << 10

    /// The state right after `KVM_CREATE_VCPU` (kvm_vcpu_reset(vcpu, false) and init_vmcb).
    public init() {
        // init_seg (svm.c:978-985): P|S|W = 0x92 for es, ss, ds, fs, gs; cs READ|P|S|CODE = 0x9a at 0xf000:0xffff0000;
        // gdtr/idtr limit 0xffff; ldtr P|LDT = 0x82, tr P|busy TSS16 = 0x83 (svm.c:1192-1211, 72-73).
        let data = Segment(selector: 0, attrib: 0x92, limit: 0xFFFF, base: 0)
        let table = Segment(selector: 0, attrib: 0, limit: 0xFFFF, base: 0)
        segments = [
            data, Segment(selector: 0xF000, attrib: 0x9A, limit: 0xFFFF, base: 0xFFFF_0000), data, data, data, data, table,
            Segment(selector: 0, attrib: 0x82, limit: 0xFFFF, base: 0), table,
            Segment(selector: 0, attrib: 0x83, limit: 0xFFFF, base: 0),
        ]
        // cr0 ET|NW|CD through svm_set_cr0 (CD/NW cleared by the quirk), cr4 0 | host MCE, efer 0 | SVME
        // (x86.c:13092-13100); dr7 0x400 (13033-13035); rflags 2 (13081); g_pat the PAT default (13055).
        archCR0 = 0x6000_0010
        (cr0, cr4, efer, cr3) = (0x10, Self.cr4MCE, Self.eferSVME, 0)
        (dr7, gPAT) = (0x400, 0x0007_0406_0007_0406)
        registers = GeneralRegisters()
        // RIP 0xfff0; RDX is CPUID.1.EAX, and no CPUID is set yet at creation: 0x600 (x86.c:13076-13082).
        registers.rip = 0xFFF0
        registers.rdx = 0x600
    }

    /// `KVM_GET_SREGS` (__get_sregs_common x86.c:12200-12233, svm_get_segment svm.c:1624-1690).
    public var specialRegisters: SpecialRegisters {
        func get(_ index: Int) -> KVMSegment {
            let s = segments[index]
            let a = s.attrib
            let present = (a >> 7) & 1 == 1
            var x = X86BootRegisters.Segment(
                base: s.base, limit: s.limit, selector: s.selector, type: UInt8(a & 0xF), present: present, db: (a >> 10) & 1 == 1,
                s: (a >> 4) & 1 == 1, l: (a >> 9) & 1 == 1, g: s.limit > 0xFFFFF)
            x.dpl = UInt8((a >> 5) & 3)
            x.avl = (a >> 8) & 1 == 1
            switch index {
            case Self.tr: x.type |= 0x2
            case Self.ds, Self.es, Self.fs, Self.gs: if present { x.type |= 0x1 }
            case Self.ss:
                if !present { x.db = false }
                x.dpl = cpl
            default: break
            }
            return KVMSegment(x, unusable: !present)
        }
        func table(_ index: Int) -> X86BootRegisters.Table {
            X86BootRegisters.Table(base: segments[index].base, limit: UInt16(truncatingIfNeeded: segments[index].limit))
        }
        return SpecialRegisters(
            cs: get(Self.cs), ds: get(Self.ds), es: get(Self.es), fs: get(Self.fs), gs: get(Self.gs), ss: get(Self.ss),
            tr: get(Self.tr), ldt: get(Self.ldtr), gdt: table(Self.gdtr), idt: table(Self.idtr), cr0: archCR0, cr3: archCR3,
            cr4: archCR4, efer: archEFER)
    }

    /// `KVM_SET_SREGS` (__set_sregs_common x86.c:12424-12489), in its order: IDT, GDT, CR3 (written to the save
    /// area at once for SEV-ES/SNP, sev_post_set_cr3 svm.c:1743-1759), EFER, CR0, CR4, the segments.
    public mutating func setSpecialRegisters(_ s: SpecialRegisters) {
        for (index, t) in [(Self.idtr, s.idt), (Self.gdtr, s.gdt)] {
            segments[index].limit = UInt32(t.limit)
            segments[index].base = t.base
        }
        archCR3 = s.cr3
        cr3 = s.cr3
        // svm_set_efer (svm.c:206-270): the save area's EFER always has SVME.
        archEFER = s.efer
        efer = s.efer | Self.eferSVME
        // svm_set_cr0 (svm.c:1766-1821): paging turned on with LME set enters long mode; CD and NW cleared.
        if archEFER & Self.eferLME != 0 && archCR0 & Self.cr0PG == 0 && s.cr0 & Self.cr0PG != 0 {
            archEFER |= Self.eferLMA
            efer |= Self.eferLMA | Self.eferLME
        }
        archCR0 = s.cr0
        cr0 = s.cr0 & ~Self.cr0CDNW
        // svm_set_cr4 (svm.c:1828-1846): the host's MCE bit is kept.
        archCR4 = s.cr4
        cr4 = s.cr4 | Self.cr4MCE
        for (index, x) in [(Self.cs, s.cs), (Self.ds, s.ds), (Self.es, s.es), (Self.fs, s.fs), (Self.gs, s.gs), (Self.ss, s.ss), (Self.tr, s.tr), (Self.ldtr, s.ldt)] {
            setSegment(index, x)
        }
    }

    /// svm_set_segment (svm.c:1848-1877): the attribute word from the fields; SS's DPL becomes the CPL.
    mutating func setSegment(_ index: Int, _ k: KVMSegment) {
        let x = k.segment
        func bit(_ b: Bool, _ shift: UInt16) -> UInt16 { b ? 1 << shift : 0 }
        var attrib = UInt16(x.type & 0xF) | bit(x.s, 4) | UInt16(x.dpl & 3) << 5 | bit(x.present && !k.unusable, 7)
        attrib |= bit(x.avl, 8) | bit(x.l, 9) | bit(x.db, 10) | bit(x.g, 11)
        segments[index] = Segment(selector: x.selector, attrib: attrib, limit: x.limit, base: x.base)
        if index == Self.ss { cpl = x.dpl & 3 }
    }

    /// `KVM_SET_REGS` (__set_regs x86.c:12155-12186): the registers to `vcpu->arch`, RFLAGS (with bit 1) to the
    /// save area (svm_set_rflags svm.c:1504-1515).
    public mutating func setRegisters(_ r: GeneralRegisters) {
        registers = r
        registers.rflags = r.rflags | 0x2
    }

    /// The launcher's boot of a vCPU (`X86BootRegisters`): KVM_GET_SREGS, the boot's changes, KVM_SET_SREGS, then
    /// KVM_SET_REGS with the boot's general registers (every other one 0).
    public mutating func boot(_ b: X86BootRegisters) {
        var s = specialRegisters
        s.cs = KVMSegment(b.code)
        for keyPath in [\SpecialRegisters.ds, \.es, \.fs, \.gs, \.ss] { s[keyPath: keyPath] = KVMSegment(b.data) }
        if let gdt = b.gdt { s.gdt = gdt }
        let control = b.controlRegisters(.init(cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer))
        (s.cr0, s.cr3, s.cr4, s.efer) = (control.cr0, control.cr3, control.cr4, control.efer)
        setSpecialRegisters(s)
        var r = GeneralRegisters()
        (r.rip, r.rsi, r.rdi, r.rsp, r.rflags) = (b.rip, b.rsi, b.rdi, b.rsp, b.rflags)
        setRegisters(r)
    }

    /// The 4 KiB VMSA page sev_es_sync_vmsa writes (a zeroed page, sev.c:4818-4822, 4931): the save area's first
    /// 744 bytes (sev.c:949), the registers, XCR0, PKRU, XSS, DR6 (952-976), `sevFeatures` (978) and, for every VM
    /// type but the default one (`fpu`), the x87 and SSE state of a fresh guest FPU: FCW 0x37f, MXCSR 0x1f80
    /// (984-1016; fpstate_init_fxstate, kernel/fpu/core.c:537-541).
    public func page(sevFeatures: UInt64, fpu: Bool = true) -> [UInt8] {
        var p = [UInt8](repeating: 0, count: 4096)
        func put(_ value: UInt64, at offset: Int, size: Int = 8) {
            for i in 0..<size { p[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        }
        for (i, s) in segments.enumerated() {
            put(UInt64(s.selector), at: i * 16, size: 2)
            put(UInt64(s.attrib), at: i * 16 + 2, size: 2)
            put(UInt64(s.limit), at: i * 16 + 4, size: 4)
            put(s.base, at: i * 16 + 8)
        }
        p[0xCB] = cpl
        put(efer, at: 0xD0)
        put(xss, at: 0x140)
        for (i, value) in [cr4, cr3, cr0, dr7, dr6, registers.rflags, registers.rip].enumerated() { put(value, at: 0x148 + 8 * i) }
        put(registers.rsp, at: 0x1D8)
        put(registers.rax, at: 0x1F8)
        put(gPAT, at: 0x268)
        put(UInt64(pkru), at: 0x2E8, size: 4)
        for (offset, value) in [(0x308, registers.rcx), (0x310, registers.rdx), (0x318, registers.rbx), (0x328, registers.rbp), (0x330, registers.rsi), (0x338, registers.rdi)] {
            put(value, at: offset)
        }
        for (i, value) in registers.r8_15.enumerated() { put(value, at: 0x340 + 8 * i) }
        put(sevFeatures, at: 0x3B0)
        put(xcr0, at: 0x3E8)
        if fpu {
            put(0x1F80, at: 0x408, size: 4)  // mxcsr
            put(0x37F, at: 0x410, size: 2)  // x87_fcw
        }
        return p
    }

    /// `sev_features` of an SNP VM: the `vmsa_features` given to KVM_SEV_INIT2, with SNP_ACTIVE (bit 0) added by
    /// KVM (sev.c:530-534).
    public static func sevFeatures(vmsaFeatures: UInt64) -> UInt64 { vmsaFeatures | 1 }

    /// The GPA the firmware measures every VMSA page at: KVM's INITIAL_VMSA_GPA (sev.c:94), the RMP entry's GPA.
    public static let gpa: UInt64 = 0xFFFF_FFFF_F000

    /// The VMSA pages LAUNCH_FINISH measures for `steps`, one per vCPU in creation order (snp_launch_update_vmsa's
    /// kvm_for_each_vcpu walks vcpu_idx, sev.c:2512): each vCPU's state after its boot step, if it has one; `nil`
    /// when the plan has no SNP launch (no KVM_SEV_INIT2) or boots a vCPU in a mode this model does not cover.
    public static func pages(_ steps: [Step]) -> [[UInt8]]? {
        var vcpus: [(index: UInt32, vmsa: SNPVMSA)] = []
        var features: UInt64?
        for step in steps {
            switch step.operation {
            case .sevInit2(let it): features = sevFeatures(vmsaFeatures: it.vmsaFeatures)
            case .createVCPU(let it): vcpus.append((it.index, SNPVMSA()))
            case .setBootState(let it):
                guard let registers = it.x86Registers, let n = vcpus.firstIndex(where: { $0.index == it.vcpu.index }) else { return nil }
                vcpus[n].vmsa.boot(registers)
            default: break
            }
        }
        guard let features else { return nil }
        return vcpus.map { $0.vmsa.page(sevFeatures: features) }
    }
}
