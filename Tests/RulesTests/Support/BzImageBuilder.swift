import Rules

/// A synthetic x86 bzImage: a setup header with the boot protocol's fields at their offsets
/// (Documentation/arch/x86/boot.rst), one setup sector, then `kernelSize` bytes of "kernel".
struct BzImageBuilder {
    var version: UInt16 = 0x020f
    var setupSects: UInt8 = 1
    var loadFlags: UInt8 = 0x01
    var xloadflags: UInt16 = 0x1
    var relocatable: UInt8 = 1
    var kernelAlignment: UInt32 = 0x20_0000
    var cmdlineSize: UInt32 = 2047
    var initrdAddrMax: UInt32 = 0x7fff_ffff
    var prefAddress: UInt64 = 0x100_0000
    var initSize: UInt32 = 0x40_0000
    var kernelSize = 4096
    var magic: UInt32 = 0x5372_6448

    var bytes: [UInt8] {
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
