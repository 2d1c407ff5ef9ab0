import Diagnostics
import GuestLayout
import Manifest

// Rules about how a confidential guest's vCPUs start: TDX's reset vector, firmware images, and what an
// SEV-SNP vCPU must find in measured private memory (KVM_UAPI.md §8).

/// `format: firmware`: an x86 image that ends at 4 GiB and starts at the reset vector.
public enum PayloadFirmware: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.firmware", severity: .error,
        summary: "A firmware payload is not an image that ends at 4 GiB, or sets an entry or boot mode.",
        rationale: "`format: firmware` is a flat image whose last 16 bytes are the x86 reset vector 0xfffffff0: it is loaded so that it ends at 4 GiB (`load` defaults to 4 GiB − its size) and the vCPU starts from its reset state there (a TD's only way to start). Its size is a multiple of 4 KiB so that it starts on a page boundary, as launch commands populate whole pages.",
        kernel: "A TD starts at 0xfffffff0 whatever the VMM wants (KVM has no SET_REGS for TDs): an image that does not cover the reset vector runs zeroes; KVM_TDX_INIT_MEM_REGION and KVM_SEV_SNP_LAUNCH_UPDATE fail with EINVAL for an unaligned start.",
        fix: "Omit `load`, `entry` and `mode`; pad the image to a multiple of 4 KiB with its reset vector in the last 16 bytes.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let payload = context.manifest.payload, payload.format.value == .firmware, !context.isDamaged(.arch) else { return }
        if context.manifest.arch.value != .x86_64 {
            diagnostics.append(
                emit("'format: firmware' is an x86 image entered at the reset vector; arm64 guests use flat or elf", at: payload.format))
            return
        }
        if let entry = payload.entry {
            diagnostics.append(
                emit(
                    "'entry' is not used by firmware payloads: the vCPU starts at the reset vector \(ManifestInteger.formatHex(Firmware.resetVector))",
                    at: entry))
        }
        if payload.mode.isExplicit {
            diagnostics.append(
                emit("'mode' is not used by firmware payloads: the vCPU starts in its reset state at the reset vector", at: payload.mode))
        }
        guard let file = context.payloadFile, file.kind == .regular, file.size > 0 else { return }
        let shown = context.payloadPath ?? payload.path.value
        if file.size % 4096 != 0 || file.size > Firmware.end {
            diagnostics.append(
                emit(
                    "firmware image '\(shown)' is \(file.size) bytes; it must be a multiple of 4 KiB (at most 4 GiB) so that, ending at 4 GiB, it starts on a page boundary",
                    at: payload.path))
            return
        }
        if let load = payload.load, let gpa = context.payloadLoadGPA {
            let (end, overflow) = gpa.addingReportingOverflow(file.size)
            if overflow || end != Firmware.end {
                diagnostics.append(
                    emit(
                        "firmware loaded at \(ManifestInteger.formatHex(gpa)) does not end at 4 GiB, so its last 16 bytes are not the reset vector \(ManifestInteger.formatHex(Firmware.resetVector)); omit 'load' (it defaults to \(ManifestInteger.formatHex(Firmware.end - file.size)))",
                        at: load))
            }
        }
    }
}

/// A TD starts at the reset vector: its payload is a firmware image in private memory.
public enum PayloadTDXResetVector: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.tdx-reset-vector", severity: .error,
        summary: "A TDX payload with a VMM-chosen entry point, or TD firmware outside private memory.",
        rationale: "The TDX module starts every TD vCPU at the reset vector 0xfffffff0 in 32-bit protected mode; KVM offers no KVM_SET_REGS/KVM_SET_SREGS for a TD (its register state is protected), so no VMM can choose an entry point or a boot mode. The payload must be a firmware image whose code covers the reset vector, just below 4 GiB, added to private memory by KVM_TDX_INIT_MEM_REGION (KVM_UAPI.md §8, TDX).",
        kernel: "A flat or ELF payload loaded elsewhere is never executed: the vCPU fetches from 0xfffffff0, which holds nothing (or shared memory the TD cannot execute), and the TD dies at its first instruction.",
        fix: "Use `format: firmware` with an image that ends at 4 GiB (Examples/guests/tdx-hello.s), in a region that is private at launch.")

    public static let appliesTo: Set<Architecture> = [.x86_64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let payload = context.manifest.payload, context.traits.startsAtResetVector, !context.isDamaged(.platform, .memory)
        else { return }
        let notes = [DiagnosticNote("platform declared here", at: context.manifest.platform.location)]
        guard payload.format.value == .firmware else {
            let entry = context.payloadEntry.map { " with entry \(ManifestInteger.formatHex($0))" } ?? ""
            diagnostics.append(
                emit(
                    "a TD starts at the reset vector \(ManifestInteger.formatHex(Firmware.resetVector)) set by the TDX module, never at a VMM-chosen entry: a \(payload.format.value.rawValue) payload\(entry) would not run; use 'format: firmware' (an image that ends at 4 GiB, in private memory)",
                    at: payload.entry?.site ?? payload.format.site, notes: notes))
            return
        }
        for (gpa, size) in context.payloadRanges ?? [] {
            guard let region = context.ramRegion(containing: gpa, length: size), !region.initiallyPrivate else { continue }
            diagnostics.append(
                emit(
                    "TD firmware lands in region '\(region.name.value)', which is not private at launch: the TD fetches its reset vector from private memory",
                    at: payload.load?.site ?? payload.path.site, notes: [DiagnosticNote("access declared here", at: region.access.location)]))
        }
    }
}

/// SEV-SNP: the launcher's boot area is measured private memory, or the guest cannot start.
public enum PayloadSNPBootArea: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.snp-boot-area", severity: .error,
        summary: "An SEV-SNP guest in protected or long mode whose boot area cannot be measured into private memory.",
        rationale: "An SNP vCPU reads its GDT and page tables as private memory, and private memory it has not validated must have been added by KVM_SEV_SNP_LAUNCH_UPDATE. kvmplan therefore writes the boot area (GDT at 0x1000, page tables 0x2000–0x7fff in long mode) through the region's shared side and LAUNCH_UPDATEs those pages as measured NORMAL pages before LAUNCH_FINISH. That needs the boot area inside one region that is private at launch and has a host-writable shared side (`access: convertible`, `initial: private`, no guest_memfd mmap), and a payload that shares no page with it (KVM_UAPI.md §8; sev.c:2421-2468 needs the PRIVATE attribute).",
        kernel: "Written to the shared side of private, unpopulated GPAs, the GDT and page tables are not what the vCPU reads: its first fetch fails and the guest never starts. LAUNCH_UPDATE of a shared GPA fails with EINVAL, and a page populated twice fails in the firmware.",
        fix: "Put a convertible, initially private region at 0 and load the payload at or above 0x8000 (e.g. ram+0x100000), or start in real mode, or use `format: firmware`.")

    public static let appliesTo: Set<Architecture> = [.x86_64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let payload = context.manifest.payload, context.traits.measuresBootArea, payload.format.value != .firmware,
            let area = X86BootArea.range(payload.mode.value), !context.isDamaged(.memory, .platform)
        else { return }
        let shown = "\(ManifestInteger.formatHex(area.lowerBound))..\(ManifestInteger.formatHex(area.upperBound - 1))"
        guard let region = context.ramRegion(containing: area.lowerBound, length: area.upperBound - area.lowerBound) else {
            diagnostics.append(
                emit(
                    "\(payload.mode.value.rawValue) mode needs RAM at \(shown) for the GDT\(payload.mode.value == .long ? " and page tables" : "") that KVM_SEV_SNP_LAUNCH_UPDATE measures",
                    at: payload.mode))
            return
        }
        let notes = [DiagnosticNote("access declared here", at: region.access.location)]
        if !region.initiallyPrivate {
            diagnostics.append(
                emit(
                    "the boot area \(shown) lies in region '\(region.name.value)', which is shared at launch: an SEV-SNP vCPU reads its GDT and page tables as private memory, so they must be LAUNCH_UPDATE'd private pages",
                    at: payload.mode, notes: notes))
        } else if region.access.value != .convertible || region.backing.value != .guestMemfd || region.guestMemfd?.mmap.value == true {
            diagnostics.append(
                emit(
                    "the boot area \(shown) lies in region '\(region.name.value)', which has no host-writable shared side to write it through before KVM_SEV_SNP_LAUNCH_UPDATE measures it; make the region 'access: convertible' with 'initial: private'",
                    at: payload.mode, notes: notes))
        }
        for (gpa, size) in context.payloadRanges ?? [] where size > 0 {
            let first = gpa & ~UInt64(4095)
            let (end, overflow) = gpa.addingReportingOverflow(size)
            guard !overflow, first < area.upperBound, end > area.lowerBound else { continue }
            diagnostics.append(
                emit(
                    "payload at \(ManifestInteger.formatHex(gpa)) shares pages with the boot area \(shown); a page can be populated into private memory once",
                    at: payload.load?.site ?? payload.path.site))
        }
    }
}
