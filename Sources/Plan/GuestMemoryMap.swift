import GuestLayout

/// The guest physical address space of a plan, as `kvmplan map` draws it: regions with what kind of memory
/// backs them, MMIO holes, the shared (C-, unprotected-IPA) bit alias, and where the payload and the
/// launcher's boot area lie. Derived from the plan's typed steps and handlers alone (never from step ids), so a
/// manifest and its plan JSON give one map, and a hand-edited plan cannot carry a map its steps contradict.
/// `Plan.memoryMap` is the plan's own: the diff findings, `kvmplan map` and the launcher's preview read it.
public struct GuestMemoryMap: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// Only the guest can read it (guest_memfd with the PRIVATE attribute; pKVM: donated at launch).
        case `private`
        /// The host can read it.
        case shared
        /// Both sides exist; the guest converts pages at run time.
        case convertible
        /// No memslot: every access exits to the launcher.
        case mmio
    }

    public struct Region: Hashable, Sendable {
        public var name: String
        public var range: GPARange
        public var kind: Kind
        /// For convertible regions: private at launch (else shared).
        public var initiallyPrivate: Bool
        public var readonly: Bool
        public var guestMemfd: Bool

        public var end: UInt64 { range.gpa &+ range.size }
    }

    /// A range inside the regions worth pointing at: the payload, the boot area.
    public struct Marker: Hashable, Sendable {
        public var label: String
        public var range: GPARange
    }

    public var name: String
    public var arch: PlanArch
    public var platform: PlanPlatform
    /// Regions in address order.
    public var regions: [Region]
    public var markers: [Marker]
    /// The bit that makes an access shared (SEV-SNP C-bit, TDX shared bit, CCA unprotected-IPA bit).
    public var sharedBit: Int?
    /// Guest physical address width, when the plan fixes it (TDX gpaw, arm64 IPA size).
    public var addressBits: Int?

    /// The launcher's boot area for protected and long mode (GDT and identity page tables).
    public static let bootArea = GPARange(gpa: X86BootArea.start, size: X86BootArea.end - X86BootArea.start)

    public init(plan: Plan) {
        name = plan.name
        arch = plan.arch
        platform = plan.platform
        var attributePrivate: [GPARange] = []
        var convertible: Set<String> = []
        var holes: [Region] = []
        var slots: [Region] = []
        var markers: [Marker] = []
        var tdxWidth: Int?
        var armIPABits: Int?
        for handler in plan.handlers {
            switch handler.kind {
            case .hypercallMapGPARange(let ranges, _, _), .memoryFault(let ranges, _, _):
                convertible.formUnion(ranges.map(\.region))
            case .mmio(let region, let range, let readonly) where !readonly:
                holes.append(Region(name: region, range: range, kind: .mmio, initiallyPrivate: false, readonly: false, guestMemfd: false))
            default: break
            }
        }
        var payloadSegments = 0
        for step in plan.steps {
            switch step.operation {
            case .setMemoryAttributes(let s) where s.attributes.contains(.private):
                let gpa = s.gpa, size = s.size
                attributePrivate.append(GPARange(gpa: gpa, size: size))
            case .setUserMemoryRegion(let s):
                let region = s.region, flags = s.flags, gpa = s.gpa, size = s.size
                slots.append(
                    Region(
                        name: region, range: GPARange(gpa: gpa, size: size), kind: .shared, initiallyPrivate: false,
                        readonly: flags.contains(.readonly), guestMemfd: false))
            case .setUserMemoryRegion2(let s):
                let region = s.region, flags = s.flags, gpa = s.gpa, size = s.size, gmem = s.guestMemfd
                slots.append(
                    Region(
                        name: region, range: GPARange(gpa: gpa, size: size), kind: .shared, initiallyPrivate: false,
                        readonly: flags.contains(.readonly), guestMemfd: gmem != nil))
            case .loadPayload(let s):
                let gpa = s.gpa, size = s.size
                markers.append(Marker(label: payloadSegments == 0 ? "payload" : "payload.\(payloadSegments)", range: GPARange(gpa: gpa, size: size)))
                payloadSegments += 1
            case .setBootState(let s) where s.mode == .protected || s.mode == .long:
                if !markers.contains(where: { $0.label == "boot area" }) { markers.append(Marker(label: "boot area", range: Self.bootArea)) }
            case .tdxInitVM(let s):
                let gpaw = s.gpaw
                tdxWidth = Int(gpaw)
            case .createVM(let s) where plan.arch == .arm64:
                let type = s.type
                let bits = Int(type.value & 0xff)
                armIPABits = bits == 0 ? 40 : bits
            default: break
            }
        }
        for index in slots.indices {
            let region = slots[index]
            // x86 says what is private with KVM_SET_MEMORY_ATTRIBUTES; a pKVM guest's memory is donated to it at
            // launch; a realm's guest_memfd memory lies in the protected IPA space (below the IPA bit).
            let privateAtLaunch =
                attributePrivate.contains { $0.contains(region.range) } || plan.platform == .pkvm
                || (plan.platform == .cca && region.guestMemfd)
            if convertible.contains(region.name) {
                slots[index].kind = .convertible
                slots[index].initiallyPrivate = privateAtLaunch
            } else if privateAtLaunch {
                slots[index].kind = .private
            }
        }
        regions = (slots + holes).sorted { ($0.range.gpa, $0.name) < ($1.range.gpa, $1.name) }
        self.markers = markers.sorted { $0.range.gpa < $1.range.gpa }
        switch plan.platform {
        case .sevSNP: sharedBit = 51
        case .tdx: sharedBit = (tdxWidth ?? 48) > 48 ? 51 : 47
        case .cca: sharedBit = (armIPABits ?? 40) - 1
        default: sharedBit = nil
        }
        addressBits = plan.platform == .tdx ? tdxWidth : plan.arch == .arm64 ? armIPABits : nil
    }

    /// The shared alias of a range: the same pages with the shared bit set.
    public func alias(of range: GPARange) -> GPARange? {
        guard let sharedBit, sharedBit < 64 else { return nil }
        return GPARange(gpa: range.gpa | (1 << UInt64(sharedBit)), size: range.size)
    }
}
