import Plan
import Testing

/// The zero page against the field offsets of Documentation/arch/x86/boot.rst and zero-page.rst.
struct LinuxZeroPageTests {
    /// A kernel image whose setup header (0x1f1 …) has recognisable bytes and ends at 0x202 + 0x66 = 0x268.
    static func image() -> [UInt8] {
        var b = [UInt8](repeating: 0xee, count: 0x1000)
        for i in 0x1f1..<0x268 { b[i] = UInt8(truncatingIfNeeded: i) }
        b[0x201] = 0x66
        b[0x210] = 0  // type_of_loader in the image
        return b
    }

    func u32(_ page: [UInt8], _ offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(page[offset + $1]) << (8 * UInt32($1)) }
    }

    func u64(_ page: [UInt8], _ offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(page[offset + $1]) << (8 * UInt64($1)) }
    }

    @Test("setup header copied, loader fields at their offsets, e820 table at 0x2d0")
    func fields() throws {
        let e820 = [
            E820Entry(address: 0, size: 0x10000, kind: .reserved),
            E820Entry(address: 0x10000, size: 0x1_2345_0000, kind: .ram),
        ]
        let page = try #require(
            LinuxZeroPage.build(
                image: Self.image(), cmdlineGPA: 0x1_0000_9000, initrd: GPARange(gpa: 0x2_0000_1000, size: 0x1_0000_0042), e820: e820))
        #expect(page.count == 4096)
        #expect(page[0x1f1] == 0xf1)
        #expect(page[0x267] == 0x67)
        #expect(page[0x268..<0x290].allSatisfy { $0 == 0 }, "the image's bytes after its header are not copied")
        #expect(page[0x210] == 0xff, "type_of_loader: undefined")
        #expect(u32(page, 0x228) == 0x9000, "cmd_line_ptr")
        #expect(u32(page, 0x0c8) == 0x1, "ext_cmd_line_ptr")
        #expect(u32(page, 0x218) == 0x1000, "ramdisk_image")
        #expect(u32(page, 0x0c0) == 0x2, "ext_ramdisk_image")
        #expect(u32(page, 0x21c) == 0x42, "ramdisk_size")
        #expect(u32(page, 0x0c4) == 0x1, "ext_ramdisk_size")
        #expect(page[0x1e8] == 2, "e820_entries")
        #expect(u64(page, 0x2d0) == 0 && u64(page, 0x2d8) == 0x10000 && u32(page, 0x2e0) == 2)
        #expect(u64(page, 0x2e4) == 0x10000 && u64(page, 0x2ec) == 0x1_2345_0000 && u32(page, 0x2f4) == 1)
        #expect(page[0..<0x1e8].allSatisfy { $0 == 0 } == false)  // ext_* fields are set
        #expect(page[0x2f8..<4096].allSatisfy { $0 == 0 })
    }

    @Test("without an initrd the ramdisk fields stay 0")
    func noInitrd() throws {
        let page = try #require(LinuxZeroPage.build(image: Self.image(), cmdlineGPA: 0x9000, initrd: nil, e820: []))
        #expect(u32(page, 0x218) == 0 && u32(page, 0x21c) == 0 && page[0x1e8] == 0)
    }

    @Test("an image too short for its header, or more than 128 e820 entries, builds nothing")
    func refusals() {
        #expect(LinuxZeroPage.build(image: Array(Self.image().prefix(0x250)), cmdlineGPA: 0x9000, initrd: nil, e820: []) == nil)
        #expect(LinuxZeroPage.build(image: [], cmdlineGPA: 0x9000, initrd: nil, e820: []) == nil)
        let many = [E820Entry](repeating: E820Entry(address: 0, size: 4096, kind: .ram), count: 129)
        #expect(LinuxZeroPage.build(image: Self.image(), cmdlineGPA: 0x9000, initrd: nil, e820: many) == nil)
    }
}
