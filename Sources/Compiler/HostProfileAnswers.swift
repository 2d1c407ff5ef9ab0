import Manifest
import Plan
import Rules

/// A host profile's answers to the requirements checker (`RequirementsCheck`, the one `kvmplan launch` uses on the
/// live host), for `check --host`: the capabilities the profile recorded, per VM type where it has them; a
/// capability `kvmplan probe` asks that the profile lacks reads as 0, any other as unknown (not a shortfall).
struct HostProfileAnswers: HostAnswers {
    let profile: HostProfile
    /// The manifest's platform: the profile names VM types and their capabilities by it.
    let platform: String

    var architecture: PlanArch { profile.arch == PlanArch.arm64.rawValue ? .arm64 : .x86_64 }

    func apiVersion() -> Int { profile.apiVersion }

    func capability(_ cap: Capability) -> Int? { value(of: cap, onVMOf: nil) }

    func capabilities(onVMOf type: VMType, _ caps: [Capability]) throws(HostQueryFailure) -> [UInt32: Int] {
        guard profile.supportsVMType(platform) else {
            throw .cannotCreateVM("the host profile's VM types are {\(profile.vmTypes.joined(separator: ", "))}, not \(platform)")
        }
        var out: [UInt32: Int] = [:]
        for cap in caps {
            if let value = value(of: cap, onVMOf: platform) { out[cap.number] = value }
        }
        return out
    }

    private func value(of cap: Capability, onVMOf platform: String?) -> Int? {
        if let recorded = profile.capability(cap.name, vmType: platform) { return Int(clamping: recorded) }
        switch cap {
        case .nrMemslots: return profile.maxMemslots
        case .maxVCPUs: return profile.maxVCPUs
        case .vmTypes:
            // The bitmap of the VM types the profile lists (bit n = type n).
            return profile.vmTypes.reduce(0) { bitmap, name in
                guard let bit = Platform(rawValue: name).flatMap({ PlatformTraits.of($0).vmTypeBit }) else { return bitmap }
                return bitmap | 1 << bit
            }
        default: return HostProfile.probedCapabilities.contains(cap.name) ? 0 : nil
        }
    }
}
