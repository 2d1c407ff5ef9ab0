/// Private-memory consistency of a plan (`Plan.validate()`): what the kernel would accept but that cannot work,
/// refused before any ioctl runs.
///
/// - A `KVM_SET_MEMORY_ATTRIBUTES … PRIVATE` range that overlaps a memslot without a guest_memfd: every guest
///   access there ends in `KVM_EXIT_MEMORY_FAULT` that no conversion can resolve (mmu.c `kvm_faultin_pfn`:
///   a private gfn is served only from guest_memfd; KVM_UAPI.md §8, measured in the lab).
/// - A convertible range (the sharing handlers) on a memslot without a guest_memfd: its pages could never
///   become private.
/// - A host access (a `load`, or the source of a launch command) through an mmap of a guest_memfd created
///   without `INIT_SHARED`: its pages are private to the host, and touching them raises SIGBUS
///   (guest_memfd.c `kvm_gmem_fault_user_mapping`), killing the launcher.
/// - An mmap of a guest_memfd created without `GUEST_MEMFD_FLAG_MMAP` (the kernel refuses it).
///
/// A PRIVATE range outside every memslot is allowed: KVM accepts it, nothing on the host can touch it, and a
/// guest access there ends the launch with the memory-fault exit (the lab's memory-fault test uses one).
extension Plan {
    func validatePrivateMemory(_ issues: inout [PlanIssue]) {
        var gmemFlags: [FdRef: GuestMemfdFlags] = [:]
        /// The guest_memfd each mapping maps, when it maps one.
        var mappedGmem: [FdRef: FdRef] = [:]
        var plainSlots: [(region: String, range: GPARange)] = []

        for (index, step) in steps.enumerated() {
            func issue(_ message: String, field: String) {
                issues.append(
                    PlanIssue("plan.private-memory", message, stepIndex: index, stepID: step.id, field: field, source: step.source))
            }
            switch step.operation {
            case .createGuestMemfd(let s):
                let name = s.name, flags = s.flags
                gmemFlags[.guestMemfd(name)] = flags
            case .mmap(let s):
                guard case .guestMemfd(let gmem) = s.source else { break }
                let name = s.name
                mappedGmem[.mapping(name)] = gmem
                if let flags = gmemFlags[gmem], !flags.contains(.mmap) {
                    issue("\(gmem) was created without GUEST_MEMFD_FLAG_MMAP and cannot be mapped", field: "args.source")
                }
            case .setUserMemoryRegion, .setUserMemoryRegion2:
                if let slot = step.operation.memslot, slot.guestMemfd == nil {
                    plainSlots.append((slot.region, GPARange(gpa: slot.gpa, size: slot.size)))
                }
            case .setMemoryAttributes(let s) where s.attributes.contains(.private):
                let gpa = s.gpa, size = s.size
                let range = GPARange(gpa: gpa, size: size)
                for slot in plainSlots where slot.range.overlaps(range) {
                    issue(
                        "PRIVATE attributes on \(range) overlap the memslot of region '\(slot.region)', which has no "
                            + "guest_memfd: KVM could serve no guest access there (KVM_EXIT_MEMORY_FAULT)",
                        field: "args.gpa")
                }
            default:
                break
            }
            for (field, address) in step.operation.hostAccesses {
                if let gmem = mappedGmem[address.map], let flags = gmemFlags[gmem], !flags.contains(.initShared) {
                    issue(
                        "\(address.map) maps \(gmem), created without INIT_SHARED: its pages are private and the host "
                            + "cannot touch them (SIGBUS)",
                        field: "args." + field)
                }
            }
        }

        for (index, handler) in handlers.enumerated() {
            let ranges: [ConvertibleRange]
            switch handler.kind {
            case .hypercallMapGPARange(let convertible, _, _), .memoryFault(let convertible, _, _): ranges = convertible
            default: continue
            }
            for range in ranges {
                for slot in plainSlots where slot.range.overlaps(range.range) {
                    issues.append(
                        PlanIssue(
                            "plan.private-memory",
                            "convertible range \(range.range) of region '\(range.region)' overlaps the memslot of region "
                                + "'\(slot.region)', which has no guest_memfd: its pages could never become private",
                            field: "handlers[\(index)].convertible", source: handler.source))
                }
            }
        }
    }
}

extension GPARange {
    /// Whether the two ranges share at least one byte (ranges that wrap past 2^64 are clamped).
    func overlaps(_ other: GPARange) -> Bool {
        guard size > 0, other.size > 0 else { return false }
        let end = gpa.addingReportingOverflow(size)
        let otherEnd = other.gpa.addingReportingOverflow(other.size)
        let a = end.overflow ? UInt64.max : end.partialValue
        let b = otherEnd.overflow ? UInt64.max : otherEnd.partialValue
        return gpa < b && other.gpa < a
    }
}

extension Operation {
    /// The host addresses the launcher reads or writes for this step (field name, address).
    var hostAccesses: [(String, Address)] {
        switch self {
        case .loadPayload(let s): [("offset", s.into)]
        case .loadInitrd(let s): [("offset", s.into)]
        case .linuxBootParams(let s): [("offset", s.into)]
        case .linuxMPTable(let s): [("offset", s.into)]
        case .snpLaunchUpdate(let s): [("source", s.source)]
        case .tdxInitMemRegion(let s): [("source", s.source)]
        case .armRMIPopulate(let s): [("source", s.source)]
        default: []
        }
    }
}
