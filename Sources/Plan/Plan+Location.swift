import Diagnostics

extension Plan {
    /// The manifest the plan was compiled from, as it was named (the file of its VM-type requirement).
    public var manifestFile: String? { requires.vmType.source?.file ?? steps.lazy.compactMap(\.source).first?.file }

    /// The plan as `kvmplan plan` writes it, the same wherever the manifest lies and however it was named:
    /// every source relative to the manifest's directory (so `hello.yaml:5:7`, not
    /// `../guests/hello.yaml:5:7`), and the payload path as the manifest wrote it (relative to that
    /// directory). The digest does not change: it never covers sources or the payload path.
    public func relativeToManifestDirectory() -> Plan {
        guard let manifest = manifestFile, let slash = manifest.lastIndex(of: "/") else { return self }
        let directory = String(manifest[...slash])
        func relative(_ location: SourceLocation?) -> SourceLocation? {
            guard var location, location.file.hasPrefix(directory) else { return location }
            location.file = String(location.file.dropFirst(directory.count))
            return location
        }
        var plan = self
        plan.requires.vmType.source = relative(plan.requires.vmType.source)
        plan.requires.capabilities = plan.requires.capabilities.mapValues { requirement in
            var requirement = requirement
            requirement.source = relative(requirement.source)
            return requirement
        }
        if var flags = plan.requires.guestMemfdFlags {
            flags.source = relative(flags.source)
            plan.requires.guestMemfdFlags = flags
        }
        for index in plan.steps.indices { plan.steps[index].source = relative(plan.steps[index].source) }
        for index in plan.handlers.indices { plan.handlers[index].source = relative(plan.handlers[index].source) }
        if var payload = plan.payload {
            // The compiler resolved the manifest's relative path by prefixing the manifest's directory
            // (`resolvePath`); an absolute path stays as it is.
            if payload.path.hasPrefix(directory) { payload.path = String(payload.path.dropFirst(directory.count)) }
            if var initrd = payload.initrd, initrd.path.hasPrefix(directory) {
                initrd.path = String(initrd.path.dropFirst(directory.count))
                payload.initrd = initrd
            }
            payload.source = relative(payload.source)
            plan.payload = payload
        }
        return plan
    }
}
