import KVM
import Plan

// Compares a plan's `requires` with this host before anything is created (DESIGN §3: exit 126 when the host
// lacks a capability or VM type). Every shortfall names what is missing and the manifest line that needs it:
//
//     Manifests/tdx.yaml:5:11: error: this host's KVM cannot create KVM_X86_TDX_VM (KVM_CAP_VM_TYPES = 0x1)

/// Something the plan needs that this host lacks.
public struct HostShortfall: Hashable, Sendable, CustomStringConvertible {
    public var message: String
    /// The manifest location of the requirement (`file:line:col`), when the plan has one.
    public var source: String?
    /// A KVM call of the check itself failed: not something the host lacks but a kernel (or kvmplan) failure,
    /// exit 125 rather than 126.
    public var isCallFailure: Bool

    public init(_ message: String, source: String? = nil, isCallFailure: Bool = false) {
        self.message = message
        self.source = source
        self.isCallFailure = isCallFailure
    }

    /// `file:line:col: error: message`, or `kvmplan: error: message` without a location.
    public var description: String { "\(source ?? "kvmplan"): error: \(message)" }
}

/// The host facts the comparison reads. `KVMHostFacts` asks /dev/kvm; tests substitute other hosts.
public protocol HostFacts {
    /// The architecture of this host's KVM.
    var architecture: PlanArch { get }
    /// `KVM_GET_API_VERSION`.
    func apiVersion() throws(KVMError) -> Int
    /// `KVM_CHECK_EXTENSION` on /dev/kvm.
    func checkExtension(_ number: UInt32) throws(KVMError) -> Int
    /// `KVM_CHECK_EXTENSION` of each of `numbers` on a temporary VM of `type` (created and closed here).
    func checkExtensionsOnVM(type: UInt64, _ numbers: [UInt32]) throws(KVMError) -> [UInt32: Int]
}

/// `HostFacts` of this host's /dev/kvm.
public struct KVMHostFacts: HostFacts {
    let system: KVMSystem

    /// Opens `devicePath`; a missing or inaccessible device throws (the launcher reports it as exit 126).
    public init(devicePath: String = KVMSystem.defaultPath) throws(KVMError) {
        system = try KVMSystem(path: devicePath)
    }

    public var architecture: PlanArch {
        #if arch(arm64)
        .arm64
        #else
        .x86_64
        #endif
    }

    public func apiVersion() throws(KVMError) -> Int { try system.apiVersion() }

    public func checkExtension(_ number: UInt32) throws(KVMError) -> Int {
        try system.checkExtension(KVMCapability(rawValue: number))
    }

    public func checkExtensionsOnVM(type: UInt64, _ numbers: [UInt32]) throws(KVMError) -> [UInt32: Int] {
        let vm = try system.createVM(type: KVM.VMType(rawValue: UInt(type)))
        var out: [UInt32: Int] = [:]
        for number in numbers { out[number] = try vm.checkExtension(KVMCapability(rawValue: number)) }
        return out
    }
}

public enum HostCheck {
    /// kvmplan's exit status for a non-empty list of shortfalls (DESIGN §3): 126 when the host lacks
    /// something, 125 when a KVM call of the check failed.
    public static func status(of shortfalls: [HostShortfall]) -> Int32 {
        shortfalls.contains(where: \.isCallFailure) ? 125 : 126
    }

    /// Every shortfall of this host for `plan` (`RequirementsCheck`, the checker `check --host` uses with host
    /// profiles). Empty means the host can try the plan.
    public static func shortfalls(of plan: Plan, on host: some HostFacts) -> [HostShortfall] {
        RequirementsCheck.shortfalls(of: plan.requires, arch: plan.arch, on: LiveAnswers(facts: host)).map {
            HostShortfall($0.message, source: $0.source?.description, isCallFailure: $0.isCallFailure)
        }
    }
}

/// A live host's facts as the requirements checker asks them: a failing `KVM_CREATE_VM` is a type the host cannot
/// create, any other failing call a failure of the check; every capability asked is answered.
struct LiveAnswers<Facts: HostFacts>: HostAnswers {
    let facts: Facts

    var architecture: PlanArch { facts.architecture }

    func apiVersion() throws(HostQueryFailure) -> Int {
        do { return try facts.apiVersion() } catch { throw .callFailed("\(error)") }
    }

    func capability(_ cap: Capability) throws(HostQueryFailure) -> Int? {
        do { return try facts.checkExtension(cap.number) } catch { throw .callFailed("\(error)") }
    }

    func capabilities(onVMOf type: PlanVMType, _ caps: [Capability]) throws(HostQueryFailure) -> [UInt32: Int] {
        let values: [UInt32: Int]
        do {
            values = try facts.checkExtensionsOnVM(type: type.value, caps.map(\.number))
        } catch {
            throw error.operation == .ioctl(.createVM) ? .cannotCreateVM("\(error)") : .callFailed("\(error)")
        }
        return Dictionary(caps.map { ($0.number, values[$0.number] ?? 0) }, uniquingKeysWith: { a, _ in a })
    }
}
