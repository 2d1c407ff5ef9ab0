import Diagnostics

/// `KVM_ENABLE_CAP` on `%vm` or `%vcpu.N`, with `args` = `kvm_enable_cap.args[4]` (exactly four values).
public struct EnableCapStep: StepKind {
    public var on: FdRef
    public var cap: Capability
    public var args: [UInt64]

    public init(on: FdRef = .vm, cap: Capability, args: [UInt64]) {
        self.on = on
        self.cap = cap
        self.args = args
    }

    // MARK: What it is

    static let op = "KVM_ENABLE_CAP"
    static let allowedKinds: Set<FdKind> = [.vm, .vcpu]

    var actsOn: FdRef? { on }

    var uapiStatus: UAPIStatus { cap.uapiStatus }

    func ioctls(arch: PlanArch) -> [Ioctl] { [.enableCap] }

    func argumentProblems(arch: PlanArch) -> [(field: String, message: String)] {
        var problems: [(field: String, message: String)] = []
        if Capability.named(cap.name) != cap { problems.append(("cap", "'\(cap.name)' is not a capability of the catalogue")) }
        if args.count != 4 { problems.append(("args", "KVM_ENABLE_CAP takes exactly 4 args, not \(args.count)")) }
        return problems
    }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] { ["cap": .string(cap.name), "args": .array(args.map { .number($0) })] }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        let cap = try d.capability("cap")
        guard let items = try d.args.value("args").arrayValue, items.count == 4 else {
            throw d.args.error("args", "expected an array of 4 unsigned integers")
        }
        var values: [UInt64] = []
        for item in items {
            guard let v = item.uint64Value else { throw d.args.error("args", "expected an array of 4 unsigned integers") }
            values.append(v)
        }
        return Self(on: try d.on(), cap: cap, args: values)
    }

    // MARK: Text

    var textArguments: [String] {
        let hex = PlanFormatting.hex
        return [cap.name, "args=" + args.map(hex).joined(separator: ",")]
    }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        var lines = ["{", "    struct kp_enable_cap c;", "    memset(&c, 0, sizeof c);", "    c.cap = \(cap.number); /* \(cap.name) */"]
        for (i, arg) in args.prefix(4).enumerated() { lines.append("    c.args[\(i)] = \(c.hex(arg));") }
        lines += ["    " + c.check("kp_ioctl(\(c.v(on)), KP_KVM_ENABLE_CAP, &c)"), "}"]
        return lines
    }
}

extension Operation {
    /// `KVM_ENABLE_CAP` on `%vm` or `%vcpu.N`, with `args` = `kvm_enable_cap.args[4]` (exactly four values).
    public static func enableCap(
        on: FdRef = .vm, cap: Capability, args: [UInt64]
    ) -> Operation {
        .enableCap(EnableCapStep(on: on, cap: cap, args: args))
    }
}
