import Manifest

/// What a platform is, as data (DESIGN §2 platform table, KVM_UAPI.md §1.2, §3). The rules never switch on a
/// platform; they read these traits. What differs in the plan's step sequence lives in the platform's lowering
/// back end (`Compiler/Platforms/`); the machine type's name and value come from the uapi table.
public struct PlatformTraits: Sendable, Hashable {
    public var platform: Platform
    public var arch: Architecture
    /// `KVM_CREATE_VM`'s machine type (arm64: the type flag, the IPA size is added from gpa-bits; nil for a
    /// plain arm64 VM, whose type word is the IPA size alone). From the uapi table.
    public var vmType: UAPIMachineType?
    public var hasPrivateMemory: Bool
    /// Backings that can hold private memory on this platform.
    public var privateBackings: Set<Backing>
    public var defaultAccessType: AccessType?
    public var defaultConversion: [ConversionExit]
    /// Conversion exits the launcher can ever see on this platform.
    public var possibleConversion: Set<ConversionExit>
    /// A guest access can ask for a conversion by faulting: its private/shared intent (C-bit, shared GPA
    /// bit, RIPAS) can disagree with the page's attribute. False on sw-protected, where KVM takes the intent
    /// from the attribute itself (mmu.c), so a memory fault there never asks for a conversion.
    public var faultRequestsConversion = true
    public var readonlySlots: Bool
    public var dirtyLogging: Bool
    /// `GUEST_MEMFD_FLAG_INIT_SHARED` allowed (x86: only VMs without private memory).
    public var gmemInitShared: Bool
    /// guest_memfd slots must be created with `GUEST_MEMFD_FLAG_MMAP` ("gmem-only" arm64 slots).
    public var gmemNeedsMmap: Bool
    /// The launch is measured (SNP, TDX, CCA).
    public var measuredLaunch: Bool
    /// Guest page-state changes reach the launcher only as KVM_EXIT_HYPERCALL(KVM_HC_MAP_GPA_RANGE), and fail
    /// back to the guest without KVM_CAP_EXIT_HYPERCALL (SNP PSC, TDX MapGPA; KVM_UAPI.md §8).
    public var conversionNeedsHypercall = false
    /// vCPUs start at the reset vector chosen by the hardware; the VMM cannot set registers (TDX).
    public var startsAtResetVector = false
    /// What a vCPU reads before it validates memory must be measured private pages, so the launcher's boot
    /// area is populated by the launch command (SNP: KVM_SEV_SNP_LAUNCH_UPDATE; KVM_UAPI.md §8).
    public var measuresBootArea = false
    /// Its uapi is merged upstream (false: only in a posted series).
    public var uapiMerged: Bool
    public var testingOnly: Bool
    public var allowedGPABits: ClosedRange<Int>
    /// Only these widths (TDX: 48 or 52).
    public var discreteGPABits: [Int]?
    public var defaultGPABits: Int
    public var pageSize: UInt64
    public var maxMemslots: Int
    public var maxVCPUs: Int

    /// The bit of `KVM_CAP_VM_TYPES` that must be set on x86 (the type's value; nil on arm64).
    public var vmTypeBit: Int? { arch == .x86_64 ? vmType.map { Int($0.value) } : nil }

    /// The default shared bit for a given address width: TDX 47/51, SNP 51, CCA top IPA bit.
    public func defaultSharedBit(gpaBits: Int) -> Int? {
        switch defaultAccessType {
        case .gpaBit?: gpaBits > 48 ? 51 : 47
        case .cBit?: 51
        case .ipaBit?: gpaBits - 1
        default: nil
        }
    }

    /// The shared bit is fixed by the platform (TDX, CCA) rather than reported by the CPU (SNP).
    public var sharedBitIsDerived: Bool { defaultAccessType == .gpaBit || defaultAccessType == .ipaBit }

    public static func of(_ platform: Platform) -> PlatformTraits {
        switch platform {
        case .default: defaultX86
        case .swProtected: swProtected
        case .sevSnp: sevSnp
        case .tdx: tdx
        case .pkvm: pkvm
        case .cca: cca
        }
    }

    /// The traits of a platform on an architecture (arm64 `default` differs from x86 `default`).
    public static func of(_ platform: Platform, on arch: Architecture) -> PlatformTraits {
        platform == .default && arch == .arm64 ? defaultArm64 : of(platform)
    }

    static let x86Base = PlatformTraits(
        platform: .default, arch: .x86_64, vmType: .x86Default,
        hasPrivateMemory: false, privateBackings: [], defaultAccessType: nil, defaultConversion: [], possibleConversion: [],
        readonlySlots: true, dirtyLogging: true, gmemInitShared: true, gmemNeedsMmap: false, measuredLaunch: false,
        uapiMerged: true, testingOnly: false, allowedGPABits: 32...52, discreteGPABits: nil, defaultGPABits: 48,
        pageSize: 4096, maxMemslots: 32764, maxVCPUs: 1024)

    public static let defaultX86 = x86Base

    public static let swProtected: PlatformTraits = {
        var t = x86Base
        t.platform = .swProtected
        t.vmType = .x86SWProtected
        t.hasPrivateMemory = true
        t.privateBackings = [.guestMemfd]
        t.defaultAccessType = .attribute
        // Private-ness comes from the attribute (mmu.c): the guest converts by hypercall only (KVM_UAPI.md §8).
        t.defaultConversion = [.hypercall]
        t.possibleConversion = [.fault, .hypercall]
        t.faultRequestsConversion = false
        t.gmemInitShared = false
        t.testingOnly = true
        return t
    }()

    public static let sevSnp: PlatformTraits = {
        var t = x86Base
        t.platform = .sevSnp
        t.vmType = .x86SNP
        t.hasPrivateMemory = true
        t.privateBackings = [.guestMemfd]
        t.defaultAccessType = .cBit
        t.defaultConversion = [.hypercall, .fault]
        t.possibleConversion = [.hypercall, .fault]
        t.readonlySlots = false
        t.gmemInitShared = false
        t.measuredLaunch = true
        t.conversionNeedsHypercall = true
        t.measuresBootArea = true
        return t
    }()

    public static let tdx: PlatformTraits = {
        var t = x86Base
        t.platform = .tdx
        t.vmType = .x86TDX
        t.hasPrivateMemory = true
        t.privateBackings = [.guestMemfd]
        t.defaultAccessType = .gpaBit
        t.defaultConversion = [.hypercall, .fault]
        t.possibleConversion = [.hypercall, .fault]
        t.readonlySlots = false
        t.gmemInitShared = false
        t.measuredLaunch = true
        t.allowedGPABits = 48...52
        t.discreteGPABits = [48, 52]
        t.conversionNeedsHypercall = true
        t.startsAtResetVector = true
        return t
    }()

    static let arm64Base = PlatformTraits(
        platform: .default, arch: .arm64, vmType: nil,
        hasPrivateMemory: false, privateBackings: [], defaultAccessType: nil, defaultConversion: [], possibleConversion: [],
        readonlySlots: true, dirtyLogging: true, gmemInitShared: true, gmemNeedsMmap: true, measuredLaunch: false,
        uapiMerged: true, testingOnly: false, allowedGPABits: 32...52, discreteGPABits: nil, defaultGPABits: 40,
        pageSize: 4096, maxMemslots: 32767, maxVCPUs: 512)

    public static let defaultArm64 = arm64Base

    public static let pkvm: PlatformTraits = {
        var t = arm64Base
        t.platform = .pkvm
        t.vmType = .armProtected
        t.hasPrivateMemory = true
        t.privateBackings = [.anonymous, .memfd]
        t.defaultAccessType = .inPlace
        t.readonlySlots = false
        t.dirtyLogging = false
        return t
    }()

    public static let cca: PlatformTraits = {
        var t = arm64Base
        t.platform = .cca
        t.vmType = .armRealm  // posted series v14; 1 << 8 in v5…v13 (KVM_UAPI.md §8)
        t.hasPrivateMemory = true
        t.privateBackings = [.guestMemfd]
        t.defaultAccessType = .ipaBit
        t.defaultConversion = [.fault]
        t.possibleConversion = [.fault]
        t.readonlySlots = false
        t.dirtyLogging = false
        t.gmemNeedsMmap = false
        t.gmemInitShared = false
        t.measuredLaunch = true
        t.uapiMerged = false
        return t
    }()

    /// Which architecture each platform belongs to (`default` exists on both).
    public static func architectures(of platform: Platform) -> Set<Architecture> {
        switch platform {
        case .default: [.x86_64, .arm64]
        case .swProtected, .sevSnp, .tdx: [.x86_64]
        case .pkvm, .cca: [.arm64]
        }
    }
}
