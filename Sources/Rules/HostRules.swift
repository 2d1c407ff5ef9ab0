import Diagnostics
import Manifest

/// Rules that compare a manifest with a host profile (`kvmplan check --host`). Each capability gap is
/// located at the manifest key that needs the capability.
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
            rationale: "guest_memfd needs KVM_CAP_GUEST_MEMFD and KVM_CAP_USER_MEMORY2; private memory needs KVM_CAP_MEMORY_ATTRIBUTES with the PRIVATE bit for the VM type; hypercall conversions need KVM_CAP_EXIT_HYPERCALL with bit 12 (KVM_HC_MAP_GPA_RANGE); read-only regions need KVM_CAP_READONLY_MEM.",
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
        func cap(_ name: String) -> UInt64 {
            host.perVMType[platformName]?[name] ?? host.caps[name] ?? 0
        }
        let gmemRegions = context.regions.filter { $0.backing.value == .guestMemfd }
        if let first = gmemRegions.first {
            for needed in ["KVM_CAP_GUEST_MEMFD", "KVM_CAP_USER_MEMORY2"] where cap(needed) == 0 {
                out.append(
                    issue(
                        "host.capability", "region '\(first.name.value)' needs guest_memfd, but this host lacks \(needed)",
                        at: first.backing.location, path: first.backing.path, notes: [hostNote]))
            }
            let accepted = cap("KVM_CAP_GUEST_MEMFD_FLAGS")
            for region in gmemRegions {
                guard let g = region.guestMemfd else { continue }
                if g.mmap.value && accepted & 1 == 0 {
                    out.append(
                        issue(
                            "host.gmem-flags", "region '\(region.name.value)' needs GUEST_MEMFD_FLAG_MMAP, which this host's KVM does not accept for \(platformName) VMs (KVM_CAP_GUEST_MEMFD_FLAGS = \(accepted))",
                            at: g.mmap.location, path: g.mmap.path, notes: [hostNote]))
                }
                if g.initShared.value && accepted & 2 == 0 {
                    out.append(
                        issue(
                            "host.gmem-flags", "region '\(region.name.value)' needs GUEST_MEMFD_FLAG_INIT_SHARED, which this host's KVM does not accept for \(platformName) VMs (KVM_CAP_GUEST_MEMFD_FLAGS = \(accepted))",
                            at: g.initShared.location, path: g.initShared.path, notes: [hostNote]))
                }
            }
        }
        if m.arch.value == .x86_64, context.traits.hasPrivateMemory,
            let first = context.regions.first(where: { $0.access.value != .shared }),
            cap("KVM_CAP_MEMORY_ATTRIBUTES") & 8 == 0
        {
            out.append(
                issue(
                    "host.capability", "region '\(first.name.value)' is \(first.access.value.rawValue), but this host's KVM has no KVM_MEMORY_ATTRIBUTE_PRIVATE for \(platformName) VMs (KVM_CAP_MEMORY_ATTRIBUTES = \(cap("KVM_CAP_MEMORY_ATTRIBUTES")))",
                    at: first.access.location, path: first.access.path, notes: [hostNote]))
        }
        if context.traits.hasPrivateMemory, context.conversion.contains(.hypercall),
            context.regions.contains(where: { $0.access.value == .convertible }),
            cap("KVM_CAP_EXIT_HYPERCALL") & (1 << UAPIHypercall.mapGPARange) == 0
        {
            let at = m.sharing?.conversion
            out.append(
                issue(
                    "host.capability", "hypercall conversions need KVM_CAP_EXIT_HYPERCALL with KVM_HC_MAP_GPA_RANGE (bit 12), which this host lacks",
                    at: at?.location ?? m.platform.location, path: at?.path ?? m.platform.path, notes: [hostNote]))
        }
        out += launchParameters(context, host: host, note: hostNote)
        if let ro = context.regions.first(where: { $0.readonly.value }), cap("KVM_CAP_READONLY_MEM") == 0 {
            out.append(
                issue(
                    "host.capability", "region '\(ro.name.value)' is read-only, but this host lacks KVM_CAP_READONLY_MEM",
                    at: ro.readonly.location, path: ro.readonly.path, notes: [hostNote]))
        }
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
