import Diagnostics

/// `ftruncate(2)` of a `%memfd`.
public struct FtruncateStep: StepKind {
    public var fd: FdRef
    public var size: UInt64

    public init(fd: FdRef, size: UInt64) {
        self.fd = fd
        self.size = size
    }

    // MARK: What it is

    static let op = "ftruncate"
    static let allowedKinds: Set<FdKind> = [.memfd]

    var actsOn: FdRef? { fd }

    func ioctls(arch: PlanArch) -> [Ioctl] { [] }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] { ["size": .number(size)] }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        Self(fd: try d.on(), size: try d.args.uint64("size"))
    }

    // MARK: Text

    var textArguments: [String] {
        let size = PlanFormatting.size
        let bytes = self.size
        return ["size=\(size(bytes))"]
    }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] { [c.check("ftruncate(\(c.v(fd)), (off_t)\(c.hex(size)))")] }
}

extension Operation {
    /// `ftruncate(2)` of a `%memfd`.
    public static func ftruncate(fd: FdRef, size: UInt64) -> Operation { .ftruncate(FtruncateStep(fd: fd, size: size)) }
}
