import Manifest

/// A payload as its format's loader decoded it, once per manifest (`RuleContext.payloadImage`): the pieces the
/// launcher copies into guest memory, where the vCPU starts, and how. The rules check it and the lowering
/// places it; neither looks at the format again.
public struct PayloadImage: Sendable, Hashable {
    /// Bytes `[fileOffset, fileOffset + fileSize)` of the file at `gpa`; the segment occupies `memorySize`
    /// bytes of guest memory (ELF `p_memsz`; the rest is zero).
    public struct Segment: Sendable, Hashable {
        public var gpa: UInt64
        public var fileOffset: UInt64
        public var fileSize: UInt64
        public var memorySize: UInt64

        public init(gpa: UInt64, fileOffset: UInt64, fileSize: UInt64, memorySize: UInt64) {
            (self.gpa, self.fileOffset, self.fileSize, self.memorySize) = (gpa, fileOffset, fileSize, memorySize)
        }
    }

    /// How a vCPU starts executing the image.
    public enum Start: Sendable, Hashable {
        /// At `entry`, in the manifest's x86 boot mode (arm64: EL1), registers set by the launcher.
        case bootMode
        /// At the x86 reset vector, in the reset state (a firmware image; a TD's only start).
        case resetVector
        /// The Linux/x86 64-bit boot protocol: the zero page in RSI, the layout of `LinuxBootLayout`.
        case linuxBootProtocol
    }

    public var segments: [Segment]
    public var entry: UInt64
    public var start: Start
    /// The guest-memory ranges the image occupies once loaded (segments by memory size; Linux: kernel and initrd).
    public var ranges: [(gpa: UInt64, size: UInt64)]

    public static func == (a: PayloadImage, b: PayloadImage) -> Bool {
        a.segments == b.segments && a.entry == b.entry && a.start == b.start
            && a.ranges.map(\.gpa) == b.ranges.map(\.gpa) && a.ranges.map(\.size) == b.ranges.map(\.size)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(segments)
        hasher.combine(entry)
        hasher.combine(start)
    }
}

/// Decodes one payload format. One loader per format (`Rules/Payloads/`), picked by an exhaustive switch
/// (`PayloadLoaders.loader(for:)`): a format added to the manifest vocabulary without a loader does not compile.
protocol PayloadLoader {
    /// The image, or nil when the file or the manifest does not say enough (the payload rules report why).
    static func decode(_ context: RuleContext, bytes: [UInt8]) -> PayloadImage?
}

enum PayloadLoaders {
    static func loader(for format: PayloadFormat) -> any PayloadLoader.Type {
        switch format {
        case .flat: FlatLoader.self
        case .firmware: FirmwareLoader.self
        case .elf: ELFLoader.self
        case .linux: LinuxLoader.self
        }
    }
}
