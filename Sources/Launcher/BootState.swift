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

    /// Special registers for `mode`, starting from the vCPU's reset state `base`.
    public static func specialRegisters(mode: Mode, entry: UInt64, base: SpecialRegisters) -> SpecialRegisters {
        var s = base
        switch mode {
        case .real:
            let selector = UInt16(truncatingIfNeeded: (entry >> 4) & 0xF000)
            s.cs = Segment(base: UInt64(selector) << 4, limit: 0xFFFF, selector: selector, type: 0xB, present: true, s: true)
            for keyPath in [\SpecialRegisters.ds, \.es, \.fs, \.gs, \.ss] {
                s[keyPath: keyPath] = Segment(base: 0, limit: 0xFFFF, selector: 0, type: 0x3, present: true, s: true)
            }
            s.cr0 &= ~UInt64(0x8000_0001)
        case .protected, .long:
            let long = mode == .long
            s.gdt = DescriptorTable(base: X86BootArea.gdtAddress, limit: X86BootArea.gdtLimit)
            s.cs = Segment(
                base: 0, limit: 0xFFFF_FFFF, selector: X86BootArea.codeSelector, type: 0xB, present: true, db: !long, s: true,
                l: long, g: true)
            let data = Segment(
                base: 0, limit: 0xFFFF_FFFF, selector: X86BootArea.dataSelector, type: 0x3, present: true, db: true, s: true, g: true)
            for keyPath in [\SpecialRegisters.ds, \.es, \.fs, \.gs, \.ss] { s[keyPath: keyPath] = data }
            s.cr0 = X86BootArea.cr0ProtectedMode
            if long {
                s.cr0 |= X86BootArea.cr0Paging
                s.cr3 = X86BootArea.pml4Address
                s.cr4 = X86BootArea.cr4PAE
                s.efer = X86BootArea.eferLongMode
            }
        }
        return s
    }

    /// The Linux boot protocol's 64-bit entry: RIP = entry, RSI = the zero page (0x8000), RSP = 0x10000 (the
    /// top of the boot area; the kernel switches to its own stack at once), everything else 0, interrupts off.
    public static func linuxRegisters(entry: UInt64) -> Registers {
        var r = Registers()
        r.rip = entry
        r.rsi = LinuxBootArea.zeroPage
        r.rsp = LinuxBootArea.stackTop
        r.rflags = 0x2
        return r
    }

    /// General registers: RIP (IP in real mode) at the entry, RDI = vCPU index, RSI = vCPU count.
    public static func registers(mode: Mode, entry: UInt64, index: Int, count: Int) -> Registers {
        var r = Registers()
        r.rip = mode == .real ? entry - ((entry >> 4) & 0xF000) << 4 : entry
        r.rdi = UInt64(index)
        r.rsi = UInt64(count)
        r.rflags = 0x2
        return r
    }
}
