import KVM

/// The x86 boot state the launcher gives a vCPU (DESIGN §7; the guest ABI in Examples/guests/README.md):
/// the boot area it writes into guest memory and the registers of each boot mode. Pure: it computes
/// bytes and register values; the executor writes them.
///
/// Boot area (GPA 0x1000–0x7fff, checked free of the payload by the `payload.boot-area` rule):
/// - 0x1000 GDT: null, 0x08 code, 0x10 data (64-bit code in long mode, flat 32-bit in protected mode);
/// - 0x2000 PML4, 0x3000 PDPT, 0x4000–0x7fff four page directories identity-mapping the RAM below
///   4 GiB with 2 MiB pages; RAM above 4 GiB is mapped with 1 GiB pages when the CPU has them.
/// Only 2 MiB / 1 GiB entries that overlap RAM are written; pages of guest memory are touched only in
/// the boot area itself, so a 64 GiB guest costs no more than a 64 MiB one.
public enum BootState {
    public enum Mode: String, Sendable { case real, protected, long }

    public static let gdtAddress: UInt64 = 0x1000
    public static let pml4Address: UInt64 = 0x2000
    public static let pdptAddress: UInt64 = 0x3000
    public static let pdAddress: UInt64 = 0x4000
    public static let areaEnd: UInt64 = 0x8000

    static let present: UInt64 = 1 << 0
    static let writable: UInt64 = 1 << 1
    static let pageSize: UInt64 = 1 << 7

    /// A write the launcher performs into guest memory before the first KVM_RUN.
    public struct MemoryWrite: Sendable, Hashable {
        public var gpa: UInt64
        public var bytes: [UInt8]
    }

    /// The boot area's contents for `mode`, given the guest's RAM ranges.
    public static func bootArea(mode: Mode, ram: [(gpa: UInt64, size: UInt64)], hugePages1G: Bool) -> [MemoryWrite] {
        switch mode {
        case .real: return []
        case .protected:
            return [MemoryWrite(gpa: gdtAddress, bytes: gdt(long: false))]
        case .long:
            var writes = [MemoryWrite(gpa: gdtAddress, bytes: gdt(long: true))]
            var pml4 = [UInt64](repeating: 0, count: 512)
            var pdpt = [UInt64](repeating: 0, count: 512)
            pml4[0] = pdptAddress | present | writable
            var directories = [[UInt64]](repeating: [UInt64](repeating: 0, count: 512), count: 4)
            for range in ram where range.size > 0 {
                let end = range.gpa &+ range.size
                // 2 MiB pages below 4 GiB.
                var page = range.gpa & ~((2 << 20) - 1)
                while page < min(end, 4 << 30) {
                    let gib = Int(page >> 30)
                    let index = Int((page >> 21) & 511)
                    directories[gib][index] = page | present | writable | pageSize
                    pdpt[gib] = (pdAddress + UInt64(gib) * 0x1000) | present | writable
                    page += 2 << 20
                }
                // 1 GiB pages from 4 GiB to 512 GiB.
                if hugePages1G {
                    var gib = max(4, range.gpa >> 30)
                    while gib < 512 && gib << 30 < end {
                        pdpt[Int(gib)] = (gib << 30) | present | writable | pageSize
                        gib += 1
                    }
                }
            }
            writes.append(MemoryWrite(gpa: pml4Address, bytes: bytes(pml4)))
            writes.append(MemoryWrite(gpa: pdptAddress, bytes: bytes(pdpt)))
            for (gib, directory) in directories.enumerated() where pdpt[gib] & pageSize == 0 && pdpt[gib] != 0 {
                writes.append(MemoryWrite(gpa: pdAddress + UInt64(gib) * 0x1000, bytes: bytes(directory)))
            }
            return writes
        }
    }

    static func gdt(long: Bool) -> [UInt8] {
        let code: UInt64 = long ? 0x00af_9b00_0000_ffff : 0x00cf_9b00_0000_ffff
        let data: UInt64 = 0x00cf_9300_0000_ffff
        return bytes([0, code, data])
    }

    static func bytes(_ words: [UInt64]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(words.count * 8)
        for w in words {
            for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: w >> (8 * UInt64(i)))) }
        }
        return out
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
            s.gdt = DescriptorTable(base: gdtAddress, limit: 3 * 8 - 1)
            s.cs = Segment(
                base: 0, limit: 0xFFFF_FFFF, selector: 0x08, type: 0xB, present: true, db: !long, s: true, l: long, g: true)
            let data = Segment(base: 0, limit: 0xFFFF_FFFF, selector: 0x10, type: 0x3, present: true, db: true, s: true, g: true)
            for keyPath in [\SpecialRegisters.ds, \.es, \.fs, \.gs, \.ss] { s[keyPath: keyPath] = data }
            s.cr0 = 0x1 | 0x10  // PE | ET
            if long {
                s.cr0 |= 0x8000_0000  // PG
                s.cr3 = pml4Address
                s.cr4 = 0x20  // PAE
                s.efer = 0x500  // LME | LMA
            }
        }
        return s
    }

    /// The Linux boot protocol's 64-bit entry: RIP = entry, RSI = the zero page (0x8000), RSP = 0x10000 (the
    /// top of the boot area; the kernel switches to its own stack at once), everything else 0, interrupts off.
    public static let linuxZeroPage: UInt64 = 0x8000
    public static let linuxStackTop: UInt64 = 0x10000

    public static func linuxRegisters(entry: UInt64) -> Registers {
        var r = Registers()
        r.rip = entry
        r.rsi = linuxZeroPage
        r.rsp = linuxStackTop
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
