import Diagnostics
import Manifest

// Platform rules: what each confidential-computing platform allows (DESIGN §2, KVM_UAPI.md §3).

private func platformNote(_ context: RuleContext) -> DiagnosticNote {
    DiagnosticNote("platform declared here", at: context.manifest.platform.location)
}

/// Each platform exists on one architecture (`default` on both).
public enum PlatformArchitecture: Rule {
    public static let documentation = RuleDocumentation(
        id: "platform.arch", severity: .error, summary: "The platform does not exist on the architecture.",
        rationale: "sw-protected, sev-snp and tdx are x86_64 VM types; pkvm and cca are arm64 ones.",
        kernel: "KVM_CREATE_VM with another architecture's machine type fails with EINVAL.",
        fix: "Change `arch` or `platform`.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.arch, .platform) else { return }
        let m = context.manifest
        let arches = PlatformTraits.architectures(of: m.platform.value)
        guard !arches.contains(m.arch.value) else { return }
        diagnostics.append(
            emit(
                "platform '\(m.platform.value.rawValue)' is not available on \(m.arch.value.rawValue); it is an \(arches.map(\.rawValue).sorted().joined(separator: ", ")) platform",
                at: m.platform, notes: [DiagnosticNote("arch declared here", at: m.arch.location)]))
    }
}

/// Private and convertible memory need a platform with private memory.
public enum PrivateMemoryPlatform: Rule {
    public static let documentation = RuleDocumentation(
        id: "platform.private-memory", severity: .error,
        summary: "A private or convertible region on a platform without private memory.",
        rationale: "Only sw-protected, sev-snp, tdx, pkvm and cca VMs have private memory; a default VM's memory is always readable by the host.",
        kernel: "KVM_SET_MEMORY_ATTRIBUTES(PRIVATE) fails with EINVAL on a default VM (KVM_CAP_MEMORY_ATTRIBUTES is 0 for it).",
        fix: "Use `access: shared`, or choose a platform with private memory.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.platform), !context.traits.hasPrivateMemory else { return }
        for region in context.regions where region.access.value != .shared {
            diagnostics.append(
                emit(
                    "region '\(region.name.value)' is \(region.access.value.rawValue), but platform '\(context.manifest.platform.value.rawValue)' has no private memory",
                    at: region.access, notes: [platformNote(context)]))
        }
    }
}

/// Private memory has the backing its platform needs.
public enum PrivateBacking: Rule {
    public static let documentation = RuleDocumentation(
        id: "platform.private-backing", severity: .error,
        summary: "A private or convertible region has a backing its platform cannot make private.",
        rationale: "On x86 (sw-protected, SEV-SNP, TDX) and CCA, private memory lives in a guest_memfd. On pKVM, upstream (7.1) donates ordinary anonymous or memfd memory to the guest in place; guest_memfd for pKVM is not upstream, and file-backed (hugetlbfs) memory cannot be donated.",
        kernel: "On x86 a private fault on a slot without guest_memfd exits with KVM_EXIT_MEMORY_FAULT forever; on pKVM a file-backed slot is refused.",
        fix: "x86 and CCA: `backing: guest-memfd`. pKVM: `backing: anonymous` or `memfd`.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.platform), context.traits.hasPrivateMemory else { return }
        let allowed = context.traits.privateBackings
        for region in context.regions where region.access.value != .shared && !allowed.contains(region.backing.value) {
            diagnostics.append(
                emit(
                    "\(region.access.value.rawValue) region '\(region.name.value)' has backing \(region.backing.value.rawValue); on \(context.manifest.platform.value.rawValue) private memory needs \(allowed.map(\.rawValue).sorted().joined(separator: " or "))",
                    at: region.backing, notes: [platformNote(context)]))
        }
    }
}

/// No read-only slots in VMs with protected state (SNP, TDX) or protected VMs (pKVM, CCA).
public enum ReadonlyProtectedState: Rule {
    public static let documentation = RuleDocumentation(
        id: "platform.readonly", severity: .error,
        summary: "A read-only region on a platform that has no read-only memslots.",
        rationale: "kvm_arch_has_readonly_mem() is false for VMs with protected state (SEV-ES, SEV-SNP, TDX): KVM cannot emulate the faulting write. pKVM (arm64 mmu.c:2597-2607 in Linux 7.1.5: EPERM) and CCA refuse read-only slots too. The classic case is a read-only pflash (OVMF code) slot copied from a non-confidential VM configuration.",
        kernel: "KVM_SET_USER_MEMORY_REGION(2) with KVM_MEM_READONLY fails with EINVAL in SNP and TDX VMs — late, at slot creation.",
        fix: "Drop `readonly`; for firmware, load it as the measured payload instead of a read-only pflash slot.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.platform), !context.traits.readonlySlots else { return }
        for region in context.regions where region.readonly.value && region.backing.value != .guestMemfd {
            diagnostics.append(
                emit(
                    "region '\(region.name.value)' is read-only, but \(context.manifest.platform.value.rawValue) VMs have no read-only memslots",
                    at: region.readonly, notes: [platformNote(context)]))
        }
    }
}

/// No dirty logging on pKVM and CCA.
public enum DirtyLogPlatform: Rule {
    public static let documentation = RuleDocumentation(
        id: "platform.dirty-log", severity: .error, summary: "Dirty logging on a platform that does not support it.",
        rationale: "Protected arm64 VMs (pKVM, CCA realms) do not support dirty logging: the host cannot observe guest writes.",
        kernel: "KVM_SET_USER_MEMORY_REGION(2) with KVM_MEM_LOG_DIRTY_PAGES fails with EPERM for pKVM protected VMs (arm64 mmu.c:2597-2607 in Linux 7.1.5) and is refused for realms.",
        fix: "Drop `dirty-log`.")

    public static let appliesTo: Set<Architecture> = [.arm64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.platform), !context.traits.dirtyLogging else { return }
        for region in context.regions where region.dirtyLog.value && region.backing.value != .guestMemfd {
            diagnostics.append(
                emit(
                    "region '\(region.name.value)' has dirty-log, which \(context.manifest.platform.value.rawValue) VMs do not support",
                    at: region.dirtyLog, notes: [platformNote(context)]))
        }
    }
}

/// `gpa-bits` is one the platform accepts.
public enum GPABits: Rule {
    public static let documentation = RuleDocumentation(
        id: "platform.gpa-bits", severity: .error, summary: "`gpa-bits` is not a width the platform accepts.",
        rationale: "TDX accepts a guest physical address width (GPAW) of 48 or 52 only; x86 MAXPHYADDR and arm64 IPA sizes lie between 32 and 52.",
        kernel: "KVM_TDX_INIT_VM fails with EINVAL for other GPAWs; on arm64 KVM_CREATE_VM fails with EINVAL for an IPA size the host does not support.",
        fix: "Use a width from the list in the message.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.platform), let bits = context.manifest.gpaBits else { return }
        let t = context.traits
        if let discrete = t.discreteGPABits, !discrete.contains(bits.value) {
            diagnostics.append(
                emit(
                    "gpa-bits \(bits.value) is not accepted by \(t.platform.rawValue); use \(discrete.map(String.init).joined(separator: " or "))",
                    at: bits, notes: [platformNote(context)]))
        } else if !t.allowedGPABits.contains(bits.value) {
            diagnostics.append(
                emit(
                    "gpa-bits \(bits.value) is outside \(t.allowedGPABits.lowerBound)...\(t.allowedGPABits.upperBound) on \(context.manifest.arch.value.rawValue)",
                    at: bits))
        } else if let host = context.host?.physAddrBits, host > 0, context.manifest.arch.value == .x86_64, bits.value > host {
            diagnostics.append(
                emit("gpa-bits \(bits.value) exceeds the host's \(host) physical address bits", at: bits))
        }
    }
}

/// Private memory lies below the shared bit, or it would alias its own shared view.
public enum PrivateBelowSharedBit: Rule {
    public static let documentation = RuleDocumentation(
        id: "platform.shared-bit-collision", severity: .error,
        summary: "Private memory lies at or above the shared (or C-, or unprotected-IPA) bit.",
        rationale: "On TDX the shared bit (47 or 51), on CCA the top IPA bit and on SEV-SNP the C-bit split the address space: an address with the bit set is the shared alias of the one without. A private region above the bit collides with its own shared alias.",
        kernel: "KVM strips the shared bit from GPAs before looking up memslots, so the region is unreachable as private memory; TDX rejects KVM_TDX_INIT_MEM_REGION with EINVAL for such GPAs.",
        fix: "Move private and convertible regions below the bit given in the message (or raise gpa-bits).")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.platform, .sharing, .gpaBits), context.traits.hasPrivateMemory,
            let bit = context.sharedBit, bit < 64
        else { return }
        let limit = UInt64(1) << UInt64(bit)
        for region in context.regions where region.access.value != .shared {
            guard let end = region.end, end > limit else { continue }
            diagnostics.append(
                emit(
                    "\(region.access.value.rawValue) region '\(region.name.value)' reaches \(ManifestInteger.formatHex(end - 1)), at or above shared bit \(bit) (\(ManifestInteger.formatHex(limit)))",
                    at: region.base))
        }
    }
}

/// sw-protected VMs are for development and testing only.
public enum TestingOnlyPlatform: Rule {
    public static let documentation = RuleDocumentation(
        id: "platform.testing-only", severity: .warning, summary: "KVM_X86_SW_PROTECTED_VM is for development and testing only.",
        rationale: "sw-protected VMs use guest_memfd and memory attributes without any hardware protection: nothing is encrypted, and the kernel documents the ABI as unstable. It needs CONFIG_KVM_SW_PROTECTED_VM and the TDP MMU.",
        kernel: "KVM_CREATE_VM(1) fails with EINVAL unless bit 1 of KVM_CAP_VM_TYPES is set.",
        fix: "Use it to test private-memory flows; deploy on sev-snp or tdx.")

    public static let appliesTo: Set<Architecture> = [.x86_64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.platform), context.traits.testingOnly else { return }
        diagnostics.append(
            emit("platform 'sw-protected' is for development and testing only: guest memory is not encrypted", at: context.manifest.platform))
    }
}

/// CCA's KVM uapi is only posted, not merged.
public enum UnmergedUAPI: Rule {
    public static let documentation = RuleDocumentation(
        id: "platform.unmerged-uapi", severity: .warning, summary: "The platform's KVM uapi is not merged upstream.",
        rationale: "Arm CCA realm support is a posted series (v14, 2026-05-13): its VM type (KVM_VM_TYPE_ARM_REALM = 1UL << 30 since v14, 1 << 8 before), capability number (KVM_CAP_ARM_RMI = 249) and KVM_ARM_RMI_POPULATE ioctl may still change; v14 removed KVM_ARM_VCPU_REC (bit 8 of the vCPU features is now the merged KVM_ARM_VCPU_HAS_EL2_E2H0) and activates a realm at its first run only with an in-kernel irqchip (a userspace irqchip is EOPNOTSUPP, v14 patch 18/44). Plans mark these steps `posted uapi (Arm CCA series v14)` and require KVM_CAP_IRQCHIP.",
        kernel: "An upstream kernel (7.2) rejects KVM_CREATE_VM(KVM_VM_TYPE_ARM_REALM) with EINVAL.",
        fix: "Run on a kernel carrying the CCA series, and re-check the plan when the series is merged.")

    public static let appliesTo: Set<Architecture> = [.arm64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.platform), !context.traits.uapiMerged else { return }
        diagnostics.append(
            emit(
                "platform '\(context.manifest.platform.value.rawValue)' uses KVM uapi that is posted but not merged upstream (Arm CCA series v14: KVM_VM_TYPE_ARM_REALM = 1UL << 30, KVM_CAP_ARM_RMI = 249); numbers may change, and a realm needs an in-kernel irqchip",
                at: context.manifest.platform))
    }
}

/// pKVM protected VMs need kvm-arm.mode=protected and pin their memory against RLIMIT_MEMLOCK.
public enum ExperimentalPlatform: Rule {
    public static let documentation = RuleDocumentation(
        id: "platform.pkvm-host", severity: .warning,
        summary: "pKVM protected VMs need a host booted with kvm-arm.mode=protected, and pin guest memory against RLIMIT_MEMLOCK.",
        rationale: "Upstream protected VMs (Linux 7.1) exist only when the host runs pKVM (KVM_VM_TYPE_ARM_PROTECTED = 1UL << 31, include/uapi/linux/kvm.h:708); creating one taints the kernel (\"protected VMs are experimental and for development only\"). Every page donated to the guest is pinned and charged to the launcher's RLIMIT_MEMLOCK, so the limit must cover all guest memory (or the launcher needs CAP_IPC_LOCK). Read-only and dirty-logging slots are refused (platform.readonly, platform.dirty-log).",
        kernel: "KVM_CREATE_VM(KVM_VM_TYPE_ARM_PROTECTED) fails with EINVAL on a host not booted with kvm-arm.mode=protected (arm.c:241-252 in Linux 7.1.5); pinning beyond RLIMIT_MEMLOCK fails the guest's first faults with ENOMEM.",
        fix: "Boot the host with kvm-arm.mode=protected and raise RLIMIT_MEMLOCK (`ulimit -l`, systemd LimitMEMLOCK=) to at least the guest's memory.")

    public static let appliesTo: Set<Architecture> = [.arm64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.platform), context.manifest.platform.value == .pkvm else { return }
        let pinned = context.memslotRegions.reduce(UInt64(0)) { $0 &+ $1.size.value }
        diagnostics.append(
            emit(
                "platform 'pkvm' needs a host booted with kvm-arm.mode=protected (else KVM_CREATE_VM fails with EINVAL); protected VMs taint the kernel and pin their memory: RLIMIT_MEMLOCK must allow \(ManifestInteger.formatSize(pinned)) (or CAP_IPC_LOCK)",
                at: context.manifest.platform))
    }
}

/// The vCPU count stays within KVM's limit.
public enum VCPULimit: Rule {
    public static let documentation = RuleDocumentation(
        id: "platform.vcpus", severity: .error, summary: "More vCPUs than KVM allows.",
        rationale: "KVM_CAP_MAX_VCPUS is 1024 on a default x86_64 build and 512 on arm64 with GICv3 (give `--host` to check against a host's value).",
        kernel: "KVM_CREATE_VCPU fails with EINVAL beyond the limit.",
        fix: "Lower `vcpus`.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.platform) else { return }
        let limit = context.host?.maxVCPUs ?? context.traits.maxVCPUs
        let vcpus = context.manifest.vcpus
        if vcpus.value > limit {
            diagnostics.append(emit("vcpus is \(vcpus.value); KVM allows at most \(limit) here", at: vcpus))
        }
    }
}
