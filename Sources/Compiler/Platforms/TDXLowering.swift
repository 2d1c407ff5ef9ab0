import Manifest
import Plan
import Rules

/// Intel TDX: split IRQ chip and `KVM_TDX_INIT_VM` before any vCPU; per vCPU `KVM_TDX_GET_CPUID` →
/// `KVM_SET_CPUID2` → `KVM_TDX_INIT_VCPU`, before memory; `KVM_TDX_INIT_MEM_REGION` after the private
/// attributes; `KVM_TDX_FINALIZE_VM` before any run (KVM_UAPI.md §3.1, §8). A TD starts at the reset vector:
/// the launcher never sets its registers. The plan carries the expected MRTD of its INIT_MEM_REGIONs (TDXMRTD).
struct TDXLowering: PlatformLowering {
    var planPlatform: PlanPlatform { .tdx }

    func vmType(_ b: PlanBuilder) -> VMType { .x86TDX }

    func lowerSequence(_ b: inout PlanBuilder, boots: Bool) {
        let manifest = b.manifest
        b.add("tdx.capabilities", .tdxCapabilities(), at: manifest.platform.location)
        b.add(
            "enable.KVM_CAP_SPLIT_IRQCHIP", .enableCap(cap: .splitIRQChip, args: [24, 0, 0, 0]), at: manifest.platform.location,
            comment: "a TD's vCPUs need a split IRQ chip (tdx.c:685-686); 24 IOAPIC routes, before any vCPU")
        let tdx = manifest.tdx
        var measurements = TDXMeasurementRegisters()
        if let bytes = tdx?.mrconfigid.flatMap({ HexBytes.decode($0.value) }) { measurements.mrconfigid = bytes }
        if let bytes = tdx?.mrowner.flatMap({ HexBytes.decode($0.value) }) { measurements.mrowner = bytes }
        if let bytes = tdx?.mrownerconfig.flatMap({ HexBytes.decode($0.value) }) { measurements.mrownerconfig = bytes }
        b.add(
            "tdx.init-vm",
            .tdxInitVM(
                attributes: tdx?.attributes?.value ?? 0, xfam: tdx?.xfam?.value ?? TDXXFAM.defaultXFAM,
                gpaw: UInt8(b.context.gpaBits), measurements: measurements),
            at: tdx?.location ?? manifest.gpaBits?.location ?? manifest.platform.location)
        b.createVCPUs(boot: false)
        b.lowerMemory()
        b.lowerPayload()
        b.add("tdx.finalize", .tdxFinalizeVM(), at: manifest.platform.location)
        if manifest.payload != nil { b.measurement = PlanMeasurement(tdxMRTD: b.tdxMRTD.text) }
    }

    func populate(_ piece: PopulatedPiece, in b: inout PlanBuilder) {
        if piece.measured {
            piece.forEachPage { gpa, page in b.tdxMRTD.initMemRegion(gpa: gpa, data: page, measure: true) }
        } else {
            b.tdxMRTD.pageAdds(gpa: piece.pageStart, size: piece.span)
        }
        b.add(
            "tdx.init-mem-region.\(piece.suffix)",
            .tdxInitMemRegion(vcpu: .vcpu(0), gpa: piece.pageStart, nrPages: piece.span / 4096, source: piece.source, measure: piece.measured),
            at: piece.at)
    }

    func setUpVCPU(_ index: UInt32, boot: Bool, in b: inout PlanBuilder) {
        // KVM_TDX_INIT_VCPU sets APIC_BASE to x2APIC, a reserved bit unless the CPUID already has x2APIC
        // (tdx.c:3072-3078, lapic.c:2848-2852): KVM_TDX_GET_CPUID → KVM_SET_CPUID2 first.
        let at = b.manifest.vcpus.location
        b.add("cpuid.\(index)", .setCPUID2(vcpu: .vcpu(index), from: .tdx), at: at)
        b.add("tdx.init-vcpu.\(index)", .tdxInitVCPU(vcpu: .vcpu(index)), at: at)
    }
}
