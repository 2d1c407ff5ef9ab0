import Diagnostics
import Manifest
import Rules

/// The output of the `check` stage: a manifest that passed every rule (warnings allowed), with the
/// values it leaves to platform defaults resolved in its `context`.
public struct CheckedManifest: Sendable {
    public var context: RuleContext
    public var manifest: Manifest { context.manifest }
    public var traits: PlatformTraits { context.traits }

    public init(context: RuleContext) { self.context = context }
}
