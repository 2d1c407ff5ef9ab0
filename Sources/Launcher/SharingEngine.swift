import Plan

/// The sharing engine (DESIGN §7): a pure state machine over the private/shared state of guest pages.
/// It turns the conversion exits of private-memory VMs — `KVM_EXIT_MEMORY_FAULT` and
/// `KVM_EXIT_HYPERCALL(KVM_HC_MAP_GPA_RANGE)` — into the actions the launcher performs
/// (`KVM_SET_MEMORY_ATTRIBUTES`, hole punches, discards), following the manifest's policy, and refuses
/// conversions outside `sharing.convertible`. It performs no I/O, so every flow can be replayed in tests.
public struct SharingEngine: Sendable {
    public static let pageSize: UInt64 = 4096

    /// The plan's sharing policy words (`Plan.OnShare`, `Plan.OnUnshare`).
    public typealias OnShare = PlanOnShare
    public typealias OnUnshare = PlanOnUnshare

    /// A region whose pages may convert. `gmemOffset` is the offset of `gpa` in the region's guest_memfd.
    public struct ConvertibleRegion: Sendable, Hashable {
        public var name: String
        public var gpa: UInt64
        public var size: UInt64
        public var initiallyPrivate: Bool
        public var gmemOffset: UInt64

        public init(name: String, gpa: UInt64, size: UInt64, initiallyPrivate: Bool, gmemOffset: UInt64 = 0) {
            self.name = name
            self.gpa = gpa
            self.size = size
            self.initiallyPrivate = initiallyPrivate
            self.gmemOffset = gmemOffset
        }

        var end: UInt64 { gpa + size }
    }

    /// A conversion exit, decoded from `kvm_run`.
    public enum Request: Sendable, Hashable {
        /// `KVM_EXIT_MEMORY_FAULT`: `flags & KVM_MEMORY_EXIT_FLAG_PRIVATE` says the access was private.
        case memoryFault(gpa: UInt64, size: UInt64, flags: UInt64)
        /// `KVM_EXIT_HYPERCALL` with `nr == KVM_HC_MAP_GPA_RANGE`: args[0] GPA, args[1] number of 4 KiB pages,
        /// args[2] attributes (bits 3:0 page size 0=4K 1=2M 2=1G, bit 4 encrypted).
        case mapGPARange(gpa: UInt64, pages: UInt64, attributes: UInt64)
    }

    /// What the launcher must do, in order.
    public enum Action: Sendable, Hashable {
        /// `KVM_SET_MEMORY_ATTRIBUTES(gpa, size, private ? PRIVATE : 0)`.
        case setAttributes(gpa: UInt64, size: UInt64, private: Bool)
        /// `fallocate(PUNCH_HOLE | KEEP_SIZE)` on the region's guest_memfd: the private copy is freed.
        case punchHole(region: String, offset: UInt64, size: UInt64)
        /// `madvise(MADV_DONTNEED)` (or a punch hole on memfd backing) of the shared mapping: the shared copy is freed.
        case discardShared(region: String, offset: UInt64, size: UInt64)
    }

    public enum Outcome: Sendable, Hashable {
        /// Perform `actions`, then resume the vCPU (`hypercall.ret = 0` for a hypercall).
        case convert([Action])
        /// Refuse: answer the hypercall with `ret` (the engine's `refusal`) and resume; the guest sees an error.
        case refuse(ret: UInt64, reason: String)
        /// A memory fault that cannot be resolved: stop the guest with this reason.
        case fatal(reason: String)
    }

    public static let memoryExitFlagPrivate: UInt64 = 1 << 3
    public static let mapGPARangeEncrypted = MapGPARangeAttributes.encrypted.rawValue
    /// `-KVM_EINVAL` as a 64-bit register value: what KVM itself puts in RAX when it refuses a
    /// KVM_HC_MAP_GPA_RANGE (x86.c), and what `hypercall.ret` must hold for the guest to see the same.
    public static let minusKVMEINVAL = PlanPlatform.minusKVMEINVAL
    /// `KVM_EINVAL` (22): what SEV-SNP and TDX page-state-change completions expect in `hypercall.ret`.
    public static let EINVAL = PlanPlatform.kvmEINVAL

    /// The `hypercall.ret` of a refused KVM_HC_MAP_GPA_RANGE.
    public let refusal: UInt64

    public let regions: [ConvertibleRegion]
    public let onShare: OnShare
    public let onUnshare: OnUnshare
    /// Per region: sorted, non-overlapping, gap-free runs of pages with one state.
    private var runs: [[Run]]

    struct Run: Sendable, Hashable {
        var start: UInt64
        var end: UInt64
        var isPrivate: Bool
    }

    /// `refusal` is the `hypercall.ret` of a refused request: `minusKVMEINVAL` where the return value goes
    /// straight into the guest's RAX (sw-protected, default), `EINVAL` where KVM interprets it (SNP, TDX);
    /// `PlanPlatform.mapGPARangeRefusal` says which.
    public init(regions: [ConvertibleRegion], onShare: OnShare, onUnshare: OnUnshare, refusal: UInt64 = minusKVMEINVAL) {
        self.refusal = refusal
        let sorted = regions.sorted { $0.gpa < $1.gpa }
        self.regions = sorted
        self.onShare = onShare
        self.onUnshare = onUnshare
        self.runs = sorted.map { [Run(start: $0.gpa, end: $0.end, isPrivate: $0.initiallyPrivate)] }
    }

    /// Whether the page holding `gpa` is private now (`nil` outside every convertible region).
    public func isPrivate(_ gpa: UInt64) -> Bool? {
        guard let r = regionIndex(containing: gpa) else { return nil }
        return runs[r].first { gpa >= $0.start && gpa < $0.end }?.isPrivate
    }

    /// The private bytes of every region, for tests and `--trace`.
    public var privateBytes: UInt64 {
        runs.joined().filter(\.isPrivate).reduce(0) { $0 + ($1.end - $1.start) }
    }

    // MARK: - Handling exits

    public mutating func handle(_ request: Request) -> Outcome {
        switch request {
        case .memoryFault(let gpa, let size, let flags):
            let wantPrivate = flags & Self.memoryExitFlagPrivate != 0
            let what = "gpa \(hex(gpa)) size \(hex(size)) flags \(hex(flags))"
            guard size > 0, gpa % Self.pageSize == 0, size % Self.pageSize == 0, !gpa.addingReportingOverflow(size).overflow
            else { return .fatal(reason: "memory fault at \(what) is not page-aligned") }
            switch convert(gpa: gpa, size: size, toPrivate: wantPrivate) {
            case .success(let actions) where actions.isEmpty:
                // The range already has the state the access asked for, so KVM could not serve it for another
                // reason (a private gfn without guest_memfd, a guest_memfd error such as EHWPOISON): running
                // the vCPU again faults again at once (KVM_UAPI.md §8). No progress is possible.
                return .fatal(
                    reason: "memory fault at \(what): the range is already \(wantPrivate ? "private" : "shared"), "
                        + "so KVM cannot serve it and converting cannot help")
            case .success(let actions): return .convert(actions)
            case .failure(let refusal):
                return .fatal(
                    reason: "guest made a \(wantPrivate ? "private" : "shared") access at \(what) that cannot be converted: \(refusal.reason)")
            }
        case .mapGPARange(let gpa, let pages, let attributes):
            if attributes & ~UInt64(0x1F) != 0 {
                return .refuse(ret: refusal, reason: "reserved attribute bits set (\(hex(attributes)))")
            }
            // Bits 3:0 are the guest's *preferred* page size (hypercalls.rst), not an alignment requirement:
            // KVM itself forwards 2 MiB-sized SNP entries whose range is only 4 KiB aligned (KVM_UAPI.md §8).
            // Only the values the ABI defines (4K, 2M, 1G) are accepted.
            let pageSizeCode = attributes & 0xF
            guard pageSizeCode <= 2 else {
                return .refuse(ret: refusal, reason: "unknown page size code \(pageSizeCode)")
            }
            let (size, overflow) = pages.multipliedReportingOverflow(by: Self.pageSize)
            guard pages > 0, gpa % Self.pageSize == 0, !overflow, !gpa.addingReportingOverflow(size).overflow else {
                return .refuse(ret: refusal, reason: "empty, unaligned or wrapping range")
            }
            switch convert(gpa: gpa, size: size, toPrivate: attributes & Self.mapGPARangeEncrypted != 0) {
            case .success(let actions): return .convert(actions)
            case .failure(let refusal): return .refuse(ret: self.refusal, reason: refusal.reason)
            }
        }
    }

    private struct Refusal: Error { var reason: String }

    private func regionIndex(containing gpa: UInt64) -> Int? {
        // Binary search: regions are sorted and disjoint.
        var low = 0
        var high = regions.count
        while low < high {
            let mid = (low + high) / 2
            if regions[mid].end <= gpa { low = mid + 1 } else { high = mid }
        }
        return low < regions.count && gpa >= regions[low].gpa ? low : nil
    }

    /// Converts `[gpa, gpa+size)` to the wanted state. The range may span adjacent convertible regions but
    /// must lie entirely inside them; nothing changes unless all of it can.
    private mutating func convert(gpa: UInt64, size: UInt64, toPrivate: Bool) -> Result<[Action], Refusal> {
        let end = gpa + size
        var pieces: [(region: Int, start: UInt64, end: UInt64)] = []
        var cursor = gpa
        while cursor < end {
            guard let r = regionIndex(containing: cursor) else {
                return .failure(Refusal(reason: "\(hex(cursor)) is outside sharing.convertible"))
            }
            let pieceEnd = min(end, regions[r].end)
            pieces.append((r, cursor, pieceEnd))
            cursor = pieceEnd
        }
        var actions: [Action] = []
        for piece in pieces {
            let region = regions[piece.region]
            // The runs inside the piece that are in the other state need work.
            for run in runs[piece.region] where run.isPrivate != toPrivate {
                let s = max(run.start, piece.start)
                let e = min(run.end, piece.end)
                guard s < e else { continue }
                actions.append(.setAttributes(gpa: s, size: e - s, private: toPrivate))
                let offset = s - region.gpa
                if !toPrivate && onShare == .punchHole {
                    actions.append(.punchHole(region: region.name, offset: region.gmemOffset + offset, size: e - s))
                }
                if toPrivate && onUnshare == .discard {
                    actions.append(.discardShared(region: region.name, offset: offset, size: e - s))
                }
            }
            runs[piece.region] = Self.assign(runs[piece.region], start: piece.start, end: piece.end, isPrivate: toPrivate)
        }
        return .success(actions)
    }

    /// Sets `[start, end)` to one state in a run list, splitting and merging runs.
    static func assign(_ runs: [Run], start: UInt64, end: UInt64, isPrivate: Bool) -> [Run] {
        var out: [Run] = []
        out.reserveCapacity(runs.count + 2)
        func push(_ run: Run) {
            guard run.start < run.end else { return }
            if let last = out.last, last.end == run.start, last.isPrivate == run.isPrivate {
                out[out.count - 1].end = run.end
            } else {
                out.append(run)
            }
        }
        var inserted = false
        for run in runs {
            if run.end <= start || run.start >= end {
                if !inserted && run.start >= end {
                    push(Run(start: start, end: end, isPrivate: isPrivate))
                    inserted = true
                }
                push(run)
                continue
            }
            push(Run(start: run.start, end: max(run.start, start), isPrivate: run.isPrivate))
            if !inserted {
                push(Run(start: start, end: end, isPrivate: isPrivate))
                inserted = true
            }
            push(Run(start: min(run.end, max(end, run.start)), end: run.end, isPrivate: run.isPrivate))
        }
        if !inserted { push(Run(start: start, end: end, isPrivate: isPrivate)) }
        return out
    }
}

// The plan module's sharing words, by names that cannot be taken for `SharingEngine`'s own (the module `Plan` is
// shadowed by its struct `Plan`).
public typealias PlanOnShare = OnShare
public typealias PlanOnUnshare = OnUnshare
/// The plan's machine type, by a name the files that import the KVM module (which has its own `VMType`) can use.
typealias PlanVMType = VMType
