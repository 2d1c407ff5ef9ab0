import Manifest
import Plan
import Rules

/// AMD SEV-SNP: `/dev/sev` before the VM; INIT2 and LAUNCH_START before memory; the vCPUs' boot state (which
/// writes the boot area they then read as measured private memory) before LAUNCH_UPDATE, which needs the
/// attributes PRIVATE and measures the payload and the boot area; LAUNCH_FINISH last, measuring the VMSAs
/// (KVM_UAPI.md §3.2, §8). The plan carries the expected launch digest: its LAUNCH_UPDATEs, then the VMSAs
/// (SNPVMSA).
struct SEVSNPLowering: PlatformLowering {
    var planPlatform: PlanPlatform { .sevSNP }

    func vmType(_ b: PlanBuilder) -> VMType { .x86SNP }

    func openDevices(_ b: inout PlanBuilder) {
        b.add("sev", .openDevice(.sev), at: b.manifest.platform.location)
    }

    func lowerSequence(_ b: inout PlanBuilder, boots: Bool) {
        let manifest = b.manifest
        b.add("snp.init", .sevInit2(vmsaFeatures: 0, ghcbVersion: 2), at: manifest.platform.location)
        let snp = manifest.sevSnp
        let policy = snp?.policy?.value ?? SNPPolicy.defaultPolicy
        b.add(
            "snp.launch-start", .snpLaunchStart(policy: policy), at: snp?.policy?.location ?? manifest.platform.location,
            comment: "policy: \(SNPPolicy.describe(policy))")
        b.deferPopulates = true
        b.lowerMemory()
        b.lowerPayload()
        b.createVCPUs(boot: boots)
        b.steps += b.deferred
        b.deferred = []
        if boots { b.lowerSNPBootArea() }
        var finish = SNPLaunchFinish()
        if let bytes = snp?.hostData.flatMap({ HexBytes.decode($0.value) }) { finish.hostData = bytes }
        finish.idBlock = b.context.launchFiles["id-block"]?.file?.bytes
        finish.idAuth = b.context.launchFiles["id-auth"]?.file?.bytes
        b.add("snp.launch-finish", .snpLaunchFinish(finish: finish), at: snp?.location ?? manifest.platform.location)
        if manifest.payload != nil, let updates = b.snpDigest {
            var digest = updates
            let vmsas = SNPVMSA.pages(b.steps)
            if let vmsas { digest.launchFinish(vmsaPages: vmsas) }
            b.measurement = PlanMeasurement(snpLaunchUpdates: updates.text, snpLaunchDigest: vmsas == nil ? nil : digest.text)
        }
    }

    func populate(_ piece: PopulatedPiece, in b: inout PlanBuilder) {
        if piece.measured {
            piece.forEachPage { gpa, page in b.snpDigest?.updateNormalPages(gpa: gpa, data: page) }
        } else {
            b.snpDigest?.updateUnhashedPages(pageType: SNPPageType.unmeasured.value, gpa: piece.pageStart, size: piece.span)
        }
        b.populate(
            Step(
                "snp.launch-update.\(piece.suffix)",
                .snpLaunchUpdate(gpa: piece.pageStart, size: piece.span, pageType: piece.measured ? .normal : .unmeasured, source: piece.source),
                source: piece.at, comment: PlanBuilder.launchUpdateLoop))
    }
}
