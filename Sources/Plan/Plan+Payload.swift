import Diagnostics

/// The guest payload a plan loads.
public struct PayloadInfo: Hashable, Sendable {
    public enum Format: String, CaseIterable, Hashable, Sendable {
        case flat
        case elf
        /// x86: an image that ends at 4 GiB, entered at the reset vector 0xfffffff0 from the vCPU's reset state
        /// (the plan has no boot steps for it).
        case firmware
        /// An x86 bzImage booted through the Linux boot protocol.
        case linux
    }

    /// A Linux guest's initial ramdisk: loaded by the `load-initrd` step.
    public struct Initrd: Hashable, Sendable {
        public var path: String
        public var sha256: String
        public var size: UInt64
        public init(path: String, sha256: String, size: UInt64) { (self.path, self.sha256, self.size) = (path, sha256, size) }
    }

    /// As written in the manifest (relative to the manifest file).
    public var path: String
    public var format: Format
    /// `sha256:` + hex of the file's bytes.
    public var sha256: String
    /// The file's size in bytes.
    public var size: UInt64
    /// The guest-physical address of the first loaded byte.
    public var loadGPA: UInt64
    public var entry: UInt64
    public var mode: BootMode
    /// Part of the launch measurement (SNP/TDX/CCA).
    public var measured: Bool
    public var source: SourceLocation?
    /// `format: linux` with an initrd.
    public var initrd: Initrd? = nil

    public init(
        path: String, format: Format, sha256: String, size: UInt64, loadGPA: UInt64, entry: UInt64, mode: BootMode,
        measured: Bool, source: SourceLocation? = nil
    ) {
        self.path = path
        self.format = format
        self.sha256 = sha256
        self.size = size
        self.loadGPA = loadGPA
        self.entry = entry
        self.mode = mode
        self.measured = measured
        self.source = source
    }
}
