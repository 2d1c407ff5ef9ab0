import Diagnostics

/// Host copy of payload bytes `[fileOffset, fileOffset + size)` into the mapping at `into` (guest address
/// `gpa`); `sha256` is the digest of those bytes. Private memory is populated afterwards by the platform's
/// launch commands from this shared copy. Spelled `load`.
public struct LoadPayloadStep: StepKind {
    public var into: Address
    public var gpa: UInt64
    public var size: UInt64
    public var fileOffset: UInt64
    public var sha256: String

    public init(into: Address, gpa: UInt64, size: UInt64, fileOffset: UInt64 = 0, sha256: String) {
        self.into = into
        self.gpa = gpa
        self.size = size
        self.fileOffset = fileOffset
        self.sha256 = sha256
    }

    // MARK: What it is

    static let op = "load"
    static let allowedKinds: Set<FdKind> = [.mapping]

    var actsOn: FdRef? { into.map }

    func ioctls(arch: PlanArch) -> [Ioctl] { [] }

    func argumentProblems(arch: PlanArch) -> [(field: String, message: String)] {
        var problems: [(field: String, message: String)] = []
        if !PlanFormatting.isSHA256Digest(sha256) { problems.append(("sha256", "must be sha256: and 64 hex digits")) }
        return problems
    }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] {
        [
            "offset": .number(into.offset), "gpa": .number(gpa), "size": .number(size),
            "file-offset": .number(fileOffset), "sha256": .string(sha256),
        ]
    }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        let map = try d.on()
        return Self(
            into: Address(map, offset: try d.args.uint64("offset")), gpa: try d.args.uint64("gpa"),
            size: try d.args.uint64("size"), fileOffset: try d.args.uint64("file-offset"), sha256: try d.args.string("sha256"))
    }

    // MARK: Text

    var textArguments: [String] {
        let hex = PlanFormatting.hex
        let size = PlanFormatting.size
        let bytes = self.size
        var out = ["offset=\(hex(into.offset))", "gpa=\(hex(gpa))", "size=\(size(bytes))"]
        if fileOffset != 0 { out.append("file-offset=\(hex(fileOffset))") }
        out.append(PlanFormatting.shortDigest(sha256))
        return out
    }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        ["kp_load(\(c.id), (char *)\(c.v(into.map)) + \(c.hex(into.offset)), (size_t)\(c.hex(size)), (off_t)\(c.hex(fileOffset)));"]
    }
}

extension Operation {
    /// Host copy of payload bytes `[fileOffset, fileOffset + size)` into the mapping at `into` (guest address
    /// `gpa`); `sha256` is the digest of those bytes. Private memory is populated afterwards by the platform's
    /// launch commands from this shared copy. Spelled `load`.
    public static func loadPayload(
        into: Address, gpa: UInt64, size: UInt64, fileOffset: UInt64 = 0, sha256: String
    ) -> Operation {
        .loadPayload(LoadPayloadStep(into: into, gpa: gpa, size: size, fileOffset: fileOffset, sha256: sha256))
    }
}
