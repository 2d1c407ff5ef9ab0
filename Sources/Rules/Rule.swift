import Diagnostics
import Manifest

/// One rule of the catalogue: a small named type with a stable id, the architectures it applies to,
/// and a check that appends diagnostics (STYLE rule 5).
public protocol Rule: Sendable {
    static var documentation: RuleDocumentation { get }
    static var appliesTo: Set<Architecture> { get }
    static func check(_ context: RuleContext, into diagnostics: inout Diagnostics)
}

extension Rule {
    public static var id: DiagnosticID { documentation.id }
    public static var appliesTo: Set<Architecture> { [.x86_64, .arm64] }

    static func error(_ message: String, at location: SourceLocation, path: DataPath, notes: [DiagnosticNote] = [])
        -> Diagnostic
    {
        Diagnostic(id: id, severity: documentation.severity, message: message, at: location, path: path, notes: notes)
    }

    static func emit<T>(_ message: String, at value: Located<T>, notes: [DiagnosticNote] = []) -> Diagnostic {
        error(message, at: value.location, path: value.path, notes: notes)
    }

    static func emit(_ message: String, at site: Site, notes: [DiagnosticNote] = []) -> Diagnostic {
        error(message, at: site.location, path: site.path, notes: notes)
    }
}

/// What a payload file looks like, as far as the rules need to know.
public struct PayloadFile: Sendable, Hashable {
    public enum Kind: Sendable, Hashable { case regular, directory, other }
    public var kind: Kind
    public var size: UInt64
    /// The file's bytes, when it is a regular file no larger than `PayloadFile.readLimit`.
    public var bytes: [UInt8]?

    public static let readLimit: UInt64 = 256 << 20

    public init(kind: Kind, size: UInt64, bytes: [UInt8]?) {
        self.kind = kind
        self.size = size
        self.bytes = bytes
    }
}

/// Everything a rule may look at: the manifest, its platform's traits, the values the manifest leaves
/// to platform defaults (resolved here, once), the payload file and, with `--host`, a host profile.
public struct RuleContext: Sendable {
    public let manifest: Manifest
    public let traits: PlatformTraits
    public let payloadFile: PayloadFile?
    /// The payload path as resolved against the manifest's directory.
    public let payloadPath: String?
    /// `format: linux`: the initrd as resolved against the manifest's directory, and what it looks like.
    public let initrdPath: String?
    public let initrdFile: PayloadFile?

    // The payload decoded once, when the context is made (the inputs above are constants).

    /// `format: elf`: the parsed ELF image, or why it is not one.
    public private(set) var elfImage: Result<ELFImage, ELFImage.ParseFailure>?
    /// `format: linux`: the bzImage's setup header, or why it has none.
    public private(set) var bzImage: Result<BzImage, BzImage.ParseFailure>?
    /// `format: linux`: where the kernel, its run area and the initrd go; nil when the image or the initrd is
    /// unusable.
    public private(set) var linuxLayout: Result<LinuxBootLayout, LinuxBootLayout.Problem>?
    /// The payload as its format's loader decoded it (`Payloads/`); nil without a payload, or when the file or
    /// the manifest does not say enough to know.
    public private(set) var payloadImage: PayloadImage?
    public var host: HostProfile?

    /// Files other manifest keys name (`sev-snp.id-block`, `sev-snp.id-auth`), by key, as resolved and read.
    public var launchFiles: [String: LaunchFile] = [:]

    /// A file a launch parameter names: the path resolved against the manifest's directory, and what was read.
    public struct LaunchFile: Sendable {
        public var path: String
        public var file: PayloadFile?
        public init(path: String, file: PayloadFile?) {
            self.path = path
            self.file = file
        }
    }

    public init(
        manifest: Manifest, payloadPath: String? = nil, payloadFile: PayloadFile? = nil, initrdPath: String? = nil,
        initrdFile: PayloadFile? = nil, host: HostProfile? = nil
    ) {
        self.manifest = manifest
        self.initrdPath = initrdPath
        self.initrdFile = initrdFile
        self.memslotRegions = manifest.memory.regions.filter { $0.backing.value != .none }
        self.traits = PlatformTraits.of(manifest.platform.value, on: manifest.arch.value)
        self.payloadPath = payloadPath
        self.payloadFile = payloadFile
        self.host = host
        decodePayload()
    }

    /// Parses the payload file once for its format, then asks the format's loader for the image.
    private mutating func decodePayload() {
        guard let payload = manifest.payload, let file = payloadFile, file.kind == .regular, let bytes = file.bytes,
            !bytes.isEmpty
        else { return }
        switch payload.format.value {
        case .elf: elfImage = ELFImage.parse(bytes)
        case .linux:
            bzImage = BzImage.parse(bytes)
            if case .success(let image)? = bzImage, payload.initrd == nil || initrdSize != nil {
                linuxLayout = LinuxBootLayout.compute(image: image, initrdSize: initrdSize, ram: linuxRAM)
            }
        case .flat, .firmware: break
        }
        payloadImage = PayloadLoaders.loader(for: payload.format.value).decode(self, bytes: bytes)
    }

    /// Whether the rules that depend on `key` should stay quiet because it could not be read.
    public func isDamaged(_ keys: Manifest.TopLevelKey...) -> Bool { keys.contains { manifest.damaged.contains($0) } }

    public var regions: [Manifest.Region] { manifest.memory.regions }

    /// The page size layout rules use: the host's when a profile is given, else the platform's.
    public var pageSize: UInt64 {
        if let size = host?.pageSize, size > 0 { return UInt64(size) }
        return traits.pageSize
    }

    public var gpaBits: Int { manifest.gpaBits?.value ?? traits.defaultGPABits }

    public var accessType: AccessType? { manifest.sharing?.accessType?.value ?? traits.defaultAccessType }

    public var sharedBit: Int? {
        guard let type = accessType, type.usesSharedBit else { return nil }
        return manifest.sharing?.sharedBit?.value ?? traits.defaultSharedBit(gpaBits: gpaBits)
    }

    public var conversion: [ConversionExit] {
        manifest.sharing?.conversion.map { $0.value.map(\.value) } ?? traits.defaultConversion
    }

    /// The regions the guest may convert: the manifest's list, or every convertible region.
    public var convertibleNames: [String] {
        if let list = manifest.sharing?.convertible { return list.value.map(\.value) }
        return regions.filter { $0.access.value == .convertible }.map(\.name.value)
    }

    public var measured: Bool {
        manifest.payload?.measured?.value ?? traits.measuredLaunch
    }

    /// Regions that become memslots (everything but MMIO holes), computed once.
    public let memslotRegions: [Manifest.Region]
}
