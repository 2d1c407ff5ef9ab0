import Diagnostics
import Manifest

/// `conversion: [fault]` where a fault never asks for a conversion (sw-protected).
public enum SharingFaultNeverRequests: Rule {
    public static let documentation = RuleDocumentation(
        id: "sharing.fault-never-requests", severity: .warning,
        summary: "`conversion` lists `fault` on a platform where a guest access never asks for a conversion.",
        rationale: "On sw-protected VMs KVM decides whether an access is private from the page's current attribute (arch/x86/kvm/mmu/mmu.c, kvm_mem_is_private), so a guest's access always agrees with the attribute and cannot express the other intent: the guest converts pages only with KVM_HC_MAP_GPA_RANGE. A KVM_EXIT_MEMORY_FAULT there means KVM could not serve a page at all (a private gfn without guest_memfd, a poisoned page), which no conversion fixes; the launcher ends the guest (exit 125) on it either way.",
        kernel: "Verified on a real sw-protected kernel (Linux 6.12, the lab): a sw-protected guest's own accesses never produced KVM_EXIT_MEMORY_FAULT; a PRIVATE gfn without guest_memfd produced it at once on every re-run.",
        fix: "Use `conversion: [hypercall]` (the platform's default) and have the guest call KVM_HC_MAP_GPA_RANGE.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.platform), !context.traits.faultRequestsConversion,
            let conversion = context.manifest.sharing?.conversion,
            let fault = conversion.value.first(where: { $0.value == .fault })
        else { return }
        diagnostics.append(
            emit(
                "on \(context.manifest.platform.value.rawValue) a guest access never asks for a conversion: "
                    + "pages convert by hypercall only, and a memory fault ends the guest",
                at: fault))
    }
}
