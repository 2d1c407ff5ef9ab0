import Diagnostics

/// `mmap(2)` of a vCPU fd's `struct kvm_run`, `KVM_GET_VCPU_MMAP_SIZE` bytes; defines `%run.N`.
public struct MmapRunStep: StepKind {
    public var vcpu: FdRef

    public init(vcpu: FdRef) {
        self.vcpu = vcpu
    }

    // MARK: What it is

    static let op = "mmap"
    static let allowedKinds: Set<FdKind> = [.vcpu]

    var actsOn: FdRef? { vcpu }

    var defines: FdRef? { FdRef(kind: .runMapping, name: vcpu.name) }

    func ioctls(arch: PlanArch) -> [Ioctl] { [.getVCPUMmapSize] }

    // MARK: JSON

    var jsonArgs: [String: JSONValue] { [:] }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        let vcpu = try d.on()
        let name = try d.definedName(.runMapping)
        guard name == vcpu.name else { throw d.context.error("defines", "must be %run.\(vcpu.name), not %run.\(name)") }
        return Self(vcpu: vcpu)
    }

    // MARK: Text

    var textArguments: [String] { ["size=KVM_GET_VCPU_MMAP_SIZE", "flags=SHARED"] }

    // MARK: C reproducer

    /// KVM_GET_VCPU_MMAP_SIZE is asked on `%kvm`.
    var cImplicitFds: [FdRef] { [.kvm] }

    func cStatements(_ c: CStatementContext) -> [String] {
        let run = c.v(FdRef(kind: .runMapping, name: vcpu.name))
        return [
            "{", "    int size = kp_ioctl_value(\(c.v(.kvm)), KP_KVM_GET_VCPU_MMAP_SIZE, 0);",
            "    if (size < 0) kp_fail(\(c.id), \"KVM_GET_VCPU_MMAP_SIZE\");",
            "    \(run) = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, \(c.v(vcpu)), 0);",
            "    if (\(run) == MAP_FAILED) kp_fail(\(c.id), \(c.op));", "}",
        ]
    }
}

extension Operation {
    /// `mmap(2)` of a vCPU fd's `struct kvm_run`, `KVM_GET_VCPU_MMAP_SIZE` bytes; defines `%run.N`.
    public static func mmapRun(vcpu: FdRef) -> Operation { .mmapRun(MmapRunStep(vcpu: vcpu)) }
}
