import Diagnostics
import Manifest

/// Rules that compare a manifest with a host profile (`kvmplan check --host`): the architecture, the VM type and
/// the launch parameters. The capabilities the manifest needs are the plan's requirements, which the compiler
/// checks against the profile with the checker the launcher uses on the live host (`RequirementsCheck`); each
/// gap is located at the manifest key that needs the capability.
public enum HostRules {
    public static let documentation: [RuleDocumentation] = [
        RuleDocumentation(
            id: "host.arch", severity: .error, summary: "The host profile is of another architecture.",
            rationale: "A plan for arm64 cannot run on an x86_64 host, and the reverse.",
            kernel: "KVM_CREATE_VM with the other architecture's machine type fails with EINVAL.",
            fix: "Check against a profile of the right architecture."),
        RuleDocumentation(
            id: "host.vm-type", severity: .error, summary: "The host's KVM does not support the platform's VM type.",
            rationale: "x86 KVM reports supported machine types in the KVM_CAP_VM_TYPES bitmap (bit n = type n): sw-protected needs CONFIG_KVM_SW_PROTECTED_VM, sev-snp an SNP-enabled host (6.11+), tdx a TDX host (6.16+). On arm64 pKVM needs kvm-arm.mode=protected and CCA a kernel with the posted realm series.",
            kernel: "KVM_CREATE_VM fails with EINVAL.", fix: "Run on a host that supports the platform, or change `platform`."),
        RuleDocumentation(
            id: "host.capability", severity: .error, summary: "The host's KVM lacks a capability the manifest needs.",
            rationale: "guest_memfd needs KVM_CAP_GUEST_MEMFD and KVM_CAP_USER_MEMORY2; private memory needs KVM_CAP_MEMORY_ATTRIBUTES with the PRIVATE bit for the VM type; hypercall conversions need KVM_CAP_EXIT_HYPERCALL with bit 12 (KVM_HC_MAP_GPA_RANGE); read-only regions need KVM_CAP_READONLY_MEM; so do the memslot count and vCPU count. These are the plan's requirements, judged against the profile by the checker `kvmplan launch` uses on the live host, once the manifest has no other error.",
            kernel: "The ioctl that needs the capability fails: ENOTTY for unknown ioctls, EINVAL for unsupported flags or attributes.",
            fix: "Run on a newer or differently configured host, or drop the feature from the manifest."),
        RuleDocumentation(
            id: "host.launch-parameters", severity: .error,
            summary: "The host does not support a TD attribute, XFAM bit or SEV-SNP policy bit the manifest asks for.",
            rationale: "KVM_TDX_CAPABILITIES reports the TD attributes and XFAM bits the host's KVM and TDX module accept (`tdxSupportedAttributes`, `tdxSupportedXFAM` in a host profile); KVM accepts only the SNP policy bits the firmware supports (`snpSupportedPolicyBits`). The defaults (attributes 0, XFAM 0x3, policy 0x30000) are checked too.",
            kernel: "KVM_TDX_INIT_VM fails with EINVAL for attributes or XFAM outside the supported sets; KVM_SEV_SNP_LAUNCH_START fails with EINVAL for unsupported policy bits.",
            fix: "Drop the bits the message lists, or run on a host that supports them."),
        RuleDocumentation(
            id: "host.gmem-flags", severity: .error, summary: "The host's KVM does not accept a guest_memfd flag the manifest needs.",
            rationale: "KVM_CAP_GUEST_MEMFD_FLAGS (Linux 6.18+), queried on a VM of the manifest's type, lists the accepted GUEST_MEMFD_FLAG_* bits (MMAP = 1, INIT_SHARED = 2).",
            kernel: "KVM_CREATE_GUEST_MEMFD fails with EINVAL for flags outside that mask.",
            fix: "Run on a 6.18+ host, or drop `guest-memfd: { mmap, init-shared }`."),
    ]

    static func issue(
        _ id: DiagnosticID, _ message: String, at location: SourceLocation, path: DataPath, notes: [DiagnosticNote] = []
    ) -> Diagnostic {
        .error(id, message, at: location, path: path, notes: notes)
    }

    public static func check(_ context: RuleContext, host: HostProfile) -> [Diagnostic] {
        var out: [Diagnostic] = []
        let m = context.manifest
        guard !context.isDamaged(.arch, .platform) else { return out }
        let hostNote = DiagnosticNote("host profile: \(host.kernel.isEmpty ? "unnamed kernel" : host.kernel) (\(host.arch))")
        if host.arch != m.arch.value.rawValue {
            out.append(
                issue(
                    "host.arch", "the host is \(host.arch), but the manifest is for \(m.arch.value.rawValue)", at: m.arch.location,
                    path: m.arch.path, notes: [hostNote]))
            return out
        }
        let platformName = m.platform.value.rawValue
        if !host.vmTypes.contains(platformName) {
            out.append(
                issue(
                    "host.vm-type",
                    "this host's KVM supports VM types {\(host.vmTypes.joined(separator: ", "))}, not \(platformName) (\(context.traits.vmType?.name ?? "KVM_VM_TYPE_ARM_IPA_SIZE"))",
                    at: m.platform.location, path: m.platform.path, notes: [hostNote]))
            // Capabilities of a VM type the host cannot create are meaningless: stop here.
            return out
        }
        // The capabilities (host.capability, host.gmem-flags) are the plan's requirements, checked by the compiler
        // with the launcher's checker once the manifest has no other error (CompilerPipeline.hostRequirements).
        out += launchParameters(context, host: host, note: hostNote)
        return out
    }

    /// TD attributes and XFAM against KVM_TDX_CAPABILITIES, the SNP policy against the bits KVM accepts.
    static func launchParameters(_ context: RuleContext, host: HostProfile, note: DiagnosticNote) -> [Diagnostic] {
        var out: [Diagnostic] = []
        let m = context.manifest
        func check(_ what: String, _ value: UInt64, supported: UInt64?, at located: Located<UInt64>?) {
            guard let supported, value & ~supported != 0 else { return }
            let extra = value & ~supported
            let bits = (0..<64).filter { extra & (1 << UInt64($0)) != 0 }.map(String.init).joined(separator: ", ")
            out.append(
                issue(
                    "host.launch-parameters",
                    "\(what) \(ManifestInteger.formatHex(value)) has bit(s) \(bits) this host does not support (supported: \(ManifestInteger.formatHex(supported)))",
                    at: located?.location ?? m.platform.location, path: located?.path ?? m.platform.path, notes: [note]))
        }
        switch m.platform.value {
        case .tdx:
            check("TD attributes", m.tdx?.attributes?.value ?? 0, supported: host.tdxSupportedAttributes, at: m.tdx?.attributes)
            check("XFAM", m.tdx?.xfam?.value ?? TDXXFAM.defaultXFAM, supported: host.tdxSupportedXFAM, at: m.tdx?.xfam)
        case .sevSnp:
            check(
                "SNP policy", m.sevSnp?.policy?.value ?? SNPPolicy.defaultPolicy, supported: host.snpSupportedPolicyBits,
                at: m.sevSnp?.policy)
        default:
            break
        }
        return out
    }
}
