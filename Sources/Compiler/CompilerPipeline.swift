import Diagnostics
import Manifest
import Plan
import Rules

/// The compiler: parse → check → lower (DESIGN §1). Each stage is a function from one layer to the
/// next; the CLI only wires them and picks exit codes.
public struct CompilerPipeline: Sendable {
    public var files: any FileAccess
    public var host: HostProfile?

    public init(files: any FileAccess = LocalFileAccess(), host: HostProfile? = nil) {
        self.files = files
        self.host = host
    }

    /// The `parse` stage.
    public func parse(bytes: [UInt8], file: String) -> (Manifest?, Diagnostics) {
        ManifestParser.parse(bytes: bytes, file: file)
    }

    /// The `check` stage: every rule of the catalogue (and the host rules with a profile).
    /// Returns a checked manifest only when there are no errors.
    public func check(_ manifest: Manifest) -> (CheckedManifest?, Diagnostics) {
        var payloadPath: String? = nil
        var payloadFile: PayloadFile? = nil
        var initrdPath: String? = nil
        var initrdFile: PayloadFile? = nil
        if let payload = manifest.payload {
            let path = resolvePath(payload.path.value, relativeTo: manifest.file)
            payloadPath = path
            payloadFile = files.payload(at: path)
            if let initrd = payload.initrd, payload.format.value == .linux {
                let path = resolvePath(initrd.value, relativeTo: manifest.file)
                initrdPath = path
                initrdFile = files.payload(at: path)
            }
        }
        var context = RuleContext(
            manifest: manifest, payloadPath: payloadPath, payloadFile: payloadFile, initrdPath: initrdPath,
            initrdFile: initrdFile, host: host)
        for (key, value) in [("id-block", manifest.sevSnp?.idBlock), ("id-auth", manifest.sevSnp?.idAuth)] {
            guard let value else { continue }
            let path = resolvePath(value.value, relativeTo: manifest.file)
            context.launchFiles[key] = RuleContext.LaunchFile(path: path, file: files.payload(at: path))
        }
        var diagnostics = RuleRegistry.check(context)
        if let host {
            diagnostics.append(contentsOf: HostRules.check(context, host: host))
            if !diagnostics.hasErrors && manifest.damaged.isEmpty {
                diagnostics.append(contentsOf: Self.hostRequirements(CheckedManifest(context: context), host: host))
            }
        }
        let ok = !diagnostics.hasErrors && manifest.damaged.isEmpty
        return (ok ? CheckedManifest(context: context) : nil, diagnostics)
    }

    /// parse + check of one file's bytes, collecting every diagnostic of both stages; at most
    /// `Diagnostics.limitPerID` of each id, then one `format.more-diagnostics` note with the number left out.
    public func check(bytes: [UInt8], file: String) -> (CheckedManifest?, Diagnostics) {
        var (manifest, diagnostics) = parse(bytes: bytes, file: file)
        guard let manifest else { return (nil, Self.limited(diagnostics)) }
        let (checked, more) = check(manifest)
        diagnostics.append(contentsOf: more)
        return (diagnostics.hasErrors ? nil : checked, Self.limited(diagnostics))
    }

    static func limited(_ diagnostics: Diagnostics) -> Diagnostics { ManifestParser.limited(diagnostics) }
}
