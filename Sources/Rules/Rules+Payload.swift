import Diagnostics
import GuestLayout
import Manifest

// Payload rules: the guest image the launcher loads (DESIGN §2 payload, §7).

extension RuleContext {
    /// The RAM region (not an MMIO hole) containing `[start, start + length)`, if any.
    func ramRegion(containing start: UInt64, length: UInt64) -> Manifest.Region? {
        let (end, overflow) = start.addingReportingOverflow(length)
        guard !overflow else { return nil }
        return memslotRegions.first { region in
            guard let regionEnd = region.end else { return false }
            return start >= region.base.value && end <= regionEnd
        }
    }

    /// The payload's ranges in guest memory: one for a flat image (from the file's size, so also for a file too
    /// large to read), one per PT_LOAD segment for ELF, kernel and initrd for Linux. `nil` when the file or the
    /// manifest does not say enough to know.
    public var payloadRanges: [(gpa: UInt64, size: UInt64)]? {
        guard let payload = manifest.payload, let file = payloadFile, file.kind == .regular else { return nil }
        switch payload.format.value {
        case .flat, .firmware:
            guard let gpa = payloadLoadGPA else { return nil }
            return [(gpa, file.size)]
        case .elf, .linux:
            return payloadImage?.ranges
        }
    }

    /// The flat payload's load GPA (`region+offset` resolved); a firmware image's default is 4 GiB − its size.
    public var payloadLoadGPA: UInt64? {
        guard let payload = manifest.payload else { return nil }
        guard let load = payload.load else {
            guard payload.format.value == .firmware, let file = payloadFile, file.kind == .regular, file.size <= Firmware.end
            else { return nil }
            return Firmware.end - file.size
        }
        switch load.value {
        case .absolute(let gpa): return gpa
        case .region(let name, let offset):
            guard let region = manifest.region(named: name) else { return nil }
            let (gpa, overflow) = region.base.value.addingReportingOverflow(offset)
            return overflow ? nil : gpa
        }
    }

    /// The entry point: `entry`, else the load address (flat, known without the file); the reset vector (firmware);
    /// `e_entry` (ELF) and the 64-bit entry (Linux), from the decoded image.
    public var payloadEntry: UInt64? {
        guard let payload = manifest.payload else { return nil }
        switch payload.format.value {
        case .flat: return payload.entry?.value ?? payloadLoadGPA
        case .firmware: return Firmware.resetVector
        case .elf, .linux: return payloadImage?.entry
        }
    }
}

/// The payload file exists and is a readable regular file.
public enum PayloadFileRule: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.file", severity: .error, summary: "The payload file is missing, not a regular file, empty or malformed.",
        rationale: "`payload.path` is resolved relative to the manifest's directory; a launch with a missing image fails after the VM was already half built.",
        kernel: "Nothing reaches the kernel.", fix: "Fix `payload.path`, or build the payload first.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let payload = context.manifest.payload else { return }
        let shown = context.payloadPath ?? payload.path.value
        guard let file = context.payloadFile else {
            diagnostics.append(emit("payload file '\(shown)' does not exist or cannot be read", at: payload.path))
            return
        }
        switch file.kind {
        case .directory:
            diagnostics.append(emit("payload '\(shown)' is a directory, not a file", at: payload.path))
        case .other:
            diagnostics.append(emit("payload '\(shown)' is not a regular file", at: payload.path))
        case .regular:
            if file.size == 0 {
                diagnostics.append(emit("payload file '\(shown)' is empty", at: payload.path))
            } else if file.bytes == nil {
                diagnostics.append(
                    emit("payload file '\(shown)' is larger than \(ManifestInteger.formatSize(PayloadFile.readLimit))", at: payload.path))
            } else if let elf = context.elfImage {
                switch elf {
                case .failure(let failure):
                    diagnostics.append(emit("payload '\(shown)': \(failure.reason)", at: payload.format))
                case .success(let image):
                    let wanted = context.manifest.arch.value == .x86_64 ? ELFImage.machineX86_64 : ELFImage.machineAArch64
                    if image.machine != wanted {
                        diagnostics.append(
                            emit(
                                "payload '\(shown)' is built for ELF machine \(image.machine), not \(context.manifest.arch.value.rawValue)",
                                at: payload.path))
                    }
                }
            }
        }
    }
}

/// `load` and `entry` fit the payload format, and `load` names a RAM region.
public enum PayloadLoad: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.load", severity: .error, summary: "`payload.load` is missing, misplaced or names no RAM region.",
        rationale: "A flat image needs `load` (REGION+OFFSET or an absolute GPA); an ELF image is placed by its PT_LOAD segments and entered at e_entry, so `load` and `entry` are refused there.",
        kernel: "Nothing reaches the kernel; the launcher would copy the image to the wrong place.",
        fix: "Flat: add `load: ram+0x100000`. ELF: remove `load` and `entry`.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let payload = context.manifest.payload, !context.isDamaged(.memory) else { return }
        switch payload.format.value {
        case .linux:
            return  // payload.linux-keys
        case .elf:
            if let load = payload.load {
                diagnostics.append(emit("'load' is not used by ELF payloads (segments carry their addresses)", at: load))
            }
            if let entry = payload.entry {
                diagnostics.append(emit("'entry' is not used by ELF payloads (the entry is e_entry)", at: entry))
            }
        case .flat, .firmware:
            guard let load = payload.load else {
                if payload.format.value == .flat {
                    diagnostics.append(
                        error("flat payloads need 'load' (REGION+OFFSET or a GPA)", at: payload.location, path: DataPath([.key("payload")])))
                }
                return
            }
            if case .region(let name, let offset) = load.value {
                guard let region = context.manifest.region(named: name) else {
                    diagnostics.append(emit("'load' names no region '\(name)'", at: load))
                    return
                }
                if region.backing.value == .none {
                    diagnostics.append(emit("'load' names MMIO hole '\(name)', which has no memory", at: load))
                } else if offset >= region.size.value {
                    diagnostics.append(
                        emit("'load' offset \(ManifestInteger.formatHex(offset)) is beyond region '\(name)' (size \(ManifestInteger.formatSize(region.size.value)))", at: load))
                }
            }
        }
    }
}

/// The payload lies inside RAM.
public enum PayloadFits: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.fits", severity: .error, summary: "The payload does not fit inside one RAM region.",
        rationale: "Every byte of the image (each ELF PT_LOAD segment, including its .bss) must land in memory the launcher maps.",
        kernel: "Nothing reaches the kernel; the launcher would write past the end of a mapping.",
        fix: "Load the payload lower, or grow the region.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let payload = context.manifest.payload, !context.isDamaged(.memory), payload.format.value != .linux,
            let ranges = context.payloadRanges
        else { return }
        for (gpa, size) in ranges where context.ramRegion(containing: gpa, length: size) == nil {
            let (end, overflow) = gpa.addingReportingOverflow(size)
            let span = overflow ? "beyond 2^64" : ManifestInteger.formatHex(size == 0 ? gpa : end - 1)
            diagnostics.append(
                emit(
                    "payload bytes \(ManifestInteger.formatHex(gpa))..\(span) (\(size) bytes) do not lie inside one RAM region",
                    at: payload.load?.site ?? payload.path.site))
        }
    }
}

/// An ELF payload's PT_LOAD segments do not overlap in guest memory.
public enum PayloadELFOverlap: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.elf-overlap", severity: .error, summary: "Two PT_LOAD segments of the ELF payload overlap in guest memory.",
        rationale: "Each segment is copied to its physical address; where two overlap, one overwrites the other and which bytes the guest (and a launch measurement) sees depends on the copy order. Linkers never emit this; QEMU refuses such images too (\"rom: requested regions overlap\"). Segments may share a page, not bytes.",
        kernel: "Nothing reaches the kernel; the launcher would copy, and SEV-SNP/TDX would measure, the overlap twice.",
        fix: "Relink the image so that its PT_LOAD segments (by p_paddr and p_memsz) are disjoint.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let payload = context.manifest.payload, payload.format.value == .elf, let ranges = context.payloadRanges else { return }
        // Sorted by address: each segment must start at or after the end of every one before it.
        let sorted = ranges.enumerated().filter { $0.element.size > 0 }.sorted { ($0.element.gpa, $0.offset) < ($1.element.gpa, $1.offset) }
        var furthest: (index: Int, end: UInt64)?
        for (index, range) in sorted {
            let (end, overflow) = range.gpa.addingReportingOverflow(range.size)
            if let previous = furthest, range.gpa < previous.end {
                let first = min(previous.index, index)
                let second = max(previous.index, index)
                diagnostics.append(
                    emit(
                        "PT_LOAD segments \(first) and \(second) overlap at \(ManifestInteger.formatHex(range.gpa)): one would overwrite the other",
                        at: payload.path))
                return
            }
            if overflow { return }  // payload.fits reports it
            if end > (furthest?.end ?? 0) { furthest = (index, end) }
        }
    }
}

/// The entry point lies inside the payload.
public enum PayloadEntry: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.entry", severity: .error, summary: "The entry point lies outside the payload.",
        rationale: "The vCPU starts executing at `entry` (flat) or e_entry (ELF); outside the loaded bytes it would run zeroes.",
        kernel: "The guest runs garbage and usually triple-faults (KVM_EXIT_SHUTDOWN).",
        fix: "Set `entry` to an address inside the loaded image.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let payload = context.manifest.payload, payload.format.value != .linux, let ranges = context.payloadRanges,
            let entry = context.payloadEntry
        else { return }
        let inside = ranges.contains { entry >= $0.gpa && entry - $0.gpa < $0.size }
        if !inside {
            diagnostics.append(
                emit(
                    "entry \(ManifestInteger.formatHex(entry)) lies outside the loaded payload", at: payload.entry?.site ?? payload.format.site))
        }
    }
}

/// Boot modes fit the architecture and the payload's addresses.
public enum PayloadMode: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.mode", severity: .error, summary: "The boot mode does not fit the architecture or the payload's addresses.",
        rationale: "real, protected and long are x86 boot modes. Real mode reaches only the first MiB (CS:IP), protected mode without paging the first 4 GiB.",
        kernel: "The vCPU would fault at its first instruction (KVM_EXIT_SHUTDOWN or an internal error).",
        fix: "Choose a mode that reaches the payload, or load it lower.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let payload = context.manifest.payload, !context.isDamaged(.arch), payload.format.value != .linux else { return }
        if context.manifest.arch.value == .arm64 {
            if payload.mode.isExplicit {
                diagnostics.append(emit("'mode' is an x86 boot mode; arm64 guests start at EL1 with the MMU off", at: payload.mode))
            }
            return
        }
        guard payload.format.value != .firmware else { return }  // the reset state, not a mode (payload.firmware)
        let limit: UInt64
        switch payload.mode.value {
        case .real: limit = 1 << 20
        case .protected: limit = 1 << 32
        case .long: return
        }
        guard let ranges = context.payloadRanges else { return }
        for (gpa, size) in ranges where gpa.addingReportingOverflow(size).partialValue > limit || gpa >= limit {
            diagnostics.append(
                emit(
                    "\(payload.mode.value.rawValue)-mode payload at \(ManifestInteger.formatHex(gpa)) reaches beyond \(ManifestInteger.formatSize(limit))",
                    at: payload.mode))
        }
    }
}

/// The launcher's boot area (GDT, page tables) lies in RAM and does not overlap the payload.
public enum PayloadBootArea: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.boot-area", severity: .error,
        summary: "The launcher's boot area (0x1000–0x7fff) overlaps the payload or is not in shared RAM.",
        rationale: "For protected and long mode the launcher writes a GDT and identity-mapped page tables at GPA 0x1000–0x7fff; for `format: linux` also the zero page (0x8000), the command line (0x9000) and the initial stack, up to 0xffff. That range must be shared, writable RAM and the payload must not overlap it.",
        kernel: "The guest would triple-fault on its first instruction fetch (KVM_EXIT_SHUTDOWN), or the launcher would overwrite the payload.",
        fix: "Start a shared RAM region at 0 and load the payload at or above 0x8000 (e.g. ram+0x100000).")

    public static let appliesTo: Set<Architecture> = [.x86_64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let payload = context.manifest.payload, !context.isDamaged(.memory, .arch, .platform),
            context.manifest.arch.value == .x86_64, payload.mode.value != .real, !context.traits.measuredLaunch,
            payload.format.value != .firmware
        else { return }
        let linux = payload.format.value == .linux
        let area = X86BootArea.start..<(linux ? LinuxBootArea.end : X86BootArea.end)
        let shown = "\(ManifestInteger.formatHex(area.lowerBound))..\(ManifestInteger.formatHex(area.upperBound - 1))"
        let at = linux ? payload.format.site : payload.mode.site
        if let region = context.ramRegion(containing: area.lowerBound, length: area.upperBound - area.lowerBound) {
            if region.initiallyPrivate {
                diagnostics.append(
                    emit("the boot area \(shown) lies in private region '\(region.name.value)', which the launcher cannot write", at: at))
            } else if region.readonly.value {
                diagnostics.append(emit("the boot area \(shown) lies in read-only region '\(region.name.value)'", at: at))
            }
        } else {
            let what = linux ? "a Linux guest" : "\(payload.mode.value.rawValue) mode"
            let contents = linux ? "GDT, page tables, zero page, command line and stack" : "GDT and page tables"
            diagnostics.append(emit("\(what) needs RAM at \(shown) for the launcher's \(contents)", at: at))
        }
        for (gpa, size) in context.payloadRanges ?? [] where size > 0 && gpa < area.upperBound && gpa &+ size > area.lowerBound {
            diagnostics.append(
                emit(
                    "payload at \(ManifestInteger.formatHex(gpa)) overlaps the launcher's boot area \(shown)", at: payload.load?.site ?? payload.path.site))
        }
    }
}

/// A measured payload goes into initially private memory, page-aligned, on a platform that measures.
public enum PayloadMeasured: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.measured", severity: .error,
        summary: "A measured payload is placed where it cannot be measured.",
        rationale: "SEV-SNP (KVM_SEV_SNP_LAUNCH_UPDATE), TDX (KVM_TDX_INIT_MEM_REGION) and CCA (RMI populate) measure pages as they are copied into *private* guest_memfd memory, page by page from a page-aligned GPA.",
        kernel: "SNP_LAUNCH_UPDATE fails with EINVAL unless the GFNs are in a guest_memfd slot with KVM_MEMORY_ATTRIBUTE_PRIVATE set; TDX_INIT_MEM_REGION fails with EINVAL for shared or unaligned GPAs.",
        fix: "Load the measured payload into a private or initially-private convertible region at a page-aligned address.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let payload = context.manifest.payload, !context.isDamaged(.memory, .platform) else { return }
        guard context.traits.measuredLaunch, context.measured, let ranges = context.payloadRanges else { return }
        for (gpa, size) in ranges {
            if let region = context.ramRegion(containing: gpa, length: size), !region.initiallyPrivate {
                diagnostics.append(
                    emit(
                        "measured payload lands in region '\(region.name.value)', which is not private at launch",
                        at: payload.load?.site ?? payload.path.site, notes: [DiagnosticNote("access declared here", at: region.access.location)]))
            }
            if gpa % context.pageSize != 0 {
                diagnostics.append(
                    emit(
                        "measured payload starts at \(ManifestInteger.formatHex(gpa)), not page-aligned", at: payload.load?.site ?? payload.path.site))
            }
        }
    }
}

/// `measured: true` on a platform that measures nothing.
public enum PayloadMeasuredIgnored: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.measured-ignored", severity: .warning,
        summary: "`measured: true` on a platform without a launch measurement has no effect.",
        rationale: "Only SEV-SNP, TDX and CCA measure the guest's initial memory; on other platforms the payload is copied as it is and nothing records it, so an attestation policy cannot rely on it.",
        kernel: "The default, sw-protected and pKVM VM types have no launch-measurement ioctl.",
        fix: "Remove `measured: true`, or choose a platform that measures (sev-snp, tdx, cca).")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let measured = context.manifest.payload?.measured, measured.value, !context.isDamaged(.platform),
            !context.traits.measuredLaunch
        else { return }
        diagnostics.append(
            emit("platform '\(context.manifest.platform.value.rawValue)' has no launch measurement; 'measured: true' has no effect", at: measured))
    }
}

/// Without a launch command that populates private memory (sw-protected), the payload must be loaded
/// into memory that is shared at launch.
public enum PayloadPrivateLoad: Rule {
    public static let documentation = RuleDocumentation(
        id: "payload.private-load", severity: .error,
        summary: "The payload lands in memory the launcher cannot write and no launch command populates.",
        rationale: "sw-protected VMs have no launch command that copies data into guest_memfd (SNP has SNP_LAUNCH_UPDATE, TDX INIT_MEM_REGION, CCA RMI_POPULATE), and a guest_memfd without INIT_SHARED cannot be written through mmap; the launcher can only write the shared side.",
        kernel: "Writing an mmap of a private guest_memfd page raises SIGBUS; bytes written to the shared side are invisible to private guest accesses.",
        fix: "Load the payload into a shared region (or a convertible one with `initial: shared`) and let the guest convert it; on a guest_memfd mapped in place, set `init-shared: true` where the platform allows it.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let payload = context.manifest.payload, !context.isDamaged(.memory, .platform),
            let ranges = context.payloadRanges
        else { return }
        for (gpa, size) in ranges {
            guard let region = context.ramRegion(containing: gpa, length: size) else { continue }
            // A guest_memfd mapped without INIT_SHARED: its pages are not host-writable (SIGBUS), whatever the
            // platform, unless a launch command populates them from a separate buffer.
            if region.backing.value == .guestMemfd, region.guestMemfd?.mmap.value == true,
                region.guestMemfd?.initShared.value != true, !(context.traits.measuredLaunch && region.initiallyPrivate)
            {
                diagnostics.append(
                    emit(
                        "payload lands in region '\(region.name.value)', a guest_memfd mapped without init-shared, whose pages the host cannot write",
                        at: payload.load?.site ?? payload.path.site,
                        notes: [DiagnosticNote("guest-memfd options declared here", at: region.guestMemfd?.location)]))
                continue
            }
            guard context.manifest.arch.value == .x86_64, context.traits.hasPrivateMemory, !context.traits.measuredLaunch,
                region.initiallyPrivate
            else { continue }
            diagnostics.append(
                emit(
                    "payload lands in region '\(region.name.value)', which is private at launch; \(context.manifest.platform.value.rawValue) has no command to populate private memory",
                    at: payload.load?.site ?? payload.path.site,
                    notes: [DiagnosticNote("access declared here", at: region.access.location)]))
        }
    }
}
