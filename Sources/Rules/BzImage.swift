/// The parts of an x86 bzImage a launcher needs, read from its setup header (the Linux/x86 boot protocol,
/// Documentation/arch/x86/boot.rst). Bounds-checked: a truncated or corrupt image gives a reason, never a trap.
public struct BzImage: Sendable, Hashable {
    /// Offsets of the setup header fields this parser reads, in the file and in `struct boot_params` (the zero
    /// page) alike; the fields the launcher writes are `LinuxZeroPage.Offset`.
    public enum Offset {
        public static let setupSects = 0x1f1
        public static let header = 0x202
        public static let version = 0x206
        public static let loadFlags = 0x211
        public static let code32Start = 0x214
        public static let initrdAddrMax = 0x22c
        public static let kernelAlignment = 0x230
        public static let relocatableKernel = 0x234
        public static let xloadflags = 0x236
        public static let cmdlineSize = 0x238
        public static let prefAddress = 0x258
        public static let initSize = 0x260
        /// `struct boot_params` ends its setup header area here.
        public static let headerAreaEnd = 0x290
    }

    /// "HdrS", little-endian.
    public static let magic: UInt32 = 0x5372_6448
    /// The oldest protocol kvmplan boots: 2.06 (`cmdline_size`).
    public static let minimumVersion: UInt16 = 0x0206
    /// `xloadflags` XLF_KERNEL_64: the kernel has the 64-bit entry point at `code32_start` + 0x200.
    public static let xlfKernel64: UInt16 = 1 << 0
    /// `loadflags` LOADED_HIGH: the protected-mode code is loaded at 0x100000 (a bzImage, not a zImage).
    public static let loadedHigh: UInt8 = 1 << 0

    public var protocolVersion: UInt16
    /// The setup code's 512-byte sectors (`setup_sects`, 0 meaning 4).
    public var setupSectors: Int
    public var loadFlags: UInt8
    public var code32Start: UInt32
    public var initrdAddrMax: UInt32
    public var kernelAlignment: UInt32
    public var relocatable: Bool
    public var xloadflags: UInt16
    /// The longest command line, without its terminating NUL.
    public var cmdlineSize: UInt32
    public var prefAddress: UInt64
    /// The memory the kernel needs from its run address on, for decompression and its own bss.
    public var initSize: UInt32
    /// The protected-mode kernel in the file: `[kernelOffset, kernelOffset + kernelSize)`.
    public var kernelOffset: Int
    public var kernelSize: Int
    /// The setup header in the file, `[0x1f1, 0x202 + byte at 0x201)`: copied into the zero page.
    public var headerRange: Range<Int>

    public var versionText: String { "\(protocolVersion >> 8).\(String(format2: protocolVersion & 0xff))" }

    public static func parse(_ bytes: [UInt8]) -> Result<BzImage, ParseFailure> {
        func u8(_ o: Int) -> UInt8 { bytes[o] }
        func u16(_ o: Int) -> UInt16 { UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[o + $1]) << (8 * UInt32($1)) } }
        func u64(_ o: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[o + $1]) << (8 * UInt64($1)) } }
        guard bytes.count >= Offset.header + 4, u32(Offset.header) == magic else {
            return .failure(ParseFailure("not a bzImage (no \"HdrS\" boot-protocol magic at 0x202)"))
        }
        guard bytes.count >= Offset.version + 2 else { return .failure(ParseFailure("truncated bzImage setup header")) }
        let version = u16(Offset.version)
        let shown = "\(version >> 8).\(String(format2: version & 0xff))"
        guard version >= minimumVersion else {
            return .failure(ParseFailure("boot protocol \(shown) is older than 2.06, the oldest kvmplan boots"))
        }
        // The header's end is given by the jump at 0x200; every field read below lies before init_size's end.
        let headerEnd = Offset.header + Int(bytes[0x201])
        guard version >= 0x020c else {
            return .failure(
                ParseFailure("boot protocol \(shown) declares no 64-bit entry point (xloadflags needs 2.12); kvmplan enters the kernel in 64-bit mode"))
        }
        guard bytes.count >= Offset.initSize + 4 else {
            return .failure(ParseFailure("truncated bzImage: the setup header ends at \(bytes.count) bytes"))
        }
        let loadFlags = u8(Offset.loadFlags)
        guard loadFlags & loadedHigh != 0 else {
            return .failure(ParseFailure("a zImage (loadflags LOADED_HIGH clear), not a bzImage"))
        }
        let xloadflags = u16(Offset.xloadflags)
        guard xloadflags & xlfKernel64 != 0 else {
            return .failure(ParseFailure("the kernel has no 64-bit entry point (xloadflags XLF_KERNEL_64 clear): a 32-bit kernel"))
        }
        let sects = Int(u8(Offset.setupSects))
        let setupSectors = sects == 0 ? 4 : sects
        let kernelOffset = (setupSectors + 1) * 512
        guard kernelOffset < bytes.count else {
            return .failure(
                ParseFailure("truncated bzImage: \(bytes.count) bytes, but the protected-mode kernel starts at \(kernelOffset) (setup_sects \(sects))"))
        }
        let initSize = u32(Offset.initSize)
        guard initSize > 0 else { return .failure(ParseFailure("corrupt bzImage: init_size is 0")) }
        let alignment = u32(Offset.kernelAlignment)
        let relocatable = u8(Offset.relocatableKernel) != 0
        guard !relocatable || (alignment != 0 && alignment & (alignment - 1) == 0) else {
            return .failure(ParseFailure("corrupt bzImage: kernel_alignment \(alignment) is not a power of two"))
        }
        return .success(
            BzImage(
                protocolVersion: version, setupSectors: setupSectors, loadFlags: loadFlags, code32Start: u32(Offset.code32Start),
                initrdAddrMax: u32(Offset.initrdAddrMax), kernelAlignment: alignment, relocatable: relocatable,
                xloadflags: xloadflags, cmdlineSize: u32(Offset.cmdlineSize), prefAddress: u64(Offset.prefAddress),
                initSize: initSize, kernelOffset: kernelOffset, kernelSize: bytes.count - kernelOffset,
                headerRange: Offset.setupSects..<max(Offset.initSize + 4, min(headerEnd, Offset.headerAreaEnd, bytes.count))))
    }

    public struct ParseFailure: Error, Hashable, Sendable {
        public var reason: String
        init(_ reason: String) { self.reason = reason }
    }
}

extension String {
    /// Two decimal digits: boot protocol minor versions are written 2.06, 2.15.
    init(format2 value: UInt16) { self = value < 10 ? "0\(value)" : "\(value)" }
}
