import Diagnostics

/// `KVM_CREATE_IRQCHIP` on `%vm`: in-kernel PIC, IOAPIC and a local APIC per vCPU (before any vCPU).
public struct CreateIRQChipStep: StepKind {
    public var on: FdRef

    public init(on: FdRef = .vm) {
        self.on = on
    }

    // MARK: What it is

    static let op = "KVM_CREATE_IRQCHIP"
    static let allowedKinds: Set<FdKind> = [.vm]
    static let architectures: Set<PlanArch> = [.x86_64]

    var actsOn: FdRef? { on }

    func ioctls(arch: PlanArch) -> [Ioctl] { [.createIRQChip] }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] { [:] }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self { Self(on: try d.on()) }

    // MARK: Text

    var textArguments: [String] { [] }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        [c.check("kp_ioctl_value(\(c.v(on)), KP_KVM_CREATE_IRQCHIP, 0)")]
    }
}

extension Operation {
    /// `KVM_CREATE_IRQCHIP` on `%vm`: in-kernel PIC, IOAPIC and a local APIC per vCPU (before any vCPU).
    public static func createIRQChip(on: FdRef = .vm) -> Operation { .createIRQChip(CreateIRQChipStep(on: on)) }
}
