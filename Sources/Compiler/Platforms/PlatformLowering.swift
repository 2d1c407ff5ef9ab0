import Diagnostics
import Manifest
import Plan
import Rules

/// How one platform lowers: its back end of the `lower` stage, one file per platform (`Platforms/`). The plan
/// builder does what every platform shares (the system fd, the VM, capabilities, memory, payload copies, vCPUs,
/// handlers) and asks the platform for what differs. `PlanBuilder.backEnd` picks the back end with an exhaustive
/// switch: a platform added to the manifest vocabulary without a back end does not compile.
protocol PlatformLowering: Sendable {
    /// The platform as the plan spells it.
    var planPlatform: PlanPlatform { get }

    /// `KVM_CREATE_VM`'s machine type.
    func vmType(_ b: PlanBuilder) -> VMType

    /// Capabilities the platform needs beyond what the manifest's memory, vCPUs and payload ask for.
    func addRequirements(_ b: inout PlanBuilder)

    /// Devices opened before the VM exists (SEV-SNP: `/dev/sev`).
    func openDevices(_ b: inout PlanBuilder)

    /// Everything between the VM's capabilities and the handlers: memory, payload, vCPUs, launch commands, in
    /// the order the platform's kernel code requires. `boots`: the launcher sets the vCPUs' boot state.
    func lowerSequence(_ b: inout PlanBuilder, boots: Bool)

    /// The launch command that copies (and measures) one payload piece into private memory, if the platform
    /// has one; nil leaves the piece in the memory the host wrote.
    func populate(_ piece: PopulatedPiece, in b: inout PlanBuilder)

    /// A vCPU's set-up after `KVM_CREATE_VCPU` and its `kvm_run` mapping: CPUID or arm64 init, and the boot
    /// state when `boot`.
    func setUpVCPU(_ index: UInt32, boot: Bool, in b: inout PlanBuilder)
}

/// A payload piece in private memory that a launch command copies from its shared source: one ELF segment, a flat
/// image, or ELF segments that share pages.
struct PopulatedPiece {
    /// `payload`, `payload.1`, …: the suffix of the step ids.
    var suffix: String
    /// The first page of the piece and the whole pages it spans.
    var pageStart: UInt64
    var span: UInt64
    /// The payload bytes at their GPAs, in load order (slices of the payload file, not copies).
    var parts: [(gpa: UInt64, bytes: ArraySlice<UInt8>)]
    /// The shared source of the first page.
    var source: Address
    var measured: Bool
    var at: SourceLocation?
}

extension PopulatedPiece {
    static let pageSize: UInt64 = 4096

    /// Each page of the piece as the launch command reads it, zeros around the payload bytes (a fresh mapping),
    /// one page at a time: the back ends that measure contents (SEV-SNP's digest, TDX's MRTD) hold one page, not
    /// the span, whatever a payload's segments add up to.
    func forEachPage(_ body: (UInt64, [UInt8]) -> Void) {
        let byStart = parts.indices.sorted { (parts[$0].gpa, $0) < (parts[$1].gpa, $1) }
        var next = 0
        var active: [Int] = []
        var page = pageStart
        while page < pageStart + span {
            let pageEnd = page + Self.pageSize
            while next < byStart.count, parts[byStart[next]].gpa < pageEnd {
                active.append(byStart[next])
                next += 1
            }
            active.removeAll { parts[$0].gpa + UInt64(parts[$0].bytes.count) <= page }
            var buffer = [UInt8](repeating: 0, count: Int(Self.pageSize))
            for index in active.sorted() {  // load order: a later part's bytes win
                let part = parts[index]
                let from = max(part.gpa, page)
                let to = min(part.gpa + UInt64(part.bytes.count), pageEnd)
                guard from < to else { continue }
                let start = part.bytes.startIndex + Int(from - part.gpa)
                buffer.replaceSubrange(Int(from - page)..<Int(to - page), with: part.bytes[start..<start + Int(to - from)])
            }
            body(page, buffer)
            page = pageEnd
        }
    }
}

extension PlatformLowering {
    func addRequirements(_ b: inout PlanBuilder) { b.requireArmIPASize() }
    func openDevices(_ b: inout PlanBuilder) {}
    func populate(_ piece: PopulatedPiece, in b: inout PlanBuilder) {}

    func lowerSequence(_ b: inout PlanBuilder, boots: Bool) {
        b.lowerMemory()
        b.lowerPayload()
        b.createVCPUs(boot: boots)
    }

    func setUpVCPU(_ index: UInt32, boot: Bool, in b: inout PlanBuilder) { b.setUpVCPU(index, boot: boot) }
}

extension PlanBuilder {
    /// The platform's back end (exhaustive: one per manifest platform).
    static func backEnd(_ platform: Platform) -> any PlatformLowering {
        switch platform {
        case .default: DefaultLowering()
        case .swProtected: SWProtectedLowering()
        case .sevSnp: SEVSNPLowering()
        case .tdx: TDXLowering()
        case .pkvm: PKVMLowering()
        case .cca: CCALowering()
        }
    }

    /// arm64: the IPA size `gpa-bits` asks for (`KVM_CAP_ARM_VM_IPA_SIZE`).
    mutating func requireArmIPASize() {
        if manifest.arch.value == .arm64, let bits = manifest.gpaBits {
            requires.require(.armVMIPASize, .atLeast(UInt64(bits.value)), at: bits.location)
        }
    }

    /// An arm64 type word of `kind` with the manifest's IPA size (the `layout.gpa-bits` rule has refused any
    /// size KVM cannot take, so the fallback to the default 40 bits is never reached).
    func armVMType(_ kind: VMType.ArmKind) -> VMType {
        let bits = UInt8(manifest.gpaBits?.value ?? 0)
        return VMType.arm(ipaBits: bits, kind: kind) ?? VMType.arm(ipaBits: 0, kind: kind) ?? .x86Default
    }
}
