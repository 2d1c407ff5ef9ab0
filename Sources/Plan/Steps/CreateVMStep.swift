import Diagnostics

/// `KVM_CREATE_VM` on `%kvm`; defines `%vm`.
public struct CreateVMStep: StepKind {
    public var on: FdRef
    public var type: VMType

    public init(on: FdRef = .kvm, type: VMType) {
        self.on = on
        self.type = type
    }

    // MARK: What it is

    static let op = "KVM_CREATE_VM"
    static let allowedKinds: Set<FdKind> = [.system]

    var actsOn: FdRef? { on }

    var defines: FdRef? { .vm }

    var uapiStatus: UAPIStatus { type.uapiStatus }

    func ioctls(arch: PlanArch) -> [Ioctl] { [.createVM] }

    func argumentProblems(arch: PlanArch) -> [(field: String, message: String)] {
        var problems: [(field: String, message: String)] = []
        if VMType.named(type.name, arch: arch) != type {
            problems.append(("type", "'\(type.name)' is not a \(arch.rawValue) VM type"))
        }
        return problems
    }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] { ["type": .string(type.name), "value": .number(type.value)] }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        let name = try d.args.string("type")
        let value = try d.args.uint64("value")
        guard let type = VMType.named(name, arch: d.arch) else {
            throw d.args.error("type", "'\(name)' is not a \(d.arch.rawValue) VM type")
        }
        guard type.value == value else {
            throw d.args.error("value", "\(name) is \(type.value), not \(value)")
        }
        return Self(on: try d.on(), type: type)
    }

    // MARK: Text

    var textArguments: [String] { ["type=\(type.name)"] }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        [
            "\(c.v(.vm)) = kp_ioctl_value(\(c.v(on)), KP_KVM_CREATE_VM, \(c.hex(type.value))); /* \(PlanCRenderer.comment(type.name)) */",
            c.check(c.v(.vm)),
        ]
    }
}

extension Operation {
    /// `KVM_CREATE_VM` on `%kvm`; defines `%vm`.
    public static func createVM(
        on: FdRef = .kvm, type: VMType
    ) -> Operation {
        .createVM(CreateVMStep(on: on, type: type))
    }
}
