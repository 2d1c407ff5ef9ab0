/// The x86 boot area the launcher writes into guest memory for protected- and long-mode payloads: the one home
/// of its addresses and contents, used by the rules (what must stay free), the plan (the SNP launch digest, the
/// memory map, the C reproducer's registers) and the launcher (which writes it). DESIGN §7; the guest ABI in
/// Examples/guests/README.md.
///
/// - 0x1000 GDT: null, 0x08 code, 0x10 data (64-bit code in long mode, flat 32-bit in protected mode);
/// - 0x2000 PML4, 0x3000 PDPT, 0x4000–0x7fff four page directories identity-mapping the RAM below 4 GiB with
///   2 MiB pages; RAM above 4 GiB is mapped with 1 GiB pages when the CPU has them.
/// Only 2 MiB / 1 GiB entries that overlap RAM are written; pages of guest memory are touched only in the boot
/// area itself, so a 64 GiB guest costs no more than a 64 MiB one.
public enum X86BootArea {
    /// The modes with a boot area (real mode has none).
    public enum Mode: String, CaseIterable, Hashable, Sendable {
        case real
        case protected
        case long
    }

    public static let start: UInt64 = 0x1000
    public static let end: UInt64 = 0x8000

    public static let gdtAddress: UInt64 = 0x1000
    public static let pml4Address: UInt64 = 0x2000
    public static let pdptAddress: UInt64 = 0x3000
    public static let pdAddress: UInt64 = 0x4000

    /// The GDT's selectors and limit (three 8-byte descriptors).
    public static let codeSelector: UInt16 = 0x08
    public static let dataSelector: UInt16 = 0x10
    public static let gdtLimit: UInt16 = 3 * 8 - 1

    /// Control-register values of the protected and long modes.
    public static let cr0ProtectedMode: UInt64 = 0x1 | 0x10  // PE | ET
    public static let cr0Paging: UInt64 = 0x8000_0000  // PG
    public static let cr4PAE: UInt64 = 0x20
    public static let eferLongMode: UInt64 = 0x500  // LME | LMA

    static let present: UInt64 = 1 << 0
    static let writable: UInt64 = 1 << 1
    static let pageSize: UInt64 = 1 << 7

    /// The part of the boot area the launcher writes in `mode`: the GDT page (protected), GDT and page tables
    /// (long), nothing (real).
    public static func range(_ mode: Mode) -> Range<UInt64>? {
        switch mode {
        case .real: nil
        case .protected: start..<0x2000
        case .long: start..<end
        }
    }

    /// A write the launcher performs into guest memory before the first KVM_RUN.
    public struct MemoryWrite: Sendable, Hashable {
        public var gpa: UInt64
        public var bytes: [UInt8]

        public init(gpa: UInt64, bytes: [UInt8]) {
            self.gpa = gpa
            self.bytes = bytes
        }
    }

    /// The boot area's contents for `mode`, given the guest's RAM ranges.
    public static func writes(mode: Mode, ram: [(gpa: UInt64, size: UInt64)], hugePages1G: Bool) -> [MemoryWrite] {
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

    /// The boot area `range(mode)` as one byte array (unwritten bytes zero), as SEV-SNP measures it; nil in real
    /// mode, and when the contents depend on the host (RAM above 4 GiB is mapped with 1 GiB pages only when the
    /// host CPU has them).
    public static func image(mode: Mode, ram: [(gpa: UInt64, size: UInt64)]) -> [UInt8]? {
        guard let area = range(mode) else { return nil }
        if mode == .long && ram.contains(where: { $0.gpa &+ $0.size > 1 << 32 }) { return nil }
        var out = [UInt8](repeating: 0, count: Int(area.upperBound - area.lowerBound))
        for write in writes(mode: mode, ram: ram, hugePages1G: false) {
            let offset = Int(write.gpa - area.lowerBound)
            out.replaceSubrange(offset..<offset + write.bytes.count, with: write.bytes)
        }
        return out
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
}

/// The fixed addresses of a Linux guest's boot (the launcher's side of the Linux/x86 boot protocol), in the
/// lowest RAM region (GPA 0x1000–0xffff, e820-reserved): the boot area as above at 0x1000–0x7fff, the zero page
/// (`struct boot_params`, RSI at entry) at 0x8000, the command line at 0x9000, the initial stack up to 0x10000.
/// The protected-mode kernel is loaded at 0x100000 and entered at its 64-bit entry 0x200 bytes in.
public enum LinuxBootArea {
    public static let start: UInt64 = 0x1000
    public static let zeroPage: UInt64 = 0x8000
    public static let cmdline: UInt64 = 0x9000
    /// The command-line buffer's size, NUL included (0x9000–0xcfff).
    public static let cmdlineLimit: UInt64 = 0x4000
    public static let stackTop: UInt64 = 0x10000
    public static let end: UInt64 = 0x10000
    public static let kernelLoad: UInt64 = 0x100000
    /// The 64-bit entry point's offset from the protected-mode kernel's start (boot.rst, "64-bit boot protocol").
    public static let entryOffset: UInt64 = 0x200
    /// `KVM_SET_IDENTITY_MAP_ADDR` (one page) and `KVM_SET_TSS_ADDR` (three pages): Intel VMX needs both outside
    /// RAM, below 4 GiB; QEMU and Firecracker use the same addresses.
    public static let identityMapAddress: UInt64 = 0xfffb_c000
    public static let tssAddress: UInt64 = 0xfffb_d000
    public static let vmxPagesEnd: UInt64 = 0xfffc_0000
}

/// A firmware payload (`format: firmware`): a flat image that ends at 4 GiB, entered at the x86 reset vector.
public enum Firmware {
    /// One past the image's last byte.
    public static let end: UInt64 = 1 << 32
    /// Where an x86 vCPU starts after reset (CS base 0xffff0000 + IP 0xfff0; a TD's only start).
    public static let resetVector: UInt64 = 0xffff_fff0
}
