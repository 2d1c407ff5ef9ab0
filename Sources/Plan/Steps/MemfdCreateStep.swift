import Diagnostics

/// `memfd_create(2)` (`MFD_CLOEXEC`, plus `MFD_HUGETLB | MFD_HUGE_*` when `hugetlb`); defines `%memfd.NAME`.
public struct MemfdCreateStep: StepKind {
    public var name: String
    public var hugetlb: HugePageSize?

    public init(name: String, hugetlb: HugePageSize?) {
        self.name = name
        self.hugetlb = hugetlb
    }

    // MARK: What it is

    static let op = "memfd_create"
    static let allowedKinds: Set<FdKind> = []

    var actsOn: FdRef? { nil }

    var defines: FdRef? { .memfd(name) }

    func ioctls(arch: PlanArch) -> [Ioctl] { [] }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] { ["hugetlb": .string(hugetlb?.rawValue ?? "none")] }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        let text = try d.args.string("hugetlb")
        let hugetlb: HugePageSize?
        if text == "none" {
            hugetlb = nil
        } else if let size = HugePageSize(rawValue: text) {
            hugetlb = size
        } else {
            throw d.args.error("hugetlb", "'\(text)' is not one of 'none', '2M', '1G'")
        }
        return Self(name: try d.definedName(.memfd), hugetlb: hugetlb)
    }

    // MARK: Text

    var textArguments: [String] {
        var flags = "MFD_CLOEXEC"
        if let hugetlb { flags += "|MFD_HUGETLB|MFD_HUGE_\(hugetlb.rawValue)B" }
        return ["name=\(name)", "flags=\(flags)"]
    }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        let fd = c.v(.memfd(name))
        var flags = "MFD_CLOEXEC"
        if let hugetlb { flags += " | MFD_HUGETLB | (\(hugetlb.shift)U << KP_HUGE_SHIFT)" }
        return [
            "\(fd) = (int)syscall(SYS_memfd_create, \(PlanCRenderer.literal("kvmplan-" + name)), \(flags));", c.check(fd),
        ]
    }
}

extension Operation {
    /// `memfd_create(2)` (`MFD_CLOEXEC`, plus `MFD_HUGETLB | MFD_HUGE_*` when `hugetlb`); defines `%memfd.NAME`.
    public static func memfdCreate(
        name: String, hugetlb: HugePageSize?
    ) -> Operation {
        .memfdCreate(MemfdCreateStep(name: name, hugetlb: hugetlb))
    }
}
