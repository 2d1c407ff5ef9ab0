import Diagnostics

/// Host copy of the initrd file's `size` bytes into the mapping at `into` (guest address `gpa`); `sha256`
/// is their digest. Spelled `load-initrd`.
public struct LoadInitrdStep: StepKind {
    public var into: Address
    public var gpa: UInt64
    public var size: UInt64
    public var sha256: String

    public init(into: Address, gpa: UInt64, size: UInt64, sha256: String) {
        self.into = into
        self.gpa = gpa
        self.size = size
        self.sha256 = sha256
    }

    // MARK: What it is

    static let op = "load-initrd"
    static let allowedKinds: Set<FdKind> = [.mapping]
    static let architectures: Set<PlanArch> = [.x86_64]

    var actsOn: FdRef? { into.map }

    func ioctls(arch: PlanArch) -> [Ioctl] { [] }

    func argumentProblems(arch: PlanArch) -> [(field: String, message: String)] {
        var problems: [(field: String, message: String)] = []
        if !PlanFormatting.isSHA256Digest(sha256) { problems.append(("sha256", "must be sha256: and 64 hex digits")) }
        return problems
    }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] {
        ["offset": .number(into.offset), "gpa": .number(gpa), "size": .number(size), "sha256": .string(sha256)]
    }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        let map = try d.on()
        return Self(
            into: Address(map, offset: try d.args.uint64("offset")), gpa: try d.args.uint64("gpa"), size: try d.args.uint64("size"),
            sha256: try d.args.string("sha256"))
    }

    // MARK: Text

    var textArguments: [String] {
        let hex = PlanFormatting.hex
        let size = PlanFormatting.size
        let bytes = self.size
        return ["offset=\(hex(into.offset))", "gpa=\(hex(gpa))", "size=\(size(bytes))", PlanFormatting.shortDigest(sha256)]
    }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        [
            "{ /* the initrd: the reproducer's second argument */",
            "    const char *path = argc > 2 ? argv[2] : NULL;",
            "    char *dst = (char *)\(c.v(into.map)) + \(c.hex(into.offset));", "    size_t done = 0, size = (size_t)\(c.hex(size));",
            "    int fd = path != NULL ? open(path, O_RDONLY | O_CLOEXEC) : -2;",
            "    if (fd == -1) kp_fail(\(c.id), \"open initrd\");",
            "    while (fd >= 0 && done < size) {", "        ssize_t n = pread(fd, dst + done, size - done, (off_t)done);",
            "        if (n < 0 && errno == EINTR) continue;", "        if (n < 0) kp_fail(\(c.id), \"pread initrd\");",
            "        if (n == 0) break;", "        done += (size_t)n;", "    }", "    if (fd >= 0) close(fd);", "}",
        ]
    }
}

extension Operation {
    /// Host copy of the initrd file's `size` bytes into the mapping at `into` (guest address `gpa`); `sha256`
    /// is their digest. Spelled `load-initrd`.
    public static func loadInitrd(
        into: Address, gpa: UInt64, size: UInt64, sha256: String
    ) -> Operation {
        .loadInitrd(LoadInitrdStep(into: into, gpa: gpa, size: size, sha256: sha256))
    }
}
