/// A synthetic x86 bzImage: a setup header with the boot protocol's fields at their offsets
/// (Documentation/arch/x86/boot.rst), one setup sector, then `kernelSize` bytes of "kernel".
public struct BzImageBuilder: Sendable {
    public var version: UInt16 = 0x020f
    public var setupSects: UInt8 = 1
    public var loadFlags: UInt8 = 0x01
    public var xloadflags: UInt16 = 0x1
    public var relocatable: UInt8 = 1
    public var kernelAlignment: UInt32 = 0x20_0000
    public var cmdlineSize: UInt32 = 2047
    public var initrdAddrMax: UInt32 = 0x7fff_ffff
    public var prefAddress: UInt64 = 0x100_0000
    public var initSize: UInt32 = 0x40_0000
    public var kernelSize = 4096
    public var magic: UInt32 = 0x5372_6448

    public init(
        version: UInt16 = 0x020f, setupSects: UInt8 = 1, loadFlags: UInt8 = 0x01, xloadflags: UInt16 = 0x1, relocatable: UInt8 = 1,
        kernelAlignment: UInt32 = 0x20_0000, cmdlineSize: UInt32 = 2047, initrdAddrMax: UInt32 = 0x7fff_ffff,
        prefAddress: UInt64 = 0x100_0000, initSize: UInt32 = 0x40_0000, kernelSize: Int = 4096, magic: UInt32 = 0x5372_6448
    ) {
        (self.version, self.setupSects, self.loadFlags, self.xloadflags, self.relocatable) = (version, setupSects, loadFlags, xloadflags, relocatable)
        (self.kernelAlignment, self.cmdlineSize, self.initrdAddrMax) = (kernelAlignment, cmdlineSize, initrdAddrMax)
        (self.prefAddress, self.initSize, self.kernelSize, self.magic) = (prefAddress, initSize, kernelSize, magic)
    }

    public var bytes: [UInt8] {
        var b = [UInt8](repeating: 0, count: (Int(setupSects == 0 ? 4 : setupSects) + 1) * 512 + kernelSize)
        func put(_ offset: Int, _ value: UInt64, _ width: Int) {
            for i in 0..<width { b[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        }
        put(0x1f1, UInt64(setupSects), 1)
        put(0x1fe, 0xAA55, 2)
        put(0x200, 0xEB, 1)  // jmp short: the header ends at 0x202 + 0x66 = 0x268
        put(0x201, 0x66, 1)
        put(0x202, UInt64(magic), 4)
        put(0x206, UInt64(version), 2)
        put(0x211, UInt64(loadFlags), 1)
        put(0x214, 0x100000, 4)
        put(0x22c, UInt64(initrdAddrMax), 4)
        put(0x230, UInt64(kernelAlignment), 4)
        put(0x234, UInt64(relocatable), 1)
        put(0x236, UInt64(xloadflags), 2)
        put(0x238, UInt64(cmdlineSize), 4)
        put(0x258, prefAddress, 8)
        put(0x260, UInt64(initSize), 4)
        for i in (Int(setupSects == 0 ? 4 : setupSects) + 1) * 512..<b.count { b[i] = UInt8(truncatingIfNeeded: i) }
        return b
    }
}
