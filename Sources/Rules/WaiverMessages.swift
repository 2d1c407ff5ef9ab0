import Diagnostics

/// Diagnostics about waivers (`# kvmplan: ignore[ID]`), one factory per id, sorted alphabetically.
public enum WaiverMessages {
    public static func notWaivable(_ id: String, _ problem: String, at: SourceLocation) -> Diagnostic {
        .warning("ignore.not-waivable", problem, at: at, notes: [DiagnosticNote("the error is still reported")])
    }

    public static func unknown(_ id: String, suggestion: String?, at: SourceLocation) -> Diagnostic {
        .warning(
            "ignore.unknown", "unknown rule id '\(id)' in an ignore comment", at: at,
            notes: suggestion.map { [DiagnosticNote("did you mean '\($0)'?")] } ?? [])
    }

    public static func unused(_ id: String, at: SourceLocation) -> Diagnostic {
        .warning(
            "ignore.unused", "'\(id)' is ignored on this line, but nothing here reports it", at: at,
            notes: [DiagnosticNote("remove the waiver, or move it to the line the diagnostic points at")])
    }

    public static let documentation: [RuleDocumentation] = [
        RuleDocumentation(
            id: "ignore.not-waivable", severity: .warning, summary: "An ignore comment names an error that cannot be waived.",
            rationale: "Only warnings and host.* findings can be waived: any other error means 'kvmplan plan' and 'launch' fail, so a waiver would only move the failure out of CI.",
            kernel: "Nothing reaches the kernel.", fix: "Fix the error the comment names, and remove the comment."),
        RuleDocumentation(
            id: "ignore.unknown", severity: .warning, summary: "An ignore comment names a rule id that does not exist.",
            rationale: "A misspelt id waives nothing; the diagnostic it meant to waive is still reported.",
            kernel: "Nothing reaches the kernel.", fix: "Use an id from 'kvmplan explain --list' (the note suggests the closest)."),
        RuleDocumentation(
            id: "ignore.unused", severity: .warning, summary: "An ignore comment waives nothing on its line.",
            rationale: "A waiver whose finding is gone (fixed, or moved to another line) would silently waive a future one.",
            kernel: "Nothing reaches the kernel.", fix: "Remove the comment, or put it on the line the diagnostic points at."),
    ]
}
