import Diagnostics

// MARK: - Architecture and platform

/// The architecture a plan is for. Data, not `#if arch`: an arm64 plan can be made and checked on x86.
public enum PlanArch: String, CaseIterable, Hashable, Sendable {
    case x86_64
    case arm64
}

/// The confidential-computing platform (or none) a plan is for, as the manifest spells it.
public enum PlanPlatform: String, CaseIterable, Hashable, Sendable {
    case `default`
    case swProtected = "sw-protected"
    case sevSNP = "sev-snp"
    case tdx
    case pkvm
    case cca

    /// The architectures the platform exists on.
    public var architectures: Set<PlanArch> {
        switch self {
        case .default: [.x86_64, .arm64]
        case .swProtected, .sevSNP, .tdx: [.x86_64]
        case .pkvm, .cca: [.arm64]
        }
    }

    /// The `kvm_run.hypercall.ret` with which the launcher refuses a guest's KVM_HC_MAP_GPA_RANGE.
    /// Where KVM copies `ret` into the guest's RAX unchanged (x86.c `complete_hypercall_exit`: sw-protected,
    /// default), it is `-KVM_EINVAL`, exactly what KVM answers for its own refusals, so the guest sees one
    /// error convention. SEV-SNP and TDX interpret `ret` (any non-zero value fails the page-state change;
    /// since 7.2 only EINVAL or EAGAIN are accepted, sev.c / tdx.c): there it is `KVM_EINVAL` (22).
    public var mapGPARangeRefusal: UInt64 {
        switch self {
        case .sevSNP, .tdx: Self.kvmEINVAL
        case .default, .swProtected, .pkvm, .cca: Self.minusKVMEINVAL
        }
    }

    /// `KVM_EINVAL` (include/uapi/linux/kvm_para.h: EINVAL, 22).
    public static let kvmEINVAL: UInt64 = 22
    /// `-KVM_EINVAL` as a 64-bit register value (what KVM puts in RAX for its own refusals).
    public static let minusKVMEINVAL = UInt64(bitPattern: -22)
}

// MARK: - Plan

/// The plan IR (DESIGN §4): an ordered list of typed steps over typed fds, the exit handlers of the
/// launcher, what the host must provide, and the payload. The lowering produces it; the launcher executes
/// it; the renderers print it as text, canonical JSON or C; `kvmplan diff` compares two of them.
public struct Plan: Hashable, Sendable {
    /// The plan format version this library reads and writes.
    public static let currentFormatVersion = 1

    /// The format version (`kvmplan-plan` in JSON). Always `currentFormatVersion` for plans of this library.
    public let formatVersion: Int
    /// The manifest's `name`.
    public var name: String
    public var arch: PlanArch
    public var platform: PlanPlatform
    /// `sha256:` + hex of the manifest file's bytes (computed by the caller).
    public var manifestDigest: String
    public var requires: Requirements
    public var steps: [Step]
    public var handlers: [Handler]
    public var payload: PayloadInfo?
    /// The expected launch measurement (SEV-SNP: the launch digest, LAUNCH_UPDATE pages then VMSAs; TDX: MRTD);
    /// nil when the plan has none or it depends on the host.
    public var measurement: PlanMeasurement?

    public init(
        name: String, arch: PlanArch, platform: PlanPlatform, manifestDigest: String, requires: Requirements,
        steps: [Step], handlers: [Handler] = [], payload: PayloadInfo? = nil, measurement: PlanMeasurement? = nil
    ) {
        self.measurement = measurement
        self.formatVersion = Plan.currentFormatVersion
        self.name = name
        self.arch = arch
        self.platform = platform
        self.manifestDigest = manifestDigest
        self.requires = requires
        self.steps = steps
        self.handlers = handlers
        self.payload = payload
    }

    /// `sha256:` + hex of the SHA-256 of the compact canonical JSON of what the plan executes (`digestBody`:
    /// no sources, comments, manifest digest or payload path). Any change to a step, handler, requirement or
    /// the payload's content changes it; where the manifest lies and how it was named do not.
    public var digest: String { PlanFormatting.sha256(of: digestBody.serialized(pretty: false)) }

    /// The step with `id`.
    public func step(id: String) -> Step? { steps.first { $0.id == id } }

    /// Whether any step relies on a uapi that is only posted, not merged.
    public var usesPostedUAPI: Bool { steps.contains { $0.uapiStatus == .posted } }

    /// The plan's guest memory map: regions with what backs them and who can read them at launch, MMIO holes,
    /// the shared-bit alias, payload and boot-area markers, derived from the typed steps and handlers.
    public var memoryMap: GuestMemoryMap { GuestMemoryMap(plan: self) }
}

/// The expected launch measurement of a plan: the values an attestation report must show.
public struct PlanMeasurement: Hashable, Sendable {
    /// SEV-SNP: the launch digest (`sha384:` + 96 hex) after the plan's LAUNCH_UPDATE steps, in order — the
    /// firmware's PAGE_INFO chain (SNPLaunchDigest).
    public var snpLaunchUpdates: String?
    /// SEV-SNP: the final launch digest, the attestation report's MEASUREMENT: the LAUNCH_UPDATEs, then each
    /// vCPU's VMSA as KVM builds it inside LAUNCH_FINISH (SNPVMSA). Absent in plans written before kvmplan modeled
    /// the VMSA.
    public var snpLaunchDigest: String?
    /// TDX: MRTD, the TD's build-time measurement over the plan's KVM_TDX_INIT_MEM_REGION steps (TDXMRTD).
    public var tdxMRTD: String?

    public init(snpLaunchUpdates: String? = nil, snpLaunchDigest: String? = nil, tdxMRTD: String? = nil) {
        self.snpLaunchUpdates = snpLaunchUpdates
        self.snpLaunchDigest = snpLaunchDigest
        self.tdxMRTD = tdxMRTD
    }

    /// The JSON keys of the members, in the order text and diff name them.
    static var members: [(key: String, path: WritableKeyPath<PlanMeasurement, String?>)] {
        [
            ("snp-launch-updates", \.snpLaunchUpdates), ("snp-launch-digest", \.snpLaunchDigest), ("tdx-mrtd", \.tdxMRTD),
        ]
    }
}
