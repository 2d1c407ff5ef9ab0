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

    /// Every shortfall of this host for `plan`, in the order: architecture, API version, VM type, then the
    /// capabilities by name. Empty means the host can try the plan.
    public static func shortfalls(of plan: Plan, on host: some HostFacts) -> [HostShortfall] {
        let requires = plan.requires
        let typeSource = requires.vmType.source?.description
        let type = requires.vmType.type

        guard plan.arch == host.architecture else {
            return [
                HostShortfall(
                    "this host's KVM cannot create \(type.name): the host is \(host.architecture.rawValue), the plan is for \(plan.arch.rawValue)",
                    source: typeSource)
            ]
        }
        var out: [HostShortfall] = []
        do {
            let version = try host.apiVersion()
            if UInt64(version) != requires.apiVersion {
                out.append(HostShortfall("this host's KVM API version is \(version), the plan needs \(requires.apiVersion)"))
                return out
            }
        } catch {
            return [HostShortfall("\(error)", isCallFailure: true)]
        }

        // The VM type. x86: its bit in KVM_CAP_VM_TYPES (a kernel without the capability knows only type 0).
        var typeCreatable = true
        if plan.arch == .x86_64 && type.value != 0 {
            let bitmap: Int
            do {
                bitmap = try host.checkExtension(Capability.vmTypes.number)
            } catch {
                return out + [HostShortfall("\(error)", source: typeSource, isCallFailure: true)]
            }
            if type.value >= 64 || UInt64(bitmap) & (1 << type.value) == 0 {
                typeCreatable = false
                out.append(
                    HostShortfall(
                        "this host's KVM cannot create \(type.name) (\(Capability.vmTypes.name) = \(hex(UInt64(max(0, bitmap)))))",
                        source: typeSource))
            }
        }

        // Capabilities on /dev/kvm.
        for requirement in requires.sortedCapabilities where requirement.scope == .system {
            // KVM_CAP_VM_TYPES is the VM type's own check, reported above.
            if requirement.cap == .vmTypes && !typeCreatable { continue }
            let value: Int
            do {
                value = try host.checkExtension(requirement.cap.number)
            } catch {
                out.append(HostShortfall("\(error)", source: requirement.source?.description, isCallFailure: true))
                continue
            }
            if let shortfall = shortfall(requirement, value: value, on: "/dev/kvm") { out.append(shortfall) }
        }

        // Capabilities whose answer depends on the VM type: asked on a temporary VM of the plan's type. A type that
        // needs more than KVM (pKVM's kvm-arm.mode=protected, CCA) is tried even when nothing is asked of it.
        let vmScoped = requires.sortedCapabilities.filter { $0.scope == .vm }
        if (!vmScoped.isEmpty || type.hostNeeds != nil) && typeCreatable {
            do {
                let values = try host.checkExtensionsOnVM(type: type.value, vmScoped.map(\.cap.number))
                for requirement in vmScoped {
                    let value = values[requirement.cap.number] ?? 0
                    if let shortfall = shortfall(requirement, value: value, on: "a \(type.name) VM") { out.append(shortfall) }
                }
            } catch {
                // KVM_CREATE_VM refusing the type is something the host lacks; any other failing call is not.
                let lacks = error.operation == .ioctl(.createVM)
                let needs = type.hostNeeds.map { "; it needs \($0)" } ?? ""
                out.append(
                    HostShortfall(
                        lacks ? "this host's KVM cannot create \(type.name): \(error)\(needs)" : "\(error)", source: typeSource,
                        isCallFailure: !lacks))
            }
        }
        return out
    }

    static func shortfall(_ requirement: CapabilityRequirement, value: Int, on scope: String) -> HostShortfall? {
        let has = UInt64(max(0, value))
        guard value < 0 || !requirement.expect.isSatisfied(by: has) else { return nil }
        let name = requirement.cap.name
        let message: String
        switch requirement.expect {
        case .atLeast(let minimum):
            message =
                has == 0 && minimum == 1
                ? "this host's KVM lacks \(name) (KVM_CHECK_EXTENSION = 0 on \(scope))"
                : "this host's KVM has \(name) = \(has) on \(scope), the plan needs at least \(minimum)"
        case .bits(let mask):
            message = "this host's KVM has \(name) = \(hex(has)) on \(scope), the plan needs bits \(hex(mask)) (missing \(hex(mask & ~has)))"
        }
        return HostShortfall(message, source: requirement.source?.description)
    }
}
