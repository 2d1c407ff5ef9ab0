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

/// A payload piece in private memory that a launch command copies from its shared source.
struct PopulatedPiece {
    /// `payload`, `payload.1`, …: the suffix of the step ids.
    var suffix: String
    /// The first page of the piece and the whole pages it spans.
    var pageStart: UInt64
    var span: UInt64
    /// The piece's payload bytes and where they start in the first page.
    var bytes: [UInt8]
    var offsetInPage: UInt64
    /// The shared source of the first page.
    var source: Address
    var measured: Bool
    var at: SourceLocation?
}

extension PopulatedPiece {
    /// The piece's pages as the launch command reads them: zeros around the payload bytes (a fresh mapping).
    /// Built only by the back ends that measure them (SEV-SNP's digest, TDX's MRTD).
    var pages: [UInt8] {
        var pages = [UInt8](repeating: 0, count: Int(span))
        pages.replaceSubrange(Int(offsetInPage)..<Int(offsetInPage) + bytes.count, with: bytes)
        return pages
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
