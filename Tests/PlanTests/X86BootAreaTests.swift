import GuestLayout
import Plan
import Testing

/// The one boot layout (`X86BootArea`): the compiler measures an SEV-SNP guest's boot area from its `image`,
/// the launcher writes its `writes`, the C reproducer loads its register values. Checked here against the
/// x86 facts themselves (SDM vol. 3 §3.4.5 descriptors, §4.5 4-level paging), written out independently.
struct X86BootAreaTests {
    /// A little-endian 64-bit word of `bytes` at `offset`.
    static func word(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }

    @Test func theGDTHasFlatCodeAndDataDescriptors() throws {
        let long = try #require(X86BootArea.image(mode: .long, ram: [(0, 512 << 20)]))
        // null; code: base 0, limit 0xfffff, G, L (long) or D (protected), P, DPL 0, type 0xb; data: type 0x3, D, G.
        #expect(Self.word(long, 0) == 0)
        #expect(Self.word(long, 8) == 0x00af_9b00_0000_ffff)
        #expect(Self.word(long, 16) == 0x00cf_9300_0000_ffff)
        let protected = try #require(X86BootArea.image(mode: .protected, ram: [(0, 512 << 20)]))
        #expect(protected.count == 0x1000)
        #expect(Self.word(protected, 8) == 0x00cf_9b00_0000_ffff)
        #expect(X86BootArea.codeSelector == 1 * 8 && X86BootArea.dataSelector == 2 * 8 && X86BootArea.gdtLimit == 3 * 8 - 1)
        #expect(X86BootArea.image(mode: .real, ram: [(0, 512 << 20)]) == nil)
    }

    @Test func longModeIdentityMapsRAMWithTwoMiBPages() throws {
        let image = try #require(X86BootArea.image(mode: .long, ram: [(0, 512 << 20)]))
        #expect(image.count == 0x7000)
        let base = Int(X86BootArea.start)
        #expect(Self.word(image, 0x2000 - base) == 0x3000 | 0x3)  // PML4[0] → PDPT, present | writable
        #expect(Self.word(image, 0x3000 - base) == 0x4000 | 0x3)  // PDPT[0] → first page directory
        #expect(Self.word(image, 0x3000 - base + 8) == 0)  // nothing above 1 GiB
        for i in 0..<256 {
            #expect(Self.word(image, 0x4000 - base + 8 * i) == UInt64(i) << 21 | 0x83)  // 2 MiB page, PS | W | P
        }
        #expect(Self.word(image, 0x4000 - base + 8 * 256) == 0)  // 512 MiB and up: no RAM, no mapping
    }

    @Test func ramBelowFourGiBInAnyGigabyteGetsItsDirectory() throws {
        let image = try #require(X86BootArea.image(mode: .long, ram: [(0, 2 << 20), (0xFFE0_0000, 2 << 20)]))
        let base = Int(X86BootArea.start)
        #expect(Self.word(image, 0x3000 - base + 8 * 3) == 0x7000 | 0x3)  // PDPT[3] → fourth directory at 0x7000
        #expect(Self.word(image, 0x7000 - base + 8 * 511) == 0xFFE0_0000 | 0x83)
        #expect(Self.word(image, 0x3000 - base + 8 * 1) == 0)
    }

    @Test func ramAboveFourGiBDependsOnTheHost() throws {
        // The image is what SNP measures, so it must not depend on the host: RAM above 4 GiB is mapped with 1 GiB
        // pages only when the host CPU has pdpe1gb.
        #expect(X86BootArea.image(mode: .long, ram: [(0, 8 << 30)]) == nil)
        let writes = X86BootArea.writes(mode: .long, ram: [(0, 8 << 30)], hugePages1G: true)
        let pdpt = try #require(writes.first { $0.gpa == X86BootArea.pdptAddress })
        #expect(Self.word(pdpt.bytes, 8 * 4) == 4 << 30 | 0x83)
        #expect(Self.word(pdpt.bytes, 8 * 7) == 7 << 30 | 0x83)
        #expect(Self.word(pdpt.bytes, 8 * 8) == 0)
        let without = X86BootArea.writes(mode: .long, ram: [(0, 8 << 30)], hugePages1G: false)
        #expect(Self.word(try #require(without.first { $0.gpa == X86BootArea.pdptAddress }).bytes, 8 * 4) == 0)
    }

    @Test func thePlanValidatorAndTheMapUseTheSameArea() {
        #expect(Plan.bootArea(.long) == GPARange(gpa: 0x1000, size: 0x7000))
        #expect(Plan.bootArea(.linux) == Plan.bootArea(.long))
        #expect(Plan.bootArea(.protected) == GPARange(gpa: 0x1000, size: 0x1000))
        #expect(Plan.bootArea(.real) == nil && Plan.bootArea(.el1) == nil)
        #expect(GuestMemoryMap.bootArea == Plan.bootArea(.long))
    }
}
