import Diagnostics
import Manifest
import Plan
import Rules

extension CompilerPipeline {
    /// `check --host`: the plan's requirements against the host profile, with the one requirements checker
    /// (`RequirementsCheck`) the launcher uses on the live host, so a profile and /dev/kvm judge a manifest the same
    /// way. It needs the plan, so it runs when the manifest has no other error; each shortfall is located at the
    /// manifest key that needs the capability (`host.capability`, `host.gmem-flags`, `host.vm-type`).
    static func hostRequirements(_ checked: CheckedManifest, host: HostProfile) -> [Diagnostic] {
        let manifest = checked.manifest
        let plan = Lowering().lower(checked)
        let answers = HostProfileAnswers(profile: host, platform: manifest.platform.value.rawValue)
        let paths = keyPaths(manifest)
        let note = DiagnosticNote("host profile: \(host.kernel.isEmpty ? "unnamed kernel" : host.kernel) (\(host.arch))")
        return RequirementsCheck.shortfalls(of: plan.requires, arch: plan.arch, on: answers).map { shortfall in
            let id: DiagnosticID =
                switch shortfall.kind {
                case .architecture: "host.arch"
                case .vmType: "host.vm-type"
                case .capability(let cap) where cap == .guestMemfdFlags: "host.gmem-flags"
                case .apiVersion, .capability: "host.capability"
                }
            let location = shortfall.source ?? manifest.platform.location
            return .error(id, shortfall.message, at: location, path: paths[location] ?? .root, notes: [note])
        }
    }

    /// The data path of each manifest value a requirement can be located at (Lowering's `collectRequirements`).
    private static func keyPaths(_ manifest: Manifest) -> [SourceLocation: DataPath] {
        var out: [SourceLocation: DataPath] = [:]
        func add<T>(_ value: Located<T>?) {
            if let value, out[value.location] == nil { out[value.location] = value.path }
        }
        add(manifest.platform)
        add(manifest.gpaBits)
        add(manifest.vcpus)
        add(manifest.sharing?.conversion)
        add(manifest.payload?.format)
        let regions = DataPath.root.appending("memory").appending("regions")
        if out[manifest.memory.regionsLocation] == nil { out[manifest.memory.regionsLocation] = regions }
        for (index, region) in manifest.memory.regions.enumerated() {
            add(region.backing)
            add(region.readonly)
            add(region.access)
            if let options = region.guestMemfd, out[options.location] == nil {
                out[options.location] = regions.appending(index: index).appending("guest-memfd")
            }
        }
        return out
    }
}
