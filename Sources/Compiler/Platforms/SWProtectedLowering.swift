import Plan

/// `KVM_X86_SW_PROTECTED_VM`: guest_memfd private memory and attributes, conversions by hypercall, no launch
/// commands (the host writes the payload before the pages become private; KVM_UAPI.md §8).
struct SWProtectedLowering: PlatformLowering {
    var planPlatform: PlanPlatform { .swProtected }

    func vmType(_ b: PlanBuilder) -> VMType { .x86SWProtected }
}
