import Plan

/// Arm CCA realms (posted series): `KVM_VM_TYPE_ARM_REALM`, the RMI capability, an in-kernel irqchip (a realm
/// activates at its first run only with one: posted v14, patch 18/44), and `KVM_ARM_RMI_POPULATE` for the
/// payload pieces in protected memory.
struct CCALowering: PlatformLowering {
    var planPlatform: PlanPlatform { .cca }

    func vmType(_ b: PlanBuilder) -> VMType { b.armVMType(.realm) }

    func addRequirements(_ b: inout PlanBuilder) {
        b.requireArmIPASize()
        let at = b.manifest.platform.location
        b.requires.require(.armRMI, .atLeast(1), at: at)
        b.requires.require(.irqchip, .atLeast(1), at: at)
    }

    func populate(_ piece: PopulatedPiece, in b: inout PlanBuilder) {
        b.add(
            "cca.populate.\(piece.suffix)",
            .armRMIPopulate(base: piece.pageStart, size: piece.span, source: piece.source, measure: piece.measured), at: piece.at)
    }
}
