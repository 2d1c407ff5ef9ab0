import TestSupport
import Testing

@testable import Launcher

/// The sharing engine is tested by replaying conversion-exit sequences. This host's KVM has no private
/// memory (KVM_CAP_MEMORY_ATTRIBUTES = 0) and `vmcall` hangs it, so these exits cannot be produced here:
/// the sequences are modelled on the kernel selftest `private_mem_conversions_test` and on the exit
/// formats of KVM_UAPI.md §2.5 and §2.7 (SNP page-state changes, TDX MapGPA in 2 MiB chunks).
struct SharingEngineTests {
    typealias Engine = SharingEngine
    static let MiB: UInt64 = 1 << 20
    static let encrypted = Engine.mapGPARangeEncrypted

    func engine(onShare: Engine.OnShare = .punchHole, onUnshare: Engine.OnUnshare = .discard) -> Engine {
        Engine(
            regions: [
                .init(name: "ram", gpa: 0, size: 64 * Self.MiB, initiallyPrivate: true),
                .init(name: "swiotlb", gpa: 64 * Self.MiB, size: 4 * Self.MiB, initiallyPrivate: false),
            ], onShare: onShare, onUnshare: onUnshare)
    }

    @Test func initialStatesFollowTheManifest() {
        let e = engine()
        #expect(e.isPrivate(0) == true)
        #expect(e.isPrivate(64 * Self.MiB) == false)
        #expect(e.isPrivate(68 * Self.MiB) == nil)
        #expect(e.privateBytes == 64 * Self.MiB)
    }

    @Test func hypercallShareThenUnshare() {
        var e = engine()
        let share = e.handle(.mapGPARange(gpa: 0x10_0000, pages: 2, attributes: 0))
        #expect(
            share
                == .convert([
                    .setAttributes(gpa: 0x10_0000, size: 0x2000, private: false),
                    .punchHole(region: "ram", offset: 0x10_0000, size: 0x2000),
                ]))
        #expect(e.isPrivate(0x10_0000) == false)
        #expect(e.isPrivate(0x10_2000) == true)
        let unshare = e.handle(.mapGPARange(gpa: 0x10_0000, pages: 2, attributes: Self.encrypted))
        #expect(
            unshare
                == .convert([
                    .setAttributes(gpa: 0x10_0000, size: 0x2000, private: true),
                    .discardShared(region: "ram", offset: 0x10_0000, size: 0x2000),
                ]))
        #expect(e.privateBytes == 64 * Self.MiB)
    }

    @Test func convertingToTheCurrentStateDoesNothing() {
        var e = engine()
        #expect(e.handle(.mapGPARange(gpa: 0, pages: 16, attributes: Self.encrypted)) == .convert([]))
    }

    /// A memory fault asking for the state its range already has cannot be resolved: KVM faults again as
    /// soon as the vCPU runs (KVM_UAPI.md §8; the lab saw 75,000 such exits in 5 s before this was fatal).
    @Test(arguments: [
        (gpa: UInt64(64 << 20), flags: UInt64(0), state: "shared"),
        (gpa: UInt64(0), flags: Engine.memoryExitFlagPrivate, state: "private"),
    ])
    func aMemoryFaultForTheCurrentStateIsFatal(gpa: UInt64, flags: UInt64, state: String) {
        var e = engine()
        let before = e.privateBytes
        guard case .fatal(let reason) = e.handle(.memoryFault(gpa: gpa, size: 4096, flags: flags)) else {
            Issue.record("expected a fatal outcome")
            return
        }
        #expect(reason.contains("gpa \(hex(gpa)) size 0x1000 flags \(hex(flags))"))
        #expect(reason.contains("already \(state)"))
        #expect(e.privateBytes == before)
    }

    /// Bits 3:0 of the attributes are a preferred page size, not an alignment requirement: KVM itself
    /// forwards SNP entries with PAGE_SZ_2M and a 4 KiB-aligned range (sev.c, KVM_UAPI.md §8).
    @Test(arguments: [
        (gpa: UInt64(2 << 20), pages: UInt64(512)),
        (gpa: UInt64(0x1000), pages: UInt64(512)),
        (gpa: UInt64(2 << 20), pages: UInt64(256)),
        (gpa: UInt64(0x3000), pages: UInt64(1)),
    ])
    func pageSizeBitsAreAHint(gpa: UInt64, pages: UInt64) {
        for code: UInt64 in [1, 2] {
            var e = engine()
            guard case .convert(let actions) = e.handle(.mapGPARange(gpa: gpa, pages: pages, attributes: code)) else {
                Issue.record("page size code \(code) on \(hex(gpa))+\(pages) pages was refused")
                continue
            }
            #expect(actions.first == .setAttributes(gpa: gpa, size: pages * 4096, private: false))
        }
    }

    /// Refusals carry the engine's refusal value: `-KVM_EINVAL` by default (what KVM's own refusals put in
    /// RAX), `KVM_EINVAL` where the platform's completion interprets `ret` (SNP, TDX).
    @Test func refusalValueIsThePlatforms() {
        var plain = engine()
        #expect(plain.handle(.mapGPARange(gpa: 1 << 40, pages: 1, attributes: 0)).refusal == UInt64(bitPattern: -22))
        var snp = Engine(
            regions: [.init(name: "ram", gpa: 0, size: 64 * Self.MiB, initiallyPrivate: true)], onShare: .punchHole,
            onUnshare: .discard, refusal: Engine.EINVAL)
        #expect(snp.handle(.mapGPARange(gpa: 1 << 40, pages: 1, attributes: 0)).refusal == 22)
    }

    @Test func keepPoliciesNeitherPunchNorDiscard() {
        var e = engine(onShare: .keep, onUnshare: .keep)
        #expect(e.handle(.mapGPARange(gpa: 0, pages: 1, attributes: 0)) == .convert([.setAttributes(gpa: 0, size: 4096, private: false)]))
        #expect(
            e.handle(.mapGPARange(gpa: 0, pages: 1, attributes: Self.encrypted))
                == .convert([.setAttributes(gpa: 0, size: 4096, private: true)]))
    }

    /// TDX MapGPA of 8 MiB arrives as four KVM_HC_MAP_GPA_RANGE exits of at most 2 MiB each.
    @Test func tdxMapGPAArrivesInTwoMiBChunks() {
        var e = engine()
        for chunk in 0..<4 {
            let gpa = 8 * Self.MiB + UInt64(chunk) * 2 * Self.MiB
            let outcome = e.handle(.mapGPARange(gpa: gpa, pages: 512, attributes: 0))
            #expect(
                outcome
                    == .convert([
                        .setAttributes(gpa: gpa, size: 2 * Self.MiB, private: false),
                        .punchHole(region: "ram", offset: gpa, size: 2 * Self.MiB),
                    ]))
        }
        #expect(e.privateBytes == 56 * Self.MiB)
        #expect(e.isPrivate(8 * Self.MiB - 1) == true)
        #expect(e.isPrivate(16 * Self.MiB) == true)
    }

    @Test(arguments: [
        ("outside every region", Engine.Request.mapGPARange(gpa: 68 << 20, pages: 1, attributes: 0)),
        ("straddles the end", Engine.Request.mapGPARange(gpa: (68 << 20) - 4096, pages: 2, attributes: 0)),
        ("reserved bits", Engine.Request.mapGPARange(gpa: 0, pages: 1, attributes: 1 << 5)),
        ("unknown page size", Engine.Request.mapGPARange(gpa: 0, pages: 1, attributes: 3)),
        ("unaligned", Engine.Request.mapGPARange(gpa: 0x10, pages: 1, attributes: 0)),
        ("zero pages", Engine.Request.mapGPARange(gpa: 0, pages: 0, attributes: 0)),
        ("wrapping", Engine.Request.mapGPARange(gpa: UInt64.max - 4095, pages: 2, attributes: 0)),
    ])
    func refusedHypercallsLeaveStateUnchanged(_ name: String, _ request: Engine.Request) {
        var e = engine()
        let before = e.privateBytes
        guard case .refuse(let ret, let reason) = e.handle(request) else {
            Issue.record("\(name): expected a refusal")
            return
        }
        #expect(ret == Engine.minusKVMEINVAL)
        #expect(!reason.isEmpty)
        #expect(e.privateBytes == before)
    }

    @Test func rangesMaySpanAdjacentConvertibleRegions() {
        var e = engine()
        let start = 64 * Self.MiB - 4096
        let outcome = e.handle(.mapGPARange(gpa: start, pages: 2, attributes: Self.encrypted))
        #expect(
            outcome
                == .convert([
                    .setAttributes(gpa: 64 * Self.MiB, size: 4096, private: true),
                    .discardShared(region: "swiotlb", offset: 0, size: 4096),
                ]))
        #expect(e.isPrivate(64 * Self.MiB) == true)
    }

    @Test func memoryFaultsConvertToTheAccessType() {
        var e = engine()
        // A shared access to a private page: KVM exits with flags = 0.
        #expect(
            e.handle(.memoryFault(gpa: 0x20_0000, size: 4096, flags: 0))
                == .convert([
                    .setAttributes(gpa: 0x20_0000, size: 4096, private: false),
                    .punchHole(region: "ram", offset: 0x20_0000, size: 4096),
                ]))
        // A private access to it again: flags = KVM_MEMORY_EXIT_FLAG_PRIVATE.
        #expect(
            e.handle(.memoryFault(gpa: 0x20_0000, size: 4096, flags: Engine.memoryExitFlagPrivate))
                == .convert([
                    .setAttributes(gpa: 0x20_0000, size: 4096, private: true),
                    .discardShared(region: "ram", offset: 0x20_0000, size: 4096),
                ]))
    }

    @Test func memoryFaultsOutsideConvertibleMemoryStopTheGuest() {
        var e = engine()
        guard case .fatal(let reason) = e.handle(.memoryFault(gpa: 100 << 20, size: 4096, flags: 0)) else {
            Issue.record("expected a fatal outcome")
            return
        }
        #expect(reason.contains("outside sharing.convertible"))
        guard case .fatal = e.handle(.memoryFault(gpa: 0x123, size: 4096, flags: 0)) else {
            Issue.record("an unaligned fault must be fatal")
            return
        }
    }

    /// The private_mem_conversions_test pattern: the guest shares a range, converts sub-ranges back and
    /// forth (nested, at page and huge-page granularity), then makes the whole range private again.
    /// The engine's state must match a page-by-page reference model after every exit, and the actions
    /// must touch exactly the pages whose state changed.
    @Test(arguments: [UInt64(0), 4096, 2 << 20])
    func conversionsTestReplayMatchesAReferenceModel(offset: UInt64) {
        var e = engine()
        let pages = Int((68 * Self.MiB) / 4096)
        var model = [Bool](repeating: false, count: pages)
        for p in 0..<Int((64 * Self.MiB) / 4096) { model[p] = true }
        var rng = SplitMix64(seed: 0x6b_766d_706c_616e + offset)
        for step in 0..<400 {
            let base = offset + (rng.next() % 8192) * 4096
            let count = 1 + rng.next() % 1024
            let toPrivate = rng.next() % 2 == 0
            let request: Engine.Request =
                step % 3 == 0
                ? .memoryFault(gpa: base, size: count * 4096, flags: toPrivate ? Engine.memoryExitFlagPrivate : 0)
                : .mapGPARange(gpa: base, pages: count, attributes: toPrivate ? Self.encrypted : 0)
            let inRange = base + count * 4096 <= 68 * Self.MiB
            let isFault = step % 3 == 0
            let alreadyThere = inRange && (Int(base / 4096)..<Int(base / 4096 + count)).allSatisfy { model[$0] == toPrivate }
            let outcome = e.handle(request)
            if isFault && alreadyThere {
                // Nothing to convert for a fault: fatal (see aMemoryFaultForTheCurrentStateIsFatal).
                guard case .fatal = outcome else {
                    Issue.record("step \(step): a fault for the current state must be fatal, got \(outcome)")
                    return
                }
                continue
            }
            guard inRange else {
                switch outcome {
                case .refuse, .fatal: continue
                case .convert: Issue.record("step \(step): a range beyond convertible memory was converted")
                }
                continue
            }
            guard case .convert(let actions) = outcome else {
                Issue.record("step \(step): expected a conversion, got \(outcome)")
                return
            }
            var changed = Set<Int>()
            for p in Int(base / 4096)..<Int(base / 4096 + count) where model[p] != toPrivate {
                changed.insert(p)
                model[p] = toPrivate
            }
            var touched = Set<Int>()
            for action in actions {
                if case .setAttributes(let gpa, let size, let priv) = action {
                    #expect(priv == toPrivate)
                    for p in Int(gpa / 4096)..<Int((gpa + size) / 4096) { touched.insert(p) }
                }
            }
            #expect(touched == changed, "step \(step)")
        }
        for p in stride(from: 0, to: pages, by: 97) {
            #expect(e.isPrivate(UInt64(p) * 4096) == model[p])
        }
        #expect(e.privateBytes == UInt64(model.filter { $0 }.count) * 4096)
    }
}

extension SharingEngine.Outcome {
    /// The `ret` of a refusal, nil otherwise.
    var refusal: UInt64? {
        if case .refuse(let ret, _) = self { return ret }
        return nil
    }
}
