import Diagnostics

/// `mmap(2)`, `PROT_READ | PROT_WRITE`; defines `%map.NAME`. `shared` = `MAP_SHARED` (else `MAP_PRIVATE`).
public struct MmapStep: StepKind {
    public var name: String
    public var source: MappingSource
    public var size: UInt64
    public var offset: UInt64
    public var shared: Bool
    public var noreserve: Bool

    public init(name: String, source: MappingSource, size: UInt64, offset: UInt64, shared: Bool, noreserve: Bool) {
        self.name = name
        self.source = source
        self.size = size
        self.offset = offset
        self.shared = shared
        self.noreserve = noreserve
    }

    // MARK: What it is

    static let op = "mmap"
    static let allowedKinds: Set<FdKind> = [.memfd, .guestMemfd]

    var actsOn: FdRef? { source.fd }

    var defines: FdRef? { .mapping(name) }

    /// An mmap of a file must name a fd of the kind its source says.
    var fdUses: [FdUse] {
        switch source {
        case .memfd(let fd): [FdUse(field: "fd", ref: fd, allowed: [.memfd])]
        case .guestMemfd(let fd): [FdUse(field: "fd", ref: fd, allowed: [.guestMemfd])]
        case .anonymous, .hugetlbAnonymous: []
        }
    }

    func ioctls(arch: PlanArch) -> [Ioctl] { [] }

    func argumentProblems(arch: PlanArch) -> [(field: String, message: String)] {
        var problems: [(field: String, message: String)] = []
        if size == 0 { problems.append(("size", "a mapping needs a size > 0")) }
        if case .guestMemfd = source, !shared { problems.append(("shared", "a guest_memfd can only be mapped MAP_SHARED")) }
        return problems
    }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] {
        [
            "backing": .string(source.backingName), "size": .number(size), "offset": .number(offset),
            "shared": .bool(shared), "noreserve": .bool(noreserve),
        ]
    }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        let backing = try d.args.string("backing")
        let source: MappingSource
        switch backing {
        case "anonymous": source = .anonymous
        case "anonymous-hugetlb-2M": source = .hugetlbAnonymous(.size2M)
        case "anonymous-hugetlb-1G": source = .hugetlbAnonymous(.size1G)
        case "memfd": source = .memfd(try d.on())
        case "guest-memfd": source = .guestMemfd(try d.on())
        default:
            let allowed = MappingSource.backingNames.map { "'\($0)'" }.joined(separator: ", ")
            throw d.args.error("backing", "'\(backing)' is not one of \(allowed)")
        }
        return Self(
            name: try d.definedName(.mapping), source: source, size: try d.args.uint64("size"),
            offset: try d.args.uint64("offset"), shared: try d.args.bool("shared"), noreserve: try d.args.bool("noreserve"))
    }

    // MARK: Text

    var textArguments: [String] {
        let hex = PlanFormatting.hex
        let size = PlanFormatting.size
        let bytes = self.size
        var flags = [shared ? "SHARED" : "PRIVATE"]
        switch source {
        case .anonymous: flags.append("ANONYMOUS")
        case .hugetlbAnonymous(let huge): flags += ["ANONYMOUS", "HUGETLB", "HUGE_\(huge.rawValue)B"]
        case .memfd, .guestMemfd: break
        }
        if noreserve { flags.append("NORESERVE") }
        var out = ["size=\(size(bytes))"]
        if source.fd != nil { out.append("offset=\(hex(offset))") }
        out.append("flags=" + flags.joined(separator: "|"))
        return out
    }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        let map = c.v(.mapping(name))
        var flags = [shared ? "MAP_SHARED" : "MAP_PRIVATE"]
        var fd = "-1"
        switch source {
        case .anonymous: flags.append("MAP_ANONYMOUS")
        case .hugetlbAnonymous(let huge): flags += ["MAP_ANONYMOUS", "MAP_HUGETLB", "(\(huge.shift) << KP_HUGE_SHIFT)"]
        case .memfd(let ref), .guestMemfd(let ref): fd = c.v(ref)
        }
        if noreserve { flags.append("MAP_NORESERVE") }
        return [
            "\(map) = mmap(NULL, (size_t)\(c.hex(size)), PROT_READ | PROT_WRITE, \(flags.joined(separator: " | ")), \(fd), (off_t)\(c.hex(offset)));",
            "if (\(map) == MAP_FAILED) kp_fail(\(c.id), \(c.op));",
        ]
    }
}

extension Operation {
    /// `mmap(2)`, `PROT_READ | PROT_WRITE`; defines `%map.NAME`. `shared` = `MAP_SHARED` (else `MAP_PRIVATE`).
    public static func mmap(
        name: String, source: MappingSource, size: UInt64, offset: UInt64, shared: Bool, noreserve: Bool
    ) -> Operation {
        .mmap(MmapStep(name: name, source: source, size: size, offset: offset, shared: shared, noreserve: noreserve))
    }
}
