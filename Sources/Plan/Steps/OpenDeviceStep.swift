import Diagnostics

/// `open(2)` of `/dev/kvm` (defines `%kvm`) or `/dev/sev` (defines `%sev`), `O_RDWR | O_CLOEXEC`.
public struct OpenDeviceStep: StepKind {
    public var path: DevicePath

    public init(_ path: DevicePath) {
        self.path = path
    }

    // MARK: What it is

    static let op = "open"
    static let allowedKinds: Set<FdKind> = []

    var actsOn: FdRef? { nil }

    var defines: FdRef? { path.fd }

    func ioctls(arch: PlanArch) -> [Ioctl] { [] }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] { ["path": .string(path.rawValue)] }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        Self(try d.args.choice("path", DevicePath.self))
    }

    // MARK: Text

    /// The path it opens, in the fd column.
    var textFd: String { path.rawValue }

    var textArguments: [String] { [] }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        let fd = c.v(path.fd)
        return [
            "\(fd) = open(\(PlanCRenderer.literal(path.rawValue)), O_RDWR | O_CLOEXEC);",
            "if (\(fd) < 0) kp_fail(\(c.id), \(PlanCRenderer.literal("open " + path.rawValue)));",
        ]
    }
}

extension Operation {
    /// `open(2)` of `/dev/kvm` (defines `%kvm`) or `/dev/sev` (defines `%sev`), `O_RDWR | O_CLOEXEC`.
    public static func openDevice(_ path: DevicePath) -> Operation { .openDevice(OpenDeviceStep(path)) }
}
