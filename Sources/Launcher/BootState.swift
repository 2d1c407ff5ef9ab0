import GuestLayout
import KVM

/// The x86 boot state the launcher gives a vCPU (DESIGN §7; the guest ABI in Examples/guests/README.md): the
/// registers of each boot mode. The boot area it writes into guest memory first (GDT, identity page tables) and
/// every address here come from the guest layout (`X86BootArea`, `LinuxBootArea`). Pure: it computes register
/// values; the executor writes them.
public enum BootState {
    public typealias Mode = X86BootArea.Mode

    /// The boot area's contents for `mode`, given the guest's RAM ranges (`X86BootArea.writes`).
    public static func bootArea(mode: Mode, ram: [(gpa: UInt64, size: UInt64)], hugePages1G: Bool) -> [X86BootArea.MemoryWrite] {
        X86BootArea.writes(mode: mode, ram: ram, hugePages1G: hugePages1G)
    }

    /// The registers of a boot (`X86BootRegisters`, the one home of their values) as KVM's structs: the special
    /// registers changed from the vCPU's reset state `base`, the general registers whole.
    public static func kvmRegisters(_ boot: X86BootRegisters, base: SpecialRegisters) -> (SpecialRegisters, Registers) {
        var s = base
        s.cs = segment(boot.code)
        for keyPath in [\SpecialRegisters.ds, \.es, \.fs, \.gs, \.ss] { s[keyPath: keyPath] = segment(boot.data) }
        if let gdt = boot.gdt { s.gdt = DescriptorTable(base: gdt.base, limit: gdt.limit) }
        let control = boot.controlRegisters(.init(cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer))
        (s.cr0, s.cr3, s.cr4, s.efer) = (control.cr0, control.cr3, control.cr4, control.efer)
        var r = Registers()
        (r.rip, r.rsi, r.rdi, r.rsp, r.rflags) = (boot.rip, boot.rsi, boot.rdi, boot.rsp, boot.rflags)
        return (s, r)
    }

    static func segment(_ x: X86BootRegisters.Segment) -> Segment {
        Segment(
            base: x.base, limit: x.limit, selector: x.selector, type: x.type, present: x.present, dpl: x.dpl, db: x.db, s: x.s,
            l: x.l, g: x.g, avl: x.avl)
    }
}
