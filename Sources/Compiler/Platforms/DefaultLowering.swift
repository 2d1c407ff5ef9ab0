import Plan

/// A plain VM (x86_64 or arm64): memory, payload, vCPUs; no private memory, no launch commands.
struct DefaultLowering: PlatformLowering {
    var planPlatform: PlanPlatform { .default }

    func vmType(_ b: PlanBuilder) -> VMType { b.isX86 ? .x86Default : b.armVMType(.normal) }
}
