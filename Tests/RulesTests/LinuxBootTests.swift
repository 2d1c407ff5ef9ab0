import Rules
import TestSupport
import Testing

/// The bzImage header reader and the Linux boot layout (Documentation/arch/x86/boot.rst).
@Suite("Linux boot")
struct LinuxBootTests {
    @Test("a synthetic bzImage's header fields are read from their boot-protocol offsets")
    func header() throws {
        let bytes = BzImageBuilder(cmdlineSize: 4095, initrdAddrMax: 0x3fff_ffff, prefAddress: 0x200_0000, initSize: 0x123_4000).bytes
        let image = try BzImage.parse(bytes).get()
        #expect(image.protocolVersion == 0x020f)
        #expect(image.versionText == "2.15")
        #expect(image.setupSectors == 1)
        #expect(image.kernelOffset == 1024)
        #expect(image.kernelSize == bytes.count - 1024)
        #expect(image.cmdlineSize == 4095)
        #expect(image.initrdAddrMax == 0x3fff_ffff)
        #expect(image.prefAddress == 0x200_0000)
        #expect(image.initSize == 0x123_4000)
        #expect(image.relocatable)
        #expect(image.headerRange == 0x1f1..<0x268)
    }

    @Test("setup_sects 0 means 4")
    func setupSectsZero() throws {
        let image = try BzImage.parse(BzImageBuilder(setupSects: 0).bytes).get()
        #expect(image.setupSectors == 4)
        #expect(image.kernelOffset == 5 * 512)
    }

    struct Bad: CustomTestStringConvertible, Sendable {
        var name: String
        var image: BzImageBuilder
        var reason: String
        var testDescription: String { name }
    }

    @Test(
        "headers kvmplan cannot boot are refused with their reason",
        arguments: [
            Bad(name: "wrong magic", image: BzImageBuilder(magic: 0x1234_5678), reason: "not a bzImage"),
            Bad(name: "protocol 2.05", image: BzImageBuilder(version: 0x0205), reason: "older than 2.06"),
            Bad(name: "protocol 2.11", image: BzImageBuilder(version: 0x020b), reason: "declares no 64-bit entry point"),
            Bad(name: "zImage", image: BzImageBuilder(loadFlags: 0), reason: "a zImage"),
            Bad(name: "32-bit kernel", image: BzImageBuilder(xloadflags: 0), reason: "no 64-bit entry point"),
            Bad(name: "init_size 0", image: BzImageBuilder(initSize: 0), reason: "init_size is 0"),
            Bad(name: "odd alignment", image: BzImageBuilder(kernelAlignment: 0x30_0000), reason: "not a power of two"),
            Bad(name: "no kernel after the setup", image: BzImageBuilder(kernelSize: 0), reason: "protected-mode kernel starts at 1024"),
        ])
    func refused(_ bad: Bad) {
        guard case .failure(let failure) = BzImage.parse(bad.image.bytes) else {
            Issue.record("parsed")
            return
        }
        #expect(failure.reason.contains(bad.reason), "\(failure.reason)")
    }

    @Test("every truncation of a bzImage is a reason, never a trap; setup_sects beyond the file too")
    func truncations() {
        let bytes = BzImageBuilder(setupSects: 30).bytes
        for length in 0..<(31 * 512 + 1) {
            let result = BzImage.parse(Array(bytes.prefix(length)))
            guard case .failure(let failure) = result else {
                Issue.record("a \(length)-byte prefix parsed")
                return
            }
            #expect(failure.reason.contains("truncated") || failure.reason.contains("not a bzImage"), "\(length): \(failure.reason)")
        }
        #expect((try? BzImage.parse(bytes).get()) != nil)
    }

    @Test("random corruption of the header area never traps")
    func corruption() {
        var rng = SplitMix64(seed: 12)
        let base = BzImageBuilder().bytes
        var parsed = 0
        for _ in 0..<3000 {
            var bytes = base
            for _ in 0..<Int(rng.next() % 8 + 1) {
                bytes[0x1f0 + Int(rng.next() % 0x80)] = UInt8(truncatingIfNeeded: rng.next())
            }
            if case .success(let image) = BzImage.parse(bytes) {
                parsed += 1
                #expect(image.kernelOffset + image.kernelSize == bytes.count)
                _ = LinuxBootLayout.compute(image: image, initrdSize: 1 << 20, ram: [.init(name: "ram", base: 0, size: 64 << 20)])
            }
        }
        #expect(parsed > 0)
    }

    // MARK: Layout

    @Test("the kernel loads at 0x100000, runs at pref_address, enters at 0x100200; the initrd goes high below initrd_addr_max")
    func layout() throws {
        let image = try BzImage.parse(BzImageBuilder(initrdAddrMax: 0x37ff_ffff).bytes).get()
        let layout = try LinuxBootLayout.compute(
            image: image, initrdSize: 0x12345, ram: [.init(name: "ram", base: 0, size: 512 << 20)]
        ).get()
        #expect(layout.kernelGPA == 0x100000)
        #expect(layout.entry == 0x100200)
        #expect(layout.kernelFileOffset == 1024)
        #expect(layout.runArea == 0x100_0000..<0x140_0000)
        // The top of the region (512 MiB) is below initrd_addr_max + 1 (0x38000000): the initrd ends at most there.
        let top: UInt64 = 0x2000_0000 - 0x12345
        #expect(layout.initrd?.gpa == top & ~UInt64(0xfff))
        #expect(layout.initrd?.size == 0x12345)
        let capped = try LinuxBootLayout.compute(
            image: image, initrdSize: 0x1000, ram: [.init(name: "ram", base: 0, size: 2 << 30)]
        ).get()
        #expect(capped.initrd?.gpa == 0x37ff_f000)
    }

    @Test("e820: RAM usable, the boot area below 0x10000 reserved, read-only regions reserved, MMIO holes absent, sorted")
    func e820() {
        let map = LinuxBootLayout.e820([
            .init(name: "high", base: 0x1_0000_0000, size: 1 << 30),
            .init(name: "ram", base: 0, size: 256 << 20),
            .init(name: "rom", base: 0xffe0_0000, size: 2 << 20, readonly: true),
        ])
        let expected: [LinuxBootLayout.E820] = [
            .init(address: 0, size: 0x10000, kind: .reserved),
            .init(address: 0x10000, size: (256 << 20) - 0x10000, kind: .ram),
            .init(address: 0xffe0_0000, size: 2 << 20, kind: .reserved),
            .init(address: 0x1_0000_0000, size: 1 << 30, kind: .ram),
        ]
        #expect(map == expected)
    }

    @Test("a region that starts above 0 keeps its whole range usable")
    func e820High() {
        let map = LinuxBootLayout.e820([.init(name: "ram", base: 0x100000, size: 0x100000)])
        let expected: [LinuxBootLayout.E820] = [.init(address: 0x100000, size: 0x100000, kind: .ram)]
        #expect(map == expected)
    }
}
