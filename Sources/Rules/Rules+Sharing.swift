import Diagnostics
import Manifest

// Sharing-protocol rules (DESIGN §2 platform table).

/// A `sharing` section needs a platform with private memory.
public enum SharingWithoutPrivateMemory: Rule {
    public static let documentation = RuleDocumentation(
        id: "sharing.no-private-memory", severity: .error,
        summary: "A `sharing` section on a platform without private memory.",
        rationale: "The sharing protocol says how pages move between private and shared; a default VM has only shared memory.",
        kernel: "KVM_SET_MEMORY_ATTRIBUTES and KVM_CAP_EXIT_HYPERCALL conversions have nothing to act on; attributes fail with EINVAL.",
        fix: "Remove `sharing`, or choose a platform with private memory.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.platform), !context.traits.hasPrivateMemory, let sharing = context.manifest.sharing else { return }
        diagnostics.append(
            error(
                "'sharing' has no effect: platform '\(context.manifest.platform.value.rawValue)' has no private memory",
                at: sharing.location, path: DataPath([.key("sharing")])))
    }
}

/// `access-type` matches the platform.
public enum SharingAccessType: Rule {
    public static let documentation = RuleDocumentation(
        id: "sharing.access-type", severity: .error, summary: "`access-type` does not match the platform.",
        rationale: "Each TEE decides \"is this access shared?\" its own way: sw-protected by KVM's attribute, SEV-SNP by the C-bit, TDX by a GPA bit, pKVM by share/unshare calls in place, CCA by the unprotected IPA bit. The manifest can spell it out, but not change it.",
        kernel: "A VMM that assumes the wrong access type maps shared buffers at the wrong alias: the guest faults (KVM_EXIT_MEMORY_FAULT loops) or the host reads ciphertext.",
        fix: "Omit `access-type` (it is derived from the platform) or write the platform's value.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.platform), context.traits.hasPrivateMemory,
            let written = context.manifest.sharing?.accessType, let expected = context.traits.defaultAccessType,
            written.value != expected
        else { return }
        diagnostics.append(
            emit(
                "access-type \(written.value.rawValue) does not match platform '\(context.manifest.platform.value.rawValue)', which uses \(expected.rawValue)",
                at: written))
    }
}

/// `shared-bit` matches the platform's rule.
public enum SharingSharedBit: Rule {
    public static let documentation = RuleDocumentation(
        id: "sharing.shared-bit", severity: .error, summary: "`shared-bit` does not fit the access type or platform.",
        rationale: "Only c-bit, gpa-bit and ipa-bit access types have a bit. TDX fixes it to 47 (gpa-bits 48) or 51 (gpa-bits 52); CCA to the top IPA bit (gpa-bits − 1); on SEV-SNP the CPU reports it (CPUID 0x8000001F EBX[5:0], usually 51).",
        kernel: "With the wrong bit every shared access looks private to the guest: KVM_EXIT_MEMORY_FAULT loops, or KVM_TDX_INIT_VM is refused.",
        fix: "Omit `shared-bit` to take the platform's value, or write the value the message gives.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.platform, .gpaBits), let bit = context.manifest.sharing?.sharedBit else { return }
        guard let type = context.accessType, type.usesSharedBit else {
            diagnostics.append(
                emit(
                    "shared-bit has no meaning for access-type \(context.accessType?.rawValue ?? "none"); only c-bit, gpa-bit and ipa-bit use one",
                    at: bit))
            return
        }
        if context.traits.sharedBitIsDerived, let expected = context.traits.defaultSharedBit(gpaBits: context.gpaBits),
            expected != bit.value
        {
            diagnostics.append(
                emit(
                    "shared-bit \(bit.value) does not match \(context.manifest.platform.value.rawValue) with gpa-bits \(context.gpaBits), whose shared bit is \(expected)",
                    at: bit))
        } else if type == .cBit, let host = context.host?.sevCBit, host != bit.value {
            diagnostics.append(emit("shared-bit \(bit.value) differs from the host's C-bit position \(host)", at: bit))
        } else if bit.value >= context.gpaBits && type != .cBit {
            diagnostics.append(
                emit("shared-bit \(bit.value) is outside the \(context.gpaBits)-bit guest physical address space", at: bit))
        }
    }
}

/// Conversion exits are ones the platform can produce.
public enum SharingConversionExits: Rule {
    public static let documentation = RuleDocumentation(
        id: "sharing.conversion", severity: .error, summary: "`conversion` names an exit the platform never produces.",
        rationale: "SEV-SNP page-state changes and TDX MapGPA arrive as KVM_EXIT_HYPERCALL(KVM_HC_MAP_GPA_RANGE); mismatched accesses as KVM_EXIT_MEMORY_FAULT. CCA RIPAS changes arrive as memory faults only; pKVM's share/unshare are handled at EL2 and never reach the launcher.",
        kernel: "A handler for an exit that never comes is dead; a missing handler for one that does stops the guest.",
        fix: "Omit `conversion` to take the platform's default, or list only the exits the message allows.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.platform), context.traits.hasPrivateMemory, let conversion = context.manifest.sharing?.conversion
        else { return }
        let possible = context.traits.possibleConversion
        var seen: Set<ConversionExit> = []
        for exit in conversion.value {
            if !seen.insert(exit.value).inserted {
                diagnostics.append(emit("conversion exit \(exit.value.rawValue) is listed twice", at: exit))
            } else if !possible.contains(exit.value) {
                let allowed = possible.isEmpty ? "none (conversion: [])" : possible.map(\.rawValue).sorted().joined(separator: ", ")
                diagnostics.append(
                    emit(
                        "platform '\(context.manifest.platform.value.rawValue)' never produces \(exit.value.rawValue) conversion exits; allowed: \(allowed)",
                        at: exit))
            }
        }
    }
}

/// `convertible` names existing, convertible regions.
public enum SharingConvertibleNames: Rule {
    public static let documentation = RuleDocumentation(
        id: "sharing.convertible", severity: .error,
        summary: "`sharing.convertible` names a region that does not exist or is not convertible.",
        rationale: "Only `access: convertible` regions have both a private (guest_memfd) and a shared side; the launcher refuses conversions anywhere else.",
        kernel: "Converting a private-only region would flip KVM_MEMORY_ATTRIBUTE_PRIVATE on pages with no shared backing: the guest's next access exits with KVM_EXIT_MEMORY_FAULT that nobody can resolve.",
        fix: "List only regions declared with `access: convertible`.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.memory), let list = context.manifest.sharing?.convertible else { return }
        var seen: Set<String> = []
        for name in list.value {
            guard seen.insert(name.value).inserted else {
                diagnostics.append(emit("region '\(name.value)' is listed twice", at: name))
                continue
            }
            guard let region = context.manifest.region(named: name.value) else {
                let names = context.regions.map(\.name.value)
                diagnostics.append(
                    emit(
                        "no region named '\(name.value)'", at: name,
                        notes: [DiagnosticNote("regions: \(names.joined(separator: ", "))")]))
                continue
            }
            if region.access.value != .convertible {
                diagnostics.append(
                    emit(
                        "region '\(name.value)' has access \(region.access.value.rawValue); only convertible regions can be converted",
                        at: name, notes: [DiagnosticNote("access declared here", at: region.access.location)]))
            }
        }
    }
}

/// A convertible region left out of `sharing.convertible` can never convert.
public enum SharingConvertibleOmitted: Rule {
    public static let documentation = RuleDocumentation(
        id: "sharing.convertible-omitted", severity: .warning,
        summary: "A convertible region is missing from `sharing.convertible`.",
        rationale: "The launcher refuses conversions outside `sharing.convertible`, so the region's pages would stay in their initial state forever.",
        kernel: "Guest conversion requests for the region are answered with an error (hypercall ret EINVAL).",
        fix: "Add the region to `sharing.convertible`, or make it `private` or `shared`.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.memory, .platform), context.traits.hasPrivateMemory,
            let list = context.manifest.sharing?.convertible
        else { return }
        let listed = Set(list.value.map(\.value))
        for region in context.regions where region.access.value == .convertible && !listed.contains(region.name.value) {
            diagnostics.append(
                emit(
                    "convertible region '\(region.name.value)' is not in sharing.convertible, so it can never convert",
                    at: region.access))
        }
    }
}

/// Convertible memory on a platform whose launcher must act needs a conversion exit.
public enum SharingNoExits: Rule {
    public static let documentation = RuleDocumentation(
        id: "sharing.no-exits", severity: .warning,
        summary: "Convertible regions but `conversion: []` on a platform where the launcher converts pages.",
        rationale: "On sw-protected, SEV-SNP, TDX and CCA the launcher performs conversions when the guest asks (hypercall) or touches (fault); with no exits the regions never convert.",
        kernel: "Without KVM_CAP_EXIT_HYPERCALL, SNP page-state changes and TDX MapGPA fail back to the guest; unhandled memory faults stop it.",
        fix: "Omit `conversion` to take the platform's exits.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.platform), !context.traits.possibleConversion.isEmpty,
            !context.traits.conversionNeedsHypercall,  // an error there: sharing.hypercall-required
            let conversion = context.manifest.sharing?.conversion, conversion.value.isEmpty,
            context.regions.contains(where: { $0.access.value == .convertible })
        else { return }
        diagnostics.append(emit("convertible regions exist but conversion is [], so no page can ever convert", at: conversion))
    }
}

/// SEV-SNP and TDX guests convert pages only through hypercall exits.
public enum SharingHypercallRequired: Rule {
    public static let documentation = RuleDocumentation(
        id: "sharing.hypercall-required", severity: .error,
        summary: "`conversion` on SEV-SNP or TDX without `hypercall`.",
        rationale: "An SNP guest's page-state changes (GHCB PSC) and a TD's MapGPA reach the launcher only as KVM_EXIT_HYPERCALL(KVM_HC_MAP_GPA_RANGE), which KVM delivers only after KVM_ENABLE_CAP(KVM_CAP_EXIT_HYPERCALL, 1 << 12). Without it every conversion the guest asks for fails inside KVM (sev.c:3824-3827 and 4034-4036, tdx.c:1247-1257 in Linux 7.1.5; KVM_UAPI.md §8), so the guest cannot share anything — not even its GHCB or bounce buffers.",
        kernel: "SNP: the PSC request returns GHCB_MSR_PSC_RESP_ERROR / VMGEXIT_PSC_ERROR_GENERIC to the guest; TDX: MapGPA returns TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED.",
        fix: "Add `hypercall` to `conversion`, or omit `conversion` to take the platform's exits.")

    public static let appliesTo: Set<Architecture> = [.x86_64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.platform, .sharing), context.traits.conversionNeedsHypercall,
            let conversion = context.manifest.sharing?.conversion,
            !conversion.value.contains(where: { $0.value == .hypercall })
        else { return }
        diagnostics.append(
            emit(
                "conversion on \(context.manifest.platform.value.rawValue) needs 'hypercall': the guest's page-state changes arrive only as KVM_EXIT_HYPERCALL(KVM_HC_MAP_GPA_RANGE), and without KVM_CAP_EXIT_HYPERCALL each one fails in KVM",
                at: conversion,
                notes: [DiagnosticNote("platform declared here", at: context.manifest.platform.location)]))
    }
}
