import Plan

/// Arm pKVM protected VMs (`KVM_VM_TYPE_ARM_PROTECTED`): the IPA size is fixed by the hypervisor, so the
/// type word carries the flag only and no `KVM_CAP_ARM_VM_IPA_SIZE` is asked for.
struct PKVMLowering: PlatformLowering {
    var planPlatform: PlanPlatform { .pkvm }

    func vmType(_ b: PlanBuilder) -> VMType { b.armVMType(.protected) }

    func addRequirements(_ b: inout PlanBuilder) {}
}
