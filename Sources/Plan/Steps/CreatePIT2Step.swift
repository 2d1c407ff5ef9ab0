import Diagnostics

/// `KVM_CREATE_PIT2` on `%vm`: the in-kernel i8254 PIT (after the IRQ chip).
public struct CreatePIT2Step: StepKind {
    public var on: FdRef
    public var flags: PITFlags

    public init(on: FdRef = .vm, flags: PITFlags) {
        self.on = on
        self.flags = flags
    }

    // MARK: What it is

    static let op = "KVM_CREATE_PIT2"
    static let allowedKinds: Set<FdKind> = [.vm]
    static let architectures: Set<PlanArch> = [.x86_64]

    var actsOn: FdRef? { on }

    func ioctls(arch: PlanArch) -> [Ioctl] { [.createPIT2] }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] { ["flags": flags.json] }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        Self(on: try d.on(), flags: try d.args.flags("flags", PITFlags.self))
    }

    // MARK: Text

    var textArguments: [String] { ["flags=\(flags.text)"] }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        [
            "{", "    uint32_t pit[16]; /* struct kvm_pit_config: flags, pad[15] */", "    memset(pit, 0, sizeof pit);",
            "    pit[0] = \(flags.rawValue); /* \(flags.text) */", "    " + c.check("kp_ioctl(\(c.v(on)), KP_KVM_CREATE_PIT2, pit)"), "}",
        ]
    }
}

extension Operation {
    /// `KVM_CREATE_PIT2` on `%vm`: the in-kernel i8254 PIT (after the IRQ chip).
    public static func createPIT2(
        on: FdRef = .vm, flags: PITFlags
    ) -> Operation {
        .createPIT2(CreatePIT2Step(on: on, flags: flags))
    }
}
