import Diagnostics

/// An MP table (`LinuxMPTable`) for `cpus` vCPUs at `gpa`, written through `into`: how Linux finds its
/// processors and the IOAPIC without ACPI. Spelled `mp-table`.
public struct LinuxMPTableStep: StepKind {
    public var into: Address
    public var gpa: UInt64
    public var cpus: UInt32

    public init(into: Address, gpa: UInt64, cpus: UInt32) {
        self.into = into
        self.gpa = gpa
        self.cpus = cpus
    }

    // MARK: What it is

    static let op = "mp-table"
    static let allowedKinds: Set<FdKind> = [.mapping]
    static let architectures: Set<PlanArch> = [.x86_64]

    var actsOn: FdRef? { into.map }

    func ioctls(arch: PlanArch) -> [Ioctl] { [] }

    func argumentProblems(arch: PlanArch) -> [(field: String, message: String)] {
        var problems: [(field: String, message: String)] = []
        if !(1...LinuxMPTable.maxCPUs).contains(cpus) { problems.append(("cpus", "an MP table lists 1 to \(LinuxMPTable.maxCPUs) processors")) }
        if gpa > 0x10_0000 - 1024 { problems.append(("gpa", "the MP table must lie below 1 MiB, where Linux looks for it")) }
        return problems
    }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] {
        ["offset": .number(into.offset), "gpa": .number(gpa), "cpus": .number(UInt64(cpus))]
    }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        let map = try d.on()
        return Self(
            into: Address(map, offset: try d.args.uint64("offset")), gpa: try d.args.uint64("gpa"), cpus: try d.args.uint32("cpus"))
    }

    // MARK: Text

    var textArguments: [String] {
        let hex = PlanFormatting.hex
        return ["offset=\(hex(into.offset))", "gpa=\(hex(gpa))", "cpus=\(cpus)", "ioapic=\(hex(UInt64(LinuxMPTable.ioAPICAddress)))"]
    }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        let bytes = LinuxMPTable.build(cpus: cpus, at: gpa) ?? []
        var lines = ["{ /* Intel MP 1.4 table: floating pointer, then PCMP (processors, ISA bus, IOAPIC, IRQs 0-15, LINT0/1) */"]
        lines.append("    static const unsigned char table[\(bytes.count)] = {")
        for start in stride(from: 0, to: bytes.count, by: 16) {
            lines.append("        " + bytes[start..<min(start + 16, bytes.count)].map { "0x" + (($0 < 16) ? "0" : "") + String($0, radix: 16) + "," }.joined(separator: " "))
        }
        lines += ["    };", "    memcpy((char *)\(c.v(into.map)) + \(c.hex(into.offset)), table, sizeof table);", "}"]
        return lines
    }
}

extension Operation {
    /// An MP table (`LinuxMPTable`) for `cpus` vCPUs at `gpa`, written through `into`: how Linux finds its
    /// processors and the IOAPIC without ACPI. Spelled `mp-table`.
    public static func linuxMPTable(
        into: Address, gpa: UInt64, cpus: UInt32
    ) -> Operation {
        .linuxMPTable(LinuxMPTableStep(into: into, gpa: gpa, cpus: cpus))
    }
}
