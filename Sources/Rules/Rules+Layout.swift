import Diagnostics
import Manifest

// Layout rules: the guest physical address space. Each type is one rule with one stable id.

private func hex(_ v: UInt64) -> String { ManifestInteger.formatHex(v) }
private func size(_ v: UInt64) -> String { ManifestInteger.formatSize(v) }

/// Region names are unique: they become memslot, guest_memfd and step names.
public enum DuplicateRegionName: Rule {
    public static let documentation = RuleDocumentation(
        id: "memory.duplicate-name", severity: .error, summary: "Two regions have the same name.",
        rationale: "A region's name becomes its memslot's and guest_memfd's name and the id of its plan steps (`slot.ram`); two regions with one name would make plans and diffs ambiguous.",
        kernel: "Nothing reaches the kernel.", fix: "Rename one of the regions.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        var seen: [String: Int] = [:]
        seen.reserveCapacity(context.regions.count)
        for (n, region) in context.regions.enumerated() {
            if let first = seen[region.name.value] {
                let firstRegion = context.regions[first]
                diagnostics.append(
                    emit(
                        "region name '\(region.name.value)' is already used by regions[\(firstRegion.index)]", at: region.name,
                        notes: [DiagnosticNote("first used here", at: firstRegion.name.location)]))
            } else {
                seen[region.name.value] = n
            }
        }
    }
}

/// Sizes are greater than zero (a zero-sized KVM_SET_USER_MEMORY_REGION deletes a slot).
public enum ZeroSize: Rule {
    public static let documentation = RuleDocumentation(
        id: "memory.zero-size", severity: .error, summary: "A region has size 0.",
        rationale: "A zero-sized region describes no memory.",
        kernel: "KVM_SET_USER_MEMORY_REGION(2) with memory_size 0 means *delete the slot*; on a new slot it fails with EINVAL. KVM_CREATE_GUEST_MEMFD with size 0 fails with EINVAL.",
        fix: "Give the region a size greater than zero, or remove it.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        for region in context.regions where region.size.value == 0 {
            diagnostics.append(emit("region '\(region.name.value)' has size 0", at: region.size))
        }
    }
}

/// `base + size` fits in 64 bits.
public enum AddressOverflow: Rule {
    public static let documentation = RuleDocumentation(
        id: "memory.overflow", severity: .error, summary: "`base + size` overflows 64 bits.",
        rationale: "The region would wrap around the end of the address space.",
        kernel: "KVM_SET_USER_MEMORY_REGION(2) checks that guest_phys_addr + memory_size does not wrap and fails with EINVAL.",
        fix: "Lower the base or the size.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        for region in context.regions where region.end == nil {
            diagnostics.append(
                emit(
                    "region '\(region.name.value)': base \(hex(region.base.value)) + size \(hex(region.size.value)) overflows 64 bits",
                    at: region.size))
        }
    }
}

/// Base and size are multiples of the host page size.
public enum PageAlignment: Rule {
    public static let documentation = RuleDocumentation(
        id: "memory.alignment", severity: .error, summary: "A region's base or size is not a multiple of the page size.",
        rationale: "Memslots, guest_memfd sizes and offsets and memory attributes all work in host pages (4 KiB on x86; 4, 16 or 64 KiB on arm64 — give `--host` to check against a host's page size).",
        kernel: "KVM_SET_USER_MEMORY_REGION(2) fails with EINVAL for an unaligned guest_phys_addr or memory_size; KVM_CREATE_GUEST_MEMFD with an unaligned size fails with EINVAL.",
        fix: "Round base down and size up to a multiple of the page size.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        let page = context.pageSize
        for region in context.regions {
            if region.base.value % page != 0 {
                diagnostics.append(
                    emit(
                        "region '\(region.name.value)': base \(hex(region.base.value)) is not aligned to the \(size(page)) page size",
                        at: region.base))
            }
            if region.size.value % page != 0 {
                diagnostics.append(
                    emit(
                        "region '\(region.name.value)': size \(hex(region.size.value)) is not a multiple of the \(size(page)) page size",
                        at: region.size))
            }
        }
    }
}

/// hugetlb-backed regions are aligned to their huge page size.
public enum HugePageAlignment: Rule {
    public static let documentation = RuleDocumentation(
        id: "memory.hugepage-alignment", severity: .error,
        summary: "A hugetlb-backed region is not aligned to its huge page size.",
        rationale: "hugetlbfs mappings come in whole huge pages: a 2 MiB-backed region must start and end on 2 MiB, a 1 GiB one on 1 GiB.",
        kernel: "mmap/ftruncate of a MFD_HUGETLB memfd with a size that is not a multiple of the huge page size fails with EINVAL; an unaligned GPA defeats huge stage-2 mappings.",
        fix: "Align base and size to the huge page size, or use anonymous backing.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        for region in context.regions {
            guard let huge = region.backing.value.hugePageSize else { continue }
            if region.base.value % huge != 0 || region.size.value % huge != 0 {
                diagnostics.append(
                    emit(
                        "region '\(region.name.value)' is backed by \(region.backing.value.rawValue) but base \(hex(region.base.value)) or size \(hex(region.size.value)) is not a multiple of \(size(huge))",
                        at: region.base.value % huge != 0 ? region.base : region.size))
            }
        }
    }
}

/// guest_memfd ranges larger than 2 MiB start on a 2 MiB boundary so huge mappings stay possible.
public enum HugeMappingAdvisory: Rule {
    public static let documentation = RuleDocumentation(
        id: "memory.huge-alignment", severity: .warning,
        summary: "A guest_memfd region of 2 MiB or more does not start on a 2 MiB boundary.",
        rationale: "Upstream guest_memfd allocates 4 KiB folios today, but huge-page support is posted; it needs the GPA and the guest_memfd offset congruent modulo 2 MiB (ideally 1 GiB). Aligning now keeps the layout usable later.",
        kernel: "Nothing fails today; the guest would be limited to 4 KiB stage-2 mappings.",
        fix: "Start the region on a 2 MiB boundary.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        let twoMiB: UInt64 = 2 << 20
        for region in context.regions
        where region.backing.value == .guestMemfd && region.size.value >= twoMiB && region.base.value % twoMiB != 0 {
            diagnostics.append(
                emit(
                    "guest_memfd region '\(region.name.value)' starts at \(hex(region.base.value)), not on a 2 MiB boundary",
                    at: region.base))
        }
    }
}

/// No two regions overlap. Sorting by base makes this O(n log n).
public enum RegionOverlap: Rule {
    public static let documentation = RuleDocumentation(
        id: "memory.overlap", severity: .error, summary: "Two regions overlap.",
        rationale: "Each guest physical address belongs to at most one region (memslot or MMIO hole).",
        kernel: "KVM_SET_USER_MEMORY_REGION(2) for a slot overlapping another slot's GFN range fails with EEXIST.",
        fix: "Move or shrink one of the regions.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        // Sort (base, end, index) triples, not the regions themselves: O(n log n) on small values.
        let regions = context.regions
        var spans: [(base: UInt64, end: UInt64, index: Int)] = []
        spans.reserveCapacity(regions.count)
        for (n, region) in regions.enumerated() where region.size.value > 0 {
            if let end = region.end { spans.append((region.base.value, end, n)) }
        }
        spans.sort { ($0.base, $0.index) < ($1.base, $1.index) }
        var furthest: (end: UInt64, index: Int)? = nil
        for span in spans {
            if let previous = furthest, span.base < previous.end {
                let region = regions[span.index]
                let other = regions[previous.index]
                let overlapEnd = min(previous.end, span.end)
                diagnostics.append(
                    emit(
                        "region '\(region.name.value)' overlaps '\(other.name.value)' (\(hex(span.base))..\(hex(overlapEnd - 1)))",
                        at: region.base,
                        notes: [DiagnosticNote("'\(other.name.value)' is declared here", at: other.base.location)]))
            }
            if span.end > (furthest?.end ?? 0) { furthest = (span.end, span.index) }
        }
    }
}

/// The number of memslots stays below KVM's limit.
public enum MemslotLimit: Rule {
    public static let documentation = RuleDocumentation(
        id: "memory.memslot-limit", severity: .error, summary: "More regions than KVM has memslots.",
        rationale: "Each region with backing becomes one memslot. KVM_CAP_NR_MEMSLOTS is 32764 on x86_64 (3 slots are internal) and 32767 on arm64.",
        kernel: "KVM_SET_USER_MEMORY_REGION(2) with a slot id at or above the limit fails with EINVAL.",
        fix: "Merge adjacent regions.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        let limit = context.host?.maxMemslots ?? context.traits.maxMemslots
        let slots = context.memslotRegions
        if slots.count > limit, let first = slots.dropFirst(limit).first {
            diagnostics.append(
                emit(
                    "\(slots.count) regions need memslots but KVM allows \(limit) on \(context.manifest.arch.value.rawValue); region '\(first.name.value)' is the first beyond the limit",
                    at: first.name))
        }
    }
}

/// A memslot holds at most 2^31 − 1 pages.
public enum SlotPageLimit: Rule {
    public static let documentation = RuleDocumentation(
        id: "memory.slot-pages", severity: .error, summary: "A region has more pages than one memslot can hold.",
        rationale: "KVM_MEM_MAX_NR_PAGES is 2^31 − 1 host pages (8 TiB with 4 KiB pages).",
        kernel: "KVM_SET_USER_MEMORY_REGION(2) fails with EINVAL when memory_size >> PAGE_SHIFT exceeds KVM_MEM_MAX_NR_PAGES.",
        fix: "Split the region in two.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        let maxPages: UInt64 = (1 << 31) - 1
        for region in context.memslotRegions where region.size.value / context.pageSize > maxPages {
            diagnostics.append(
                emit(
                    "region '\(region.name.value)' has \(region.size.value / context.pageSize) pages; a memslot holds at most \(maxPages)",
                    at: region.size))
        }
    }
}

/// Regions lie inside the guest physical address width.
public enum AddressWidth: Rule {
    public static let documentation = RuleDocumentation(
        id: "memory.gpa-width", severity: .error, summary: "A region lies beyond the guest physical address width.",
        rationale: "`gpa-bits` (or the platform default: 48 on x86_64, 40 on arm64) bounds every guest physical address.",
        kernel: "The guest cannot address the memory; on arm64 KVM_CREATE_VM with a too-small IPA size leaves the slot unreachable, and on TDX the GPA would alias the shared bit.",
        fix: "Lower the region's base, or raise `gpa-bits`.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard !context.isDamaged(.gpaBits), context.gpaBits < 64 else { return }
        let limit = UInt64(1) << UInt64(context.gpaBits)
        for region in context.regions {
            guard let end = region.end, end > limit else { continue }
            diagnostics.append(
                emit(
                    "region '\(region.name.value)' ends at \(hex(end)), beyond the \(context.gpaBits)-bit guest physical address space (\(hex(limit)))",
                    at: region.base))
        }
    }
}

/// `initial` only means something for convertible regions.
public enum InitialWithoutConvertible: Rule {
    public static let documentation = RuleDocumentation(
        id: "memory.initial", severity: .warning, summary: "`initial` is set on a region that is not convertible.",
        rationale: "Private regions start private and shared regions start shared; `initial` chooses only for `access: convertible`.",
        kernel: "Nothing reaches the kernel; the key is ignored.",
        fix: "Remove `initial`, or make the region `access: convertible`.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        for region in context.regions where region.initial.isExplicit && region.access.value != .convertible {
            diagnostics.append(
                emit(
                    "'initial' has no effect on region '\(region.name.value)' with access \(region.access.value.rawValue)",
                    at: region.initial))
        }
    }
}

/// MMIO holes (`backing: none`) are shared and carry no memslot options.
public enum MMIOHole: Rule {
    public static let documentation = RuleDocumentation(
        id: "memory.mmio", severity: .error, summary: "An MMIO hole (`backing: none`) has memory options.",
        rationale: "`backing: none` declares a range with no memslot: guest accesses exit to the launcher as KVM_EXIT_MMIO. It cannot be private, read-only, dirty-logged or guest_memfd-backed.",
        kernel: "Nothing reaches the kernel; the options would be silently meaningless.",
        fix: "Remove the options, or give the region a backing.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        for region in context.regions where region.backing.value == .none {
            if region.access.value != .shared {
                diagnostics.append(
                    emit("MMIO hole '\(region.name.value)' must have access shared, not \(region.access.value.rawValue)", at: region.access))
            }
            if region.readonly.value {
                diagnostics.append(emit("MMIO hole '\(region.name.value)' cannot be read-only", at: region.readonly))
            }
            if region.dirtyLog.value {
                diagnostics.append(emit("MMIO hole '\(region.name.value)' cannot be dirty-logged", at: region.dirtyLog))
            }
        }
    }
}

/// `guest-memfd:` options need `backing: guest-memfd`.
public enum GuestMemfdOptionsWithoutGuestMemfd: Rule {
    public static let documentation = RuleDocumentation(
        id: "gmem.options", severity: .error, summary: "`guest-memfd` options on a region not backed by guest_memfd.",
        rationale: "`guest-memfd: { mmap, init-shared }` are flags of KVM_CREATE_GUEST_MEMFD; they mean nothing for other backings.",
        kernel: "Nothing reaches the kernel; the options would be silently ignored.",
        fix: "Remove the options, or set `backing: guest-memfd`.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        for region in context.regions where region.guestMemfd != nil && region.backing.value != .guestMemfd {
            if let options = region.guestMemfd {
                diagnostics.append(
                    error(
                        "region '\(region.name.value)' has guest-memfd options but backing \(region.backing.value.rawValue)",
                        at: options.location, path: region.path.appending("guest-memfd")))
            }
        }
    }
}
