/// The Linux/x86 boot protocol's zero page (`struct boot_params`, Documentation/arch/x86/boot.rst and
/// zero-page.rst), as the `boot-params` step writes it: one 4 KiB page, all zero but for the setup header
/// copied from the kernel image and the fields a boot loader fills in. Pure; the launcher writes the bytes.
public enum LinuxZeroPage {
    /// Offsets in `struct boot_params`.
    public enum Offset {
        public static let extRamdiskImage = 0x0c0
        public static let extRamdiskSize = 0x0c4
        public static let extCmdLinePtr = 0x0c8
        public static let e820Entries = 0x1e8
        public static let setupHeader = 0x1f1
        public static let jumpOffset = 0x201
        public static let headerStart = 0x202
        public static let typeOfLoader = 0x210
        public static let ramdiskImage = 0x218
        public static let ramdiskSize = 0x21c
        public static let cmdLinePtr = 0x228
        /// The setup header area ends here (then `edd_mbr_sig_buffer`).
        public static let headerAreaEnd = 0x290
        public static let e820Table = 0x2d0
    }

    public static let size = 4096
    /// `E820_MAX_ENTRIES_ZEROPAGE`.
    public static let maxE820Entries = 128
    /// `type_of_loader` 0xff: "undefined" boot loader.
    public static let undefinedLoader: UInt8 = 0xff

    /// The setup header's bytes in a kernel image: `[0x1f1, 0x202 + image[0x201])`, bounded by the header area.
    /// Nil when the image is too short to hold it.
    public static func setupHeader(of image: [UInt8]) -> ArraySlice<UInt8>? {
        guard image.count > Offset.jumpOffset else { return nil }
        let end = min(Offset.headerStart + Int(image[Offset.jumpOffset]), Offset.headerAreaEnd)
        guard end <= image.count else { return nil }
        return image[Offset.setupHeader..<end]
    }

    /// The zero page for `image` (a bzImage): its setup header, `type_of_loader`, the command line's address,
    /// the initrd's address and size, and the e820 map (at most 128 entries; more is a programming error the
    /// lowering prevents).
    public static func build(image: [UInt8], cmdlineGPA: UInt64, initrd: GPARange?, e820: [E820Entry]) -> [UInt8]? {
        guard let header = setupHeader(of: image), e820.count <= maxE820Entries else { return nil }
        var page = [UInt8](repeating: 0, count: size)
        page.replaceSubrange(Offset.setupHeader..<Offset.setupHeader + header.count, with: header)
        page[Offset.typeOfLoader] = undefinedLoader
        put(&page, Offset.cmdLinePtr, UInt32(truncatingIfNeeded: cmdlineGPA))
        put(&page, Offset.extCmdLinePtr, UInt32(truncatingIfNeeded: cmdlineGPA >> 32))
        // Written even without an initrd: the image's own header must not claim one.
        let ramdisk = initrd ?? GPARange(gpa: 0, size: 0)
        put(&page, Offset.ramdiskImage, UInt32(truncatingIfNeeded: ramdisk.gpa))
        put(&page, Offset.extRamdiskImage, UInt32(truncatingIfNeeded: ramdisk.gpa >> 32))
        put(&page, Offset.ramdiskSize, UInt32(truncatingIfNeeded: ramdisk.size))
        put(&page, Offset.extRamdiskSize, UInt32(truncatingIfNeeded: ramdisk.size >> 32))
        page[Offset.e820Entries] = UInt8(e820.count)
        for (n, entry) in e820.enumerated() {
            let at = Offset.e820Table + 20 * n
            put(&page, at, UInt32(truncatingIfNeeded: entry.address))
            put(&page, at + 4, UInt32(truncatingIfNeeded: entry.address >> 32))
            put(&page, at + 8, UInt32(truncatingIfNeeded: entry.size))
            put(&page, at + 12, UInt32(truncatingIfNeeded: entry.size >> 32))
            put(&page, at + 16, entry.kind.value)
        }
        return page
    }

    static func put(_ page: inout [UInt8], _ offset: Int, _ value: UInt32) {
        for i in 0..<4 { page[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
    }
}
