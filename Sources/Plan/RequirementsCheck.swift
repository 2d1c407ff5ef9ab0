import Diagnostics

// The one requirements checker (DESIGN §3, §6): a plan's `requires` against what a host answers. The launcher asks
// this host's /dev/kvm before creating anything (exit 126 on a shortfall); `kvmplan check --host PROFILE` asks a host
// profile captured elsewhere. Both go through `RequirementsCheck.shortfalls`, so a profile and the live host judge a
// plan the same way, with the same messages:
//
//     this host's KVM cannot create KVM_X86_TDX_VM (KVM_CAP_VM_TYPES = 0x1)
//     this host's KVM lacks KVM_CAP_GUEST_MEMFD (KVM_CHECK_EXTENSION = 0 on /dev/kvm)

/// What a host answers about itself: a live /dev/kvm, or a host profile.
public protocol HostAnswers {
    /// The architecture of the host's KVM.
    var architecture: PlanArch { get }
    /// `KVM_GET_API_VERSION`.
    func apiVersion() throws(HostQueryFailure) -> Int
    /// `KVM_CHECK_EXTENSION` of `cap` on /dev/kvm; nil when the host does not say (a profile that did not record it).
    func capability(_ cap: Capability) throws(HostQueryFailure) -> Int?
    /// `KVM_CHECK_EXTENSION` of each of `caps` on a VM of `type`, by capability number; a capability missing from the
    /// answer is one the host does not say.
    func capabilities(onVMOf type: VMType, _ caps: [Capability]) throws(HostQueryFailure) -> [UInt32: Int]
}

/// Why a host could not answer.
public enum HostQueryFailure: Error, Hashable, Sendable {
    /// KVM refused to create a VM of the type: something the host lacks (`KVM_CREATE_VM failed: EINVAL …`).
    case cannotCreateVM(String)
    /// A call of the check itself failed: not something the host lacks, but a kernel (or kvmplan) failure.
    case callFailed(String)
}

/// Something a plan needs that a host lacks.
public struct RequirementShortfall: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case architecture
        case apiVersion
        case vmType
        case capability(Capability)
    }

    public var kind: Kind
    public var message: String
    /// The manifest location of the requirement, when the plan has one.
    public var source: SourceLocation?
    /// A query of the check failed (exit 125 rather than 126).
    public var isCallFailure: Bool

    public init(_ kind: Kind, _ message: String, source: SourceLocation? = nil, isCallFailure: Bool = false) {
        (self.kind, self.message, self.source, self.isCallFailure) = (kind, message, source, isCallFailure)
    }
}

public enum RequirementsCheck {
    /// Every shortfall of `host` for `requires` (of a plan for `arch`), in the order: architecture, API version, VM
    /// type, then the capabilities by name. Empty means the host can try the plan. A capability the host does not
    /// say is not a shortfall.
    public static func shortfalls(
        of requires: Requirements, arch: PlanArch, on host: some HostAnswers
    ) -> [RequirementShortfall] {
        let typeSource = requires.vmType.source
        let type = requires.vmType.type

        guard arch == host.architecture else {
            return [
                RequirementShortfall(
                    .architecture,
                    "this host's KVM cannot create \(type.name): the host is \(host.architecture.rawValue), the plan is for \(arch.rawValue)",
                    source: typeSource)
            ]
        }
        var out: [RequirementShortfall] = []
        do {
            let version = try host.apiVersion()
            if UInt64(version) != requires.apiVersion {
                out.append(
                    RequirementShortfall(.apiVersion, "this host's KVM API version is \(version), the plan needs \(requires.apiVersion)"))
                return out
            }
        } catch {
            return [RequirementShortfall(.apiVersion, error.text, isCallFailure: true)]
        }

        // The VM type. x86: its bit in KVM_CAP_VM_TYPES (a kernel without the capability knows only type 0).
        var typeCreatable = true
        if arch == .x86_64 && type.value != 0 {
            let bitmap: Int?
            do {
                bitmap = try host.capability(.vmTypes)
            } catch {
                return out + [RequirementShortfall(.vmType, error.text, source: typeSource, isCallFailure: true)]
            }
            if let bitmap, type.value >= 64 || UInt64(max(0, bitmap)) & (1 << type.value) == 0 {
                typeCreatable = false
                out.append(
                    RequirementShortfall(
                        .vmType,
                        "this host's KVM cannot create \(type.name) (\(Capability.vmTypes.name) = \(PlanFormatting.hex(UInt64(max(0, bitmap)))))",
                        source: typeSource))
            }
        }

        // Capabilities on /dev/kvm.
        for requirement in requires.sortedCapabilities where requirement.scope == .system {
            // KVM_CAP_VM_TYPES is the VM type's own check, reported above.
            if requirement.cap == .vmTypes && !typeCreatable { continue }
            do {
                guard let value = try host.capability(requirement.cap) else { continue }
                if let shortfall = shortfall(requirement, value: value, on: "/dev/kvm") { out.append(shortfall) }
            } catch {
                out.append(
                    RequirementShortfall(.capability(requirement.cap), error.text, source: requirement.source, isCallFailure: true))
            }
        }

        // Capabilities whose answer depends on the VM type: asked on a VM of the plan's type. A type that needs more
        // than KVM (pKVM's kvm-arm.mode=protected, CCA) is tried even when nothing is asked of it.
        let vmScoped = requires.sortedCapabilities.filter { $0.scope == .vm }
        if (!vmScoped.isEmpty || type.hostNeeds != nil) && typeCreatable {
            do throws(HostQueryFailure) {
                let values = try host.capabilities(onVMOf: type, vmScoped.map(\.cap))
                for requirement in vmScoped {
                    guard let value = values[requirement.cap.number] else { continue }
                    if let shortfall = shortfall(requirement, value: value, on: "a \(type.name) VM") { out.append(shortfall) }
                }
            } catch {
                switch error {
                case .cannotCreateVM(let why):
                    let needs = type.hostNeeds.map { "; it needs \($0)" } ?? ""
                    out.append(
                        RequirementShortfall(.vmType, "this host's KVM cannot create \(type.name): \(why)\(needs)", source: typeSource))
                case .callFailed(let why):
                    out.append(RequirementShortfall(.vmType, why, source: typeSource, isCallFailure: true))
                }
            }
        }
        return out
    }

    /// The shortfall of `requirement` when the host answers `value` (read on `scope`), or nil when it suffices.
    static func shortfall(_ requirement: CapabilityRequirement, value: Int, on scope: String) -> RequirementShortfall? {
        let has = UInt64(max(0, value))
        guard value < 0 || !requirement.expect.isSatisfied(by: has) else { return nil }
        let name = requirement.cap.name
        let hex = PlanFormatting.hex
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
        return RequirementShortfall(.capability(requirement.cap), message, source: requirement.source)
    }
}

extension HostQueryFailure {
    /// The failure's message.
    public var text: String {
        switch self {
        case .cannotCreateVM(let why), .callFailed(let why): why
        }
    }
}
