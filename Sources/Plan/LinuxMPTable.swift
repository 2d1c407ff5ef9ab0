/// An Intel MultiProcessor Specification 1.4 table for a Linux guest (what Linux's `mpparse.c` reads when a
/// machine has no ACPI MADT): a floating pointer at `gpa` ("_MP_", in the last KiB of base memory, where
/// Linux scans), then the configuration table ("PCMP") with one processor entry per vCPU (local APIC id =
/// vCPU index, vCPU 0 the boot processor), the ISA bus, KVM's in-kernel IOAPIC (at 0xfec00000, id = vCPU
/// count) with ISA IRQs 0–15 on its pins 0–15 (KVM's default GSI routing), ExtINT on LINT0 and NMI on LINT1.
/// The same layout as Firecracker's `mptable.rs`. Pure; the `mp-table` step writes the bytes.
public enum LinuxMPTable {
    /// The last KiB of base memory below 640 KiB (the EBDA), the second place Linux scans.
    public static let defaultAddress: UInt64 = 0x9_fc00
    public static let localAPICAddress: UInt32 = 0xfee0_0000
    public static let ioAPICAddress: UInt32 = 0xfec0_0000
    /// With 1 KiB for the whole table: 16 (pointer) + 44 (header) + 20 per processor + 8 (bus) + 8 (IOAPIC)
    /// + 16 × 8 (ISA IRQs) + 2 × 8 (LINT0, LINT1) ≤ 1024.
    public static let maxCPUs: UInt32 = 32
    public static let isaIRQs: UInt8 = 16

    /// The table's bytes for `cpus` vCPUs, the floating pointer first; nil for 0 or more than `maxCPUs`.
    public static func build(cpus: UInt32, at gpa: UInt64) -> [UInt8]? {
        guard (1...maxCPUs).contains(cpus), let base = UInt32(exactly: gpa + 16) else { return nil }
        var table: [UInt8] = []
        func u8(_ v: UInt8) { table.append(v) }
        func u16(_ v: UInt16) { table += [UInt8(v & 0xff), UInt8(v >> 8)] }
        func u32(_ v: UInt32) { for i in 0..<4 { table.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
        func text(_ s: String, _ width: Int) { table += Array(s.utf8.prefix(width)) + [UInt8](repeating: 0x20, count: max(0, width - s.utf8.count)) }
        let ioAPICID = UInt8(cpus)
        // Header, entry count and length filled in below.
        text("PCMP", 4); u16(0); u8(4); u8(0); text("KVMPLAN", 8); text("LINUX GUEST", 12)
        u32(0); u16(0); u16(0); u32(localAPICAddress); u16(0); u8(0); u8(0)
        var entries: UInt16 = 0
        for cpu in 0..<cpus {
            u8(0)  // processor
            u8(UInt8(cpu)); u8(0x14)  // local APIC id, version (integrated)
            u8(cpu == 0 ? 0x3 : 0x1)  // enabled, boot processor
            u32(0x600); u32(0x201)  // signature (family 6), features (FPU, APIC)
            u32(0); u32(0)
            entries += 1
        }
        u8(1); u8(0); text("ISA", 6)  // bus 0: ISA
        u8(2); u8(ioAPICID); u8(0x11); u8(1); u32(ioAPICAddress)  // IOAPIC: version 0x11, enabled
        entries += 2
        for irq in 0..<isaIRQs {
            u8(3); u8(0); u16(0); u8(0); u8(irq); u8(ioAPICID); u8(irq)  // INT, conforming, ISA irq → pin
            entries += 1
        }
        u8(4); u8(3); u16(0); u8(0); u8(0); u8(0); u8(0)  // ExtINT → LINT0 of the boot processor
        u8(4); u8(1); u16(0); u8(0); u8(0); u8(0xff); u8(1)  // NMI → LINT1 of every processor
        entries += 2
        table[4] = UInt8(table.count & 0xff)
        table[5] = UInt8(table.count >> 8)
        table[34] = UInt8(entries & 0xff)
        table[35] = UInt8(entries >> 8)
        table[7] = checksum(table)
        var pointer: [UInt8] = Array("_MP_".utf8)
        for i in 0..<4 { pointer.append(UInt8(truncatingIfNeeded: base >> (8 * UInt32(i)))) }
        pointer += [1, 4, 0, 0, 0, 0, 0, 0]  // length 1 (16 bytes), spec 1.4, checksum, features: table present
        pointer[10] = checksum(pointer)
        return pointer + table
    }

    /// The byte that makes the sum of `bytes` zero (mod 256), given that byte is 0 now.
    static func checksum(_ bytes: [UInt8]) -> UInt8 {
        UInt8(truncatingIfNeeded: 256 - Int(bytes.reduce(UInt8(0), &+)))
    }
}
