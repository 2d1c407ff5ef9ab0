import Diagnostics

/// Diagnostics for inputs kvmplan could not read: failures of the tool rather than findings about a
/// manifest (`Diagnostic.isToolFailure`). They are reported in every output format, counted in the summary,
/// and make `check` exit 2. One factory per id, sorted alphabetically.
public enum IOMessages {
    /// A host profile (`--host`) that cannot be read or is not a profile.
    public static func hostProfile(_ file: String, _ reason: String) -> Diagnostic {
        .error("io.host-profile", "cannot load host profile '\(file)': \(reason)", at: .wholeFile(file))
    }

    /// A manifest that cannot be read (missing, a directory, a device, unreadable, too large).
    public static func read(_ file: String, _ reason: String) -> Diagnostic {
        .error("io.read", "cannot read '\(file)': \(reason)", at: .wholeFile(file))
    }

    public static let documentation: [RuleDocumentation] = [
        RuleDocumentation(
            id: "io.host-profile", severity: .error, summary: "A host profile given with --host cannot be loaded.",
            rationale: "A check against a fleet that silently skipped one host would pass manifests that host cannot run.",
            kernel: "Nothing reaches the kernel.",
            fix: "Name a JSON file written by 'kvmplan probe --format json' on that host (or 'local'); the message says what is wrong with it."),
        RuleDocumentation(
            id: "io.read", severity: .error, summary: "A manifest cannot be read.",
            rationale: "A file that is missing, unreadable, not a regular file or larger than 64 MiB is a failure of the run, not a valid manifest: check exits 2 and every output format reports it, so CI never mistakes it for a pass.",
            kernel: "Nothing reaches the kernel.",
            fix: "Check the path and its permissions; pass regular files."),
    ]
}
