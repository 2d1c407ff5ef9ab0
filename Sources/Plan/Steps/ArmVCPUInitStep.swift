import Diagnostics

/// `KVM_ARM_PREFERRED_TARGET` on `%vm`, then `KVM_ARM_VCPU_INIT` on the vCPU with `features`.
public struct ArmVCPUInitStep: StepKind {
    public var vcpu: FdRef
    public var features: ArmVCPUFeatures

    public init(vcpu: FdRef, features: ArmVCPUFeatures) {
        self.vcpu = vcpu
        self.features = features
    }

    // MARK: What it is

    static let op = "KVM_ARM_VCPU_INIT"
    static let allowedKinds: Set<FdKind> = [.vcpu]
    static let architectures: Set<PlanArch> = [.arm64]

    var actsOn: FdRef? { vcpu }

    func ioctls(arch: PlanArch) -> [Ioctl] { [.armPreferredTarget, .armVCPUInit] }

    func argumentProblems(arch: PlanArch) -> [(field: String, message: String)] {
        var problems: [(field: String, message: String)] = []
        if !features.isFullyNamed {
            problems.append(("features", "unknown vCPU feature bits \(PlanFormatting.hex(features.rawValue))"))
        }
        return problems
    }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] { ["features": features.json] }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        Self(vcpu: try d.on(), features: try d.args.flags("features", ArmVCPUFeatures.self))
    }

    // MARK: Text

    var textArguments: [String] { ["features=\(features.text)"] }

    // MARK: C reproducer

    /// KVM_ARM_PREFERRED_TARGET is asked on `%vm`.
    var cImplicitFds: [FdRef] { [.vm] }

    func cStatements(_ c: CStatementContext) -> [String] {
        [
            "{", "    struct kp_vcpu_init init;", "    memset(&init, 0, sizeof init);",
            "    " + c.check("kp_ioctl(\(c.v(.vm)), KP_KVM_ARM_PREFERRED_TARGET, &init)", "KVM_ARM_PREFERRED_TARGET"),
            "    init.features[0] = 0x\(String(features.rawValue & 0xffff_ffff, radix: 16))u; /* \(features.text) */",
            "    " + c.check("kp_ioctl(\(c.v(vcpu)), KP_KVM_ARM_VCPU_INIT, &init)"), "}",
        ]
    }
}

extension Operation {
    /// `KVM_ARM_PREFERRED_TARGET` on `%vm`, then `KVM_ARM_VCPU_INIT` on the vCPU with `features`.
    public static func armVCPUInit(
        vcpu: FdRef, features: ArmVCPUFeatures
    ) -> Operation {
        .armVCPUInit(ArmVCPUInitStep(vcpu: vcpu, features: features))
    }
}
