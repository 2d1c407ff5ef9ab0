/// The register state the launcher gives an x86 vCPU before its first run (DESIGN §7; the guest ABI in
/// Examples/guests/README.md): the one home of those values, used by the launcher (`KVM_SET_SREGS` and
/// `KVM_SET_REGS`), the C reproducer, and the SEV-SNP VMSA model (what KVM measures at LAUNCH_FINISH).
///
/// The special registers are a change to the vCPU's reset state (the launcher reads `KVM_GET_SREGS` and changes
/// what is listed here); the general registers are written whole (every one not named here is 0).
public struct X86BootRegisters: Hashable, Sendable {
    /// A segment register's hidden part, field for field `struct kvm_segment`.
    public struct Segment: Hashable, Sendable {
        public var base: UInt64
        public var limit: UInt32
        public var selector: UInt16
        /// Descriptor type (4 bits): 0xb = execute/read code, accessed; 0x3 = read/write data, accessed.
        public var type: UInt8
        public var present: Bool
        public var dpl: UInt8 = 0
        /// Default operand size (D/B): 32-bit when set.
        public var db: Bool
        /// Code or data segment, as opposed to a system segment.
        public var s: Bool
        /// 64-bit code segment.
        public var l: Bool
        /// Granularity: limit counted in 4 KiB units.
        public var g: Bool
        public var avl = false

        public init(
            base: UInt64, limit: UInt32, selector: UInt16, type: UInt8, present: Bool = true, db: Bool = false, s: Bool = true,
            l: Bool = false, g: Bool = false
        ) {
            (self.base, self.limit, self.selector, self.type) = (base, limit, selector, type)
            (self.present, self.db, self.s, self.l, self.g) = (present, db, s, l, g)
        }
    }

    /// CS.
    public var code: Segment
    /// DS, ES, FS, GS and SS (all five the same).
    public var data: Segment
    /// A descriptor-table register (`struct kvm_dtable`).
    public struct Table: Hashable, Sendable {
        public var base: UInt64
        public var limit: UInt16

        public init(base: UInt64, limit: UInt16) {
            self.base = base
            self.limit = limit
        }
    }

    /// GDTR, when the boot has a GDT (protected and long mode: the boot area's).
    public var gdt: Table?
    /// CR0: replaced by `cr0` when set; otherwise the reset value with `cr0Clear` cleared.
    public var cr0: UInt64?
    public var cr0Clear: UInt64 = 0
    /// CR3, CR4 and EFER, when the boot changes them (long mode).
    public var cr3: UInt64?
    public var cr4: UInt64?
    public var efer: UInt64?

    /// The general registers: RIP, RSI, RDI, RSP and RFLAGS; every other one is 0.
    public var rip: UInt64
    public var rsi: UInt64 = 0
    public var rdi: UInt64 = 0
    public var rsp: UInt64 = 0
    public var rflags: UInt64 = 0x2

    /// The control registers (CR0, CR3, CR4, EFER) after the boot's changes to the vCPU's values `current`.
    public func controlRegisters(_ current: ControlRegisters) -> ControlRegisters {
        ControlRegisters(
            cr0: (cr0 ?? current.cr0) & ~cr0Clear, cr3: cr3 ?? current.cr3, cr4: cr4 ?? current.cr4, efer: efer ?? current.efer)
    }

    /// CR0, CR3, CR4 and EFER as `KVM_GET_SREGS` reports them.
    public struct ControlRegisters: Hashable, Sendable {
        public var cr0, cr3, cr4, efer: UInt64

        public init(cr0: UInt64, cr3: UInt64, cr4: UInt64, efer: UInt64) {
            (self.cr0, self.cr3, self.cr4, self.efer) = (cr0, cr3, cr4, efer)
        }
    }

    /// A payload's boot in `mode` at `entry`: RIP (IP in real mode, with CS holding the entry's 64 KiB segment) at
    /// the entry, RDI = the vCPU's index, RSI = the vCPU count; the boot area's flat GDT in protected and long mode,
    /// and its identity page tables in long mode.
    public static func payload(mode: X86BootArea.Mode, entry: UInt64, index: Int, count: Int) -> X86BootRegisters {
        var r: X86BootRegisters
        switch mode {
        case .real:
            let selector = UInt16(truncatingIfNeeded: (entry >> 4) & 0xF000)
            let base = UInt64(selector) << 4
            r = X86BootRegisters(
                code: Segment(base: base, limit: 0xFFFF, selector: selector, type: 0xB),
                data: Segment(base: 0, limit: 0xFFFF, selector: 0, type: 0x3), rip: entry - base)
            r.cr0Clear = 0x8000_0001  // PG | PE
        case .protected, .long:
            let long = mode == .long
            r = X86BootRegisters(
                code: Segment(base: 0, limit: 0xFFFF_FFFF, selector: X86BootArea.codeSelector, type: 0xB, db: !long, l: long, g: true),
                data: Segment(base: 0, limit: 0xFFFF_FFFF, selector: X86BootArea.dataSelector, type: 0x3, db: true, g: true),
                rip: entry)
            r.gdt = Table(base: X86BootArea.gdtAddress, limit: X86BootArea.gdtLimit)
            r.cr0 = X86BootArea.cr0ProtectedMode
            if long {
                r.cr0 = X86BootArea.cr0ProtectedMode | X86BootArea.cr0Paging
                r.cr3 = X86BootArea.pml4Address
                r.cr4 = X86BootArea.cr4PAE
                r.efer = X86BootArea.eferLongMode
            }
        }
        r.rdi = UInt64(index)
        r.rsi = UInt64(count)
        return r
    }

    /// The Linux boot protocol's 64-bit entry: long mode as above, RIP = entry, RSI = the zero page, RSP = the top
    /// of the boot area (the kernel switches to its own stack at once), every other register 0, interrupts off.
    public static func linux(entry: UInt64) -> X86BootRegisters {
        var r = payload(mode: .long, entry: entry, index: 0, count: 0)
        r.rdi = 0
        r.rsi = LinuxBootArea.zeroPage
        r.rsp = LinuxBootArea.stackTop
        return r
    }

    init(code: Segment, data: Segment, rip: UInt64) {
        (self.code, self.data, self.rip) = (code, data, rip)
    }
}
