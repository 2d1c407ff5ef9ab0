/// A SEV-SNP sub-command of `KVM_MEMORY_ENCRYPT_OP`: on `%vm`, with `/dev/sev` in `kvm_sev_cmd.sev_fd` (x86 only).
/// What the SNP step kinds share; each keeps its sub-command, arguments and forms.
protocol SEVCommandStep: StepKind {
    var on: FdRef { get }
    var sev: FdRef { get }
}

extension SEVCommandStep {
    static var op: String { "KVM_MEMORY_ENCRYPT_OP" }
    static var allowedKinds: Set<FdKind> { [.vm] }
    static var architectures: Set<PlanArch> { [.x86_64] }
    static var hardwareNote: String? { "needs an AMD EPYC host with SEV-SNP enabled in firmware and kvm_amd.sev_snp=1" }

    var actsOn: FdRef? { on }
    var fdUses: [FdUse] { actsOnUse + [FdUse(field: "sev", ref: sev, allowed: [.sev])] }
    func ioctls(arch: PlanArch) -> [Ioctl] { [.memoryEncryptOp] }
}

/// A TDX sub-command of `KVM_MEMORY_ENCRYPT_OP` (`struct kvm_tdx_cmd`), on `%vm` or a vCPU (x86 only). What the TDX
/// step kinds share; each keeps its sub-command, the fd it acts on, arguments and forms.
protocol TDXCommandStep: StepKind {}

extension TDXCommandStep {
    static var op: String { "KVM_MEMORY_ENCRYPT_OP" }
    static var architectures: Set<PlanArch> { [.x86_64] }
    static var hardwareNote: String? { "needs an Intel host with TDX enabled (TDX module loaded, kvm_intel.tdx=1)" }

    func ioctls(arch: PlanArch) -> [Ioctl] { [.memoryEncryptOp] }
}
