import GuestLayout

/// Where a Linux guest's pieces go in guest memory (the launcher's side of the Linux/x86 boot protocol).
/// Pure, shared by the rules (which report what does not fit) and the lowering (which places it).
///
/// Fixed layout in the lowest RAM region (the Linux boot area, GPA 0x1000–0xffff, e820-reserved):
/// - 0x1000–0x7fff: GDT and identity page tables, as for every long-mode payload;
/// - 0x8000: the zero page (`struct boot_params`), RSI at entry;
/// - 0x9000: the command line (at most `cmdlineLimit` bytes with its NUL);
/// - 0xd000–0xffff: the initial stack (RSP = 0x10000).
/// The protected-mode kernel is loaded at 0x100000 and entered at 0x100200 (its 64-bit entry); it
/// decompresses itself into `[pref_address, pref_address + init_size)`. The initrd goes as high as it can
/// below `initrd_addr_max` in the kernel's region, page-aligned, above the kernel's run area.
public struct LinuxBootLayout: Sendable, Hashable {
    /// A piece of RAM the layout uses: the region's name and bounds.
    public struct RAM: Sendable, Hashable {
        public var name: String
        public var base: UInt64
        public var size: UInt64
        public var readonly: Bool
        public init(name: String, base: UInt64, size: UInt64, readonly: Bool = false) {
            (self.name, self.base, self.size, self.readonly) = (name, base, size, readonly)
        }
        public var end: UInt64 { base &+ size }
    }

    /// One `struct boot_e820_entry`.
    public struct E820: Sendable, Hashable {
        public enum Kind: UInt32, Sendable { case ram = 1, reserved = 2 }
        public var address: UInt64
        public var size: UInt64
        public var kind: Kind
        public init(address: UInt64, size: UInt64, kind: Kind) { (self.address, self.size, self.kind) = (address, size, kind) }
    }

    public var kernelGPA: UInt64
    public var kernelFileOffset: UInt64
    public var kernelSize: UInt64
    /// Where the kernel decompresses and runs: `[pref_address, pref_address + init_size)`.
    public var runArea: Range<UInt64>
    public var initrd: (gpa: UInt64, size: UInt64)?
    public var entry: UInt64 { kernelGPA + LinuxBootArea.entryOffset }
    public var e820: [E820]

    public static func == (a: LinuxBootLayout, b: LinuxBootLayout) -> Bool {
        a.kernelGPA == b.kernelGPA && a.kernelSize == b.kernelSize && a.runArea == b.runArea
            && a.initrd?.gpa == b.initrd?.gpa && a.initrd?.size == b.initrd?.size && a.e820 == b.e820
    }
    public func hash(into h: inout Hasher) { h.combine(kernelGPA); h.combine(runArea); h.combine(initrd?.gpa) }

    /// What keeps a layout from being built, with the rule that reports it.
    public enum Problem: Error, Sendable, Hashable {
        /// `payload.linux-placement`: the kernel or its run area lies outside RAM.
        case placement(String)
        /// `payload.linux-memory`: RAM is too small for the kernel and the initrd together.
        case memory(String)
        /// `payload.linux-initrd`: RAM has room, but not below `initrd_addr_max`.
        case initrd(String)
    }

    /// The layout for `image` with an initrd of `initrdSize` bytes (nil: none) in `ram` (every memslot region).
    public static func compute(image: BzImage, initrdSize: UInt64?, ram: [RAM]) -> Result<LinuxBootLayout, Problem> {
        let kernelEnd = LinuxBootArea.kernelLoad + UInt64(image.kernelSize)
        let runStart = max(image.prefAddress, LinuxBootArea.kernelLoad)
        let (runEnd, overflow) = runStart.addingReportingOverflow(UInt64(image.initSize))
        guard !overflow else { return .failure(.placement("the kernel's run area (pref_address + init_size) overflows")) }
        let needEnd = max(kernelEnd, runEnd)
        let relocNote = image.relocatable ? "" : " (the kernel is not relocatable: it runs at pref_address)"
        guard let region = ram.first(where: { !$0.readonly && $0.base <= LinuxBootArea.kernelLoad && LinuxBootArea.kernelLoad < $0.end }) else {
            return .failure(.placement("no writable RAM region holds the kernel's load address \(hex(LinuxBootArea.kernelLoad))"))
        }
        guard needEnd <= region.end else {
            return .failure(
                .placement(
                    "the kernel needs RAM \(hex(LinuxBootArea.kernelLoad))..\(hex(needEnd - 1)) (loaded at \(hex(LinuxBootArea.kernelLoad)), decompressed at \(hex(runStart)), init_size \(sizeText(UInt64(image.initSize))))\(relocNote), but region '\(region.name)' ends at \(hex(region.end))"))
        }
        var initrd: (UInt64, UInt64)? = nil
        if let size = initrdSize, size > 0 {
            let rounded = (size + 4095) & ~UInt64(4095)
            let ceiling = min(region.end, UInt64(image.initrdAddrMax) &+ 1 == 0 ? region.end : UInt64(image.initrdAddrMax) + 1)
            let fitsRAM = region.end - needEnd >= rounded
            guard fitsRAM else {
                return .failure(
                    .memory(
                        "RAM too small for kernel + initrd: region '\(region.name)' ends at \(hex(region.end)); the kernel uses it up to \(hex(needEnd)) and the initrd needs \(sizeText(rounded)) more"))
            }
            guard ceiling > needEnd, ceiling - needEnd >= rounded else {
                return .failure(
                    .initrd(
                        "the initrd (\(sizeText(size))) does not fit between the kernel's end \(hex(needEnd)) and initrd_addr_max \(hex(UInt64(image.initrdAddrMax)))"))
            }
            initrd = ((ceiling - size) & ~UInt64(4095), size)
        }
        return .success(
            LinuxBootLayout(
                kernelGPA: LinuxBootArea.kernelLoad, kernelFileOffset: UInt64(image.kernelOffset), kernelSize: UInt64(image.kernelSize),
                runArea: runStart..<runEnd, initrd: initrd, e820: e820(ram)))
    }

    /// The e820 map: every RAM region usable, read-only ones reserved, the boot area below 0x10000 reserved;
    /// MMIO holes (no memslot) are absent. Sorted by address.
    public static func e820(_ ram: [RAM]) -> [E820] {
        var out: [E820] = []
        for r in ram.sorted(by: { $0.base < $1.base }) where r.size > 0 {
            if r.readonly {
                out.append(E820(address: r.base, size: r.size, kind: .reserved))
                continue
            }
            var base = r.base
            if base < LinuxBootArea.end {
                let end = min(r.end, LinuxBootArea.end)
                out.append(E820(address: base, size: end - base, kind: .reserved))
                base = end
            }
            if base < r.end { out.append(E820(address: base, size: r.end - base, kind: .ram)) }
        }
        return out
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
    static func sizeText(_ v: UInt64) -> String {
        for (unit, suffix) in [(UInt64(1) << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")] where v != 0 && v % unit == 0 {
            return "\(v / unit) \(suffix)"
        }
        return "\(v) bytes"
    }
}
