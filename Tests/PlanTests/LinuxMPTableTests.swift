import Plan
import Testing

/// The MP table against the Intel MultiProcessor Specification 1.4 (chapter 4) and what Linux's mpparse.c
/// checks: signatures, lengths, checksums, one processor entry per vCPU, the IOAPIC and its 16 ISA routes.
struct LinuxMPTableTests {
    func u16(_ b: [UInt8], _ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
    func u32(_ b: [UInt8], _ o: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[o + $1]) << (8 * UInt32($1)) } }

    @Test("floating pointer and configuration table: signatures, pointers, lengths, checksums", arguments: [1, 2, 32] as [UInt32])
    func structure(_ cpus: UInt32) throws {
        let bytes = try #require(LinuxMPTable.build(cpus: cpus, at: 0x9_fc00))
        #expect(bytes.count <= 1024, "fits the last KiB of base memory")
        #expect(Array(bytes[0..<4]) == Array("_MP_".utf8))
        #expect(u32(bytes, 4) == 0x9_fc10, "the configuration table follows the pointer")
        #expect(bytes[8] == 1 && bytes[9] == 4)
        #expect(bytes[0..<16].reduce(UInt8(0), &+) == 0, "pointer checksum")
        let table = Array(bytes[16...])
        #expect(Array(table[0..<4]) == Array("PCMP".utf8))
        #expect(u16(table, 4) == table.count, "base table length")
        #expect(table.reduce(UInt8(0), &+) == 0, "table checksum")
        #expect(u32(table, 36) == 0xfee0_0000, "local APIC address")
        #expect(u16(table, 34) == Int(cpus) + 2 + 16 + 2, "entries: processors, bus, IOAPIC, 16 IRQs, LINT0/1")
        // Processor entries first: APIC id = index, vCPU 0 the boot processor.
        for cpu in 0..<Int(cpus) {
            let e = 44 + 20 * cpu
            #expect(table[e] == 0 && table[e + 1] == UInt8(cpu) && table[e + 3] == (cpu == 0 ? 3 : 1))
        }
        let bus = 44 + 20 * Int(cpus)
        #expect(table[bus] == 1 && Array(table[bus + 2..<bus + 8]) == Array("ISA   ".utf8))
        let ioapic = bus + 8
        #expect(table[ioapic] == 2 && table[ioapic + 1] == UInt8(cpus) && u32(table, ioapic + 4) == 0xfec0_0000)
        for irq in 0..<16 {
            let e = ioapic + 8 + 8 * irq
            #expect(table[e] == 3 && table[e + 5] == UInt8(irq) && table[e + 6] == UInt8(cpus) && table[e + 7] == UInt8(irq))
        }
    }

    @Test("0 or more than 32 processors build nothing")
    func limits() {
        #expect(LinuxMPTable.build(cpus: 0, at: 0x9_fc00) == nil)
        #expect(LinuxMPTable.build(cpus: 33, at: 0x9_fc00) == nil)
    }
}
