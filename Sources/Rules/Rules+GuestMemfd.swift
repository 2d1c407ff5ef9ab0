import Diagnostics
import Manifest

// guest_memfd rules (KVM_UAPI.md §2.1–§2.3, §7).

/// guest_memfd slots cannot be read-only.
public enum GuestMemfdReadonly: Rule {
    public static let documentation = RuleDocumentation(
        id: "gmem.readonly", severity: .error, summary: "A guest_memfd-backed region is read-only.",
        rationale: "Read-only memslots have emulated-MMIO semantics on writes, which private memory cannot have.",
        kernel: "KVM_SET_USER_MEMORY_REGION2 with KVM_MEM_GUEST_MEMFD | KVM_MEM_READONLY fails with EINVAL.",
        fix: "Use `backing: anonymous` or `memfd` for read-only memory (e.g. a pflash image), or drop `readonly`.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        for region in context.regions where region.backing.value == .guestMemfd && region.readonly.value {
            diagnostics.append(
                emit("region '\(region.name.value)' is backed by guest_memfd and cannot be read-only", at: region.readonly))
        }
    }
}

/// guest_memfd slots cannot log dirty pages.
public enum GuestMemfdDirtyLog: Rule {
    public static let documentation = RuleDocumentation(
        id: "gmem.dirty-log", severity: .error, summary: "A guest_memfd-backed region has dirty logging.",
        rationale: "Dirty logging of private memory is not supported by KVM.",
        kernel: "KVM_SET_USER_MEMORY_REGION2 with KVM_MEM_GUEST_MEMFD | KVM_MEM_LOG_DIRTY_PAGES fails with EINVAL (\"Dirty logging private memory is not currently supported\").",
        fix: "Drop `dirty-log`, or back the region with anonymous memory.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        for region in context.regions where region.backing.value == .guestMemfd && region.dirtyLog.value {
            diagnostics.append(
                emit("region '\(region.name.value)' is backed by guest_memfd and cannot be dirty-logged", at: region.dirtyLog))
        }
    }
}

/// INIT_SHARED only makes sense with MMAP.
public enum GuestMemfdInitSharedNeedsMmap: Rule {
    public static let documentation = RuleDocumentation(
        id: "gmem.init-shared-needs-mmap", severity: .error, summary: "`init-shared: true` without `mmap: true`.",
        rationale: "GUEST_MEMFD_FLAG_INIT_SHARED makes the file's pages start shared so the host can fault them through an mmap of the guest_memfd; without GUEST_MEMFD_FLAG_MMAP there is no such mapping.",
        kernel: "KVM_CREATE_GUEST_MEMFD rejects the flag combination with EINVAL.",
        fix: "Set `mmap: true` as well, or drop `init-shared`.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        for region in context.regions {
            guard region.backing.value == .guestMemfd, let g = region.guestMemfd, g.initShared.value, !g.mmap.value else { continue }
            diagnostics.append(
                emit("region '\(region.name.value)': guest-memfd init-shared needs mmap: true", at: g.initShared))
        }
    }
}

/// INIT_SHARED is refused by VMs with private memory.
public enum GuestMemfdInitSharedPrivateVM: Rule {
    public static let documentation = RuleDocumentation(
        id: "gmem.init-shared-private-vm", severity: .error,
        summary: "`init-shared: true` on a platform with private memory.",
        rationale: "On x86, kvm_arch_supports_gmem_init_shared() is false for VMs with private memory (sw-protected, SEV-SNP, TDX): their guest_memfd pages start private. CCA realms likewise.",
        kernel: "KVM_CREATE_GUEST_MEMFD with GUEST_MEMFD_FLAG_INIT_SHARED fails with EINVAL on VM types 1, 4 and 5.",
        fix: "Drop `init-shared`; make the region `access: convertible` with `initial: shared` if the guest needs it shared at boot.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.platform), !context.traits.gmemInitShared else { return }
        for region in context.regions {
            guard region.backing.value == .guestMemfd, let g = region.guestMemfd, g.initShared.value else { continue }
            diagnostics.append(
                emit(
                    "region '\(region.name.value)': guest_memfd init-shared is not allowed on \(context.manifest.platform.value.rawValue) VMs, whose guest_memfd pages start private",
                    at: g.initShared, notes: [DiagnosticNote("platform declared here", at: context.manifest.platform.location)]))
        }
    }
}

/// arm64 VMs without private memory need "gmem-only" slots (GUEST_MEMFD_FLAG_MMAP).
public enum GuestMemfdArmNeedsMmap: Rule {
    public static let documentation = RuleDocumentation(
        id: "gmem.arm64-needs-mmap", severity: .error,
        summary: "A guest_memfd region on a normal arm64 VM without `mmap: true`.",
        rationale: "arm64 has no private memory for normal VMs, so a guest_memfd slot must be \"gmem-only\": the guest_memfd is mmap-able and is the slot's only backing.",
        kernel: "kvm_arch_prepare_memory_region() on arm64 fails KVM_SET_USER_MEMORY_REGION2 with EINVAL when the guest_memfd lacks GUEST_MEMFD_FLAG_MMAP.",
        fix: "Set `guest-memfd: { mmap: true }` on the region.")

    public static let appliesTo: Set<Architecture> = [.arm64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.platform), context.traits.gmemNeedsMmap else { return }
        for region in context.regions where region.backing.value == .guestMemfd && region.guestMemfd?.mmap.value != true {
            diagnostics.append(
                emit(
                    "region '\(region.name.value)': guest_memfd slots of \(context.manifest.platform.value.rawValue) arm64 VMs need guest-memfd mmap: true",
                    at: region.guestMemfd?.mmap.site ?? region.backing.site))
        }
    }
}
