import Diagnostics
import Manifest

/// Every rule kvmplan knows, in the order they run. Adding a rule means adding its type here.
public enum RuleRegistry {
    public static let rules: [any Rule.Type] = [
        // layout
        DuplicateRegionName.self, ZeroSize.self, AddressOverflow.self, PageAlignment.self, HugePageAlignment.self,
        HugeMappingAdvisory.self, RegionOverlap.self, MemslotLimit.self, SlotPageLimit.self, AddressWidth.self,
        InitialWithoutConvertible.self, MMIOHole.self, GuestMemfdOptionsWithoutGuestMemfd.self,
        // guest_memfd
        GuestMemfdReadonly.self, GuestMemfdDirtyLog.self, GuestMemfdInitSharedNeedsMmap.self,
        GuestMemfdInitSharedPrivateVM.self, GuestMemfdArmNeedsMmap.self,
        // platform
        PlatformArchitecture.self, PrivateMemoryPlatform.self, PrivateBacking.self, ReadonlyProtectedState.self,
        DirtyLogPlatform.self, GPABits.self, PrivateBelowSharedBit.self, TestingOnlyPlatform.self, UnmergedUAPI.self,
        ExperimentalPlatform.self, VCPULimit.self,
        // sharing
        SharingWithoutPrivateMemory.self, SharingAccessType.self, SharingSharedBit.self, SharingConversionExits.self,
        SharingConvertibleNames.self, SharingConvertibleOmitted.self, SharingNoExits.self, SharingHypercallRequired.self,
        SharingFaultNeverRequests.self,
        // payload
        PayloadFileRule.self, PayloadLoad.self, PayloadFits.self, PayloadELFOverlap.self, PayloadEntry.self, PayloadMode.self,
        PayloadBootArea.self, PayloadMeasured.self, PayloadMeasuredIgnored.self, PayloadPrivateLoad.self, PayloadFirmware.self, PayloadTDXResetVector.self,
        PayloadSNPBootArea.self,
        // payload: linux
        LinuxKeys.self, LinuxArch.self, LinuxPlatform.self, LinuxImage.self, LinuxPlacement.self, LinuxMemory.self,
        LinuxInitrd.self, LinuxCmdline.self, LinuxVCPUs.self,
        // launch parameters
        SNPBlockPlatform.self, SNPPolicyBits.self, SNPPolicyDebug.self, SNPHostData.self, SNPIDBlock.self, TDXBlockPlatform.self,
        TDXAttributeBits.self, TDXDebug.self, TDXXFAMBits.self, TDXMeasurementRegisterBytes.self,
    ]

    /// Runs every rule that applies to the manifest's architecture.
    public static func check(_ context: RuleContext) -> Diagnostics {
        var diagnostics = Diagnostics()
        let arch = context.manifest.arch.value
        for rule in rules where rule.appliesTo.contains(arch) {
            rule.check(context, into: &diagnostics)
        }
        return diagnostics
    }
}

/// The documentation of every diagnostic id, for `kvmplan explain` and SARIF rule metadata.
public enum RuleCatalogue {
    public static let all: [RuleDocumentation] = {
        var docs = ManifestMessages.documentation + RuleRegistry.rules.map { $0.documentation }
        docs += HostRules.documentation + IOMessages.documentation + WaiverMessages.documentation
        return docs.sorted { $0.id < $1.id }
    }()

    public static let byID: [DiagnosticID: RuleDocumentation] = Dictionary(all.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
}
