import Diagnostics

/// `KVM_CREATE_GUEST_MEMFD` on `%vm`; defines `%gmem.NAME`.
public struct CreateGuestMemfdStep: StepKind {
    public var on: FdRef
    public var name: String
    public var size: UInt64
    public var flags: GuestMemfdFlags

    public init(on: FdRef = .vm, name: String, size: UInt64, flags: GuestMemfdFlags) {
        self.on = on
        self.name = name
        self.size = size
        self.flags = flags
    }

    // MARK: What it is

    static let op = "KVM_CREATE_GUEST_MEMFD"
    static let allowedKinds: Set<FdKind> = [.vm]

    var actsOn: FdRef? { on }

    var defines: FdRef? { .guestMemfd(name) }

    func ioctls(arch: PlanArch) -> [Ioctl] { [.createGuestMemfd] }

    func argumentProblems(arch: PlanArch) -> [(field: String, message: String)] {
        var problems: [(field: String, message: String)] = []
        if size == 0 { problems.append(("size", "a guest_memfd needs a size > 0")) }
        if !flags.isFullyNamed { problems.append(("flags", "unknown guest_memfd flag bits \(PlanFormatting.hex(flags.rawValue))")) }
        return problems
    }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] { ["size": .number(size), "flags": flags.json] }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        Self(
            on: try d.on(), name: try d.definedName(.guestMemfd), size: try d.args.uint64("size"),
            flags: try d.args.flags("flags", GuestMemfdFlags.self))
    }

    // MARK: Text

    var textArguments: [String] {
        let size = PlanFormatting.size
        let bytes = self.size
        return ["size=\(size(bytes))", "flags=\(flags.text)"]
    }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        let fd = c.v(.guestMemfd(name))
        return [
            "{", "    struct kp_create_guest_memfd g;", "    memset(&g, 0, sizeof g);", "    g.size = \(c.hex(size));",
            "    g.flags = \(c.hex(flags.rawValue)); /* \(flags.text) */",
            "    \(fd) = kp_ioctl(\(c.v(on)), KP_KVM_CREATE_GUEST_MEMFD, &g);", "    " + c.check(fd), "}",
        ]
    }
}

extension Operation {
    /// `KVM_CREATE_GUEST_MEMFD` on `%vm`; defines `%gmem.NAME`.
    public static func createGuestMemfd(
        on: FdRef = .vm, name: String, size: UInt64, flags: GuestMemfdFlags
    ) -> Operation {
        .createGuestMemfd(CreateGuestMemfdStep(on: on, name: name, size: size, flags: flags))
    }
}
