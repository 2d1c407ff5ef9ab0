import Diagnostics

/// `fallocate(2)` of a `%gmem` or `%memfd`.
public struct FallocateStep: StepKind {
    public var fd: FdRef
    public var mode: FallocateMode
    public var offset: UInt64
    public var size: UInt64

    public init(fd: FdRef, mode: FallocateMode, offset: UInt64, size: UInt64) {
        self.fd = fd
        self.mode = mode
        self.offset = offset
        self.size = size
    }

    // MARK: What it is

    static let op = "fallocate"
    static let allowedKinds: Set<FdKind> = [.guestMemfd, .memfd]

    var actsOn: FdRef? { fd }

    func ioctls(arch: PlanArch) -> [Ioctl] { [] }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] {
        ["mode": .string(mode.rawValue), "offset": .number(offset), "size": .number(size)]
    }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        Self(
            fd: try d.on(), mode: try d.args.choice("mode", FallocateMode.self), offset: try d.args.uint64("offset"),
            size: try d.args.uint64("size"))
    }

    // MARK: Text

    var textArguments: [String] {
        let hex = PlanFormatting.hex
        let size = PlanFormatting.size
        let bytes = self.size
        return ["mode=\(mode.flagsText)", "offset=\(hex(offset))", "size=\(size(bytes))"]
    }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        let flags = mode == .punchHole ? "FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE" : "FALLOC_FL_KEEP_SIZE"
        return [c.check("fallocate(\(c.v(fd)), \(flags), (off_t)\(c.hex(offset)), (off_t)\(c.hex(size)))")]
    }
}

extension Operation {
    /// `fallocate(2)` of a `%gmem` or `%memfd`.
    public static func fallocate(
        fd: FdRef, mode: FallocateMode, offset: UInt64, size: UInt64
    ) -> Operation {
        .fallocate(FallocateStep(fd: fd, mode: mode, offset: offset, size: size))
    }
}
