import Diagnostics

/// Diagnostics the parser and decoder emit, one factory per id, sorted alphabetically.
/// The id of each is stable; `documentation` below describes every one for `kvmplan explain`.
public enum ManifestMessages {
    static func alias(_ what: String, at: SourceLocation, expansion: Int? = nil) -> Diagnostic {
        var notes = [DiagnosticNote("a manifest is data: write the value out instead of referring to it")]
        if let expansion { notes.append(DiagnosticNote("the document expands to more than \(expansion) nodes")) }
        return .error(
            "yaml.alias", "YAML \(what == "alias" ? "aliases" : what + "s") are not allowed in a manifest", at: at,
            notes: notes)
    }

    static func complexKey(at: SourceLocation, path: DataPath) -> Diagnostic {
        .error("yaml.complex-key", "mapping keys must be plain strings", at: at, path: path)
    }

    static func controlCharacter(_ key: String, _ text: String, at: SourceLocation, path: DataPath) -> Diagnostic {
        .error(
            "format.control-character",
            "'\(key)' value '\(clip(text))' contains a control character; paths are printable text",
            at: at, path: path)
    }

    static func duplicateKey(_ names: String, at: SourceLocation, first: SourceLocation? = nil) -> Diagnostic {
        .error(
            "yaml.duplicate-key", "duplicate key \(names) in one mapping", at: at,
            notes: first.map { [DiagnosticNote("first written here", at: $0)] } ?? [])
    }

    static func empty(at: SourceLocation) -> Diagnostic {
        .error("format.empty", "the manifest is empty; it needs at least kvmplan, name, arch, platform and memory", at: at)
    }

    static func encoding(_ message: String, at: SourceLocation) -> Diagnostic {
        .error("yaml.encoding", message, at: at)
    }

    static func integer(_ key: String, _ text: String, _ failure: ManifestInteger.Failure, at: SourceLocation, path: DataPath)
        -> Diagnostic
    {
        .error("format.integer", "'\(key)' value '\(clip(text))' \(failure.message)", at: at, path: path)
    }

    static func missingKey(_ key: String, in parent: String, at: SourceLocation, path: DataPath) -> Diagnostic {
        .error("format.missing-key", "missing required key '\(key)' in \(parent)", at: at, path: path.appending(key))
    }

    static func name(_ key: String, _ text: String, at: SourceLocation, path: DataPath) -> Diagnostic {
        .error(
            "format.name", "'\(key)' value '\(clip(text))' is not a valid name (use [a-z0-9][a-z0-9-]*, at most 63 characters)",
            at: at, path: path)
    }

    static func range(_ message: String, at: SourceLocation, path: DataPath) -> Diagnostic {
        .error("format.range", message, at: at, path: path)
    }

    static func syntax(_ message: String, at: SourceLocation) -> Diagnostic {
        .error("yaml.syntax", message, at: at)
    }

    static func tag(_ tag: String, at: SourceLocation, path: DataPath) -> Diagnostic {
        .error("yaml.tag", "YAML tag '\(clip(tag))' is not allowed in a manifest", at: at, path: path)
    }

    static func tooManyDirectives(_ limit: Int, at: SourceLocation) -> Diagnostic {
        .error(
            "yaml.too-many-directives", "more than \(limit) YAML directives (lines starting with '%'); a manifest needs none",
            at: at)
    }

    static func tooManyNodes(_ limit: Int, at: SourceLocation) -> Diagnostic {
        .error(
            "yaml.too-large", "the document has more than \(limit) nodes; no manifest needs that many (KVM has at most 32,764 memslots)",
            at: at)
    }

    /// The summary that replaces the diagnostics of one id beyond `Diagnostics.limitPerID` in one file.
    public static func moreOfTheSame(_ count: Int, id: DiagnosticID, limit: Int, at: SourceLocation) -> Diagnostic {
        Diagnostic(
            id: "format.more-diagnostics", severity: .note,
            message: "\(count) more \(id) diagnostic\(count == 1 ? "" : "s") like this one \(count == 1 ? "is" : "are") not shown (at most \(limit) of each id per file)",
            at: at)
    }

    static func type(_ key: String, expected: String, found: String, at: SourceLocation, path: DataPath) -> Diagnostic {
        .error("format.type", "'\(key)' must be \(expected), found \(found)", at: at, path: path)
    }

    static func unknownKey(_ key: String, allowed: [String], at: SourceLocation, path: DataPath) -> Diagnostic {
        var notes = [DiagnosticNote("allowed keys here: \(allowed.joined(separator: ", "))")]
        if let guess = closest(key, in: allowed) { notes.insert(DiagnosticNote("did you mean '\(guess)'?"), at: 0) }
        return .error("format.unknown-key", "unknown key '\(clip(key))'", at: at, path: path.appending(key), notes: notes)
    }

    /// An unknown key past the per-file limit: counted, never shown, so it carries no text worth computing.
    static func unknownKeyBeyondLimit(at: SourceLocation) -> Diagnostic {
        .error("format.unknown-key", "unknown key", at: at)
    }

    static func value(_ key: String, _ text: String, allowed: [String], at: SourceLocation, path: DataPath) -> Diagnostic {
        var notes: [DiagnosticNote] = []
        if let guess = closest(text, in: allowed) { notes.append(DiagnosticNote("did you mean '\(guess)'?")) }
        return .error(
            "format.value", "'\(key)' must be one of \(allowed.joined(separator: ", ")); found '\(clip(text))'", at: at,
            path: path, notes: notes)
    }

    static func version(_ text: String, at: SourceLocation, path: DataPath) -> Diagnostic {
        .error(
            "format.version", "unsupported manifest format '\(clip(text))'; this kvmplan reads format 1", at: at, path: path)
    }

    // MARK: - Helpers

    static func clip(_ s: String) -> String {
        // Every control character visible (ESC, BEL, NUL, newline…): a message is printed on a terminal.
        let oneLine = TerminalText.oneLine(s)
        return oneLine.count > 60 ? String(oneLine.prefix(57)) + "..." : oneLine
    }

    /// The closest allowed word by edit distance, when it is close enough to be a likely typo.
    public static func closest(_ word: String, in candidates: [String]) -> String? {
        guard word.count <= 40 else { return nil }
        let w = Array(word.lowercased())
        var best: (String, Int)? = nil
        for c in candidates {
            let d = editDistance(w, Array(c))
            if d <= max(1, c.count / 3), d < (best?.1 ?? Int.max) { best = (c, d) }
        }
        return best?.0
    }

    private static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var beforePrevious = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                // A swapped pair of letters (Damerau transposition) costs one edit.
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], beforePrevious[j - 2] + 1)
                }
            }
            (beforePrevious, previous, current) = (previous, current, beforePrevious)
        }
        return previous[b.count]
    }
}
