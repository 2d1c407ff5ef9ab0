import Diagnostics
import Manifest
import Rules

/// Waived diagnostics: `check --ignore ID` for every file, and an inline `# kvmplan: ignore[ID]` comment
/// (several ids separated by commas) on the line a diagnostic points at. A stage of its own after `check`:
/// a pure function from diagnostics and the source to the diagnostics that remain.
///
/// Only findings that do not stop the plan can be waived: warnings, notes and `host.*` errors (a fleet
/// may knowingly keep a guest a host cannot run). Any other error means `plan` and `launch` would fail,
/// so waiving it would only move the failure out of CI. A comment that names an unknown id, an error that
/// cannot be waived, or nothing on its line is itself reported as a warning (`ignore.*`), so a stale waiver
/// does not linger.
public struct Waivers: Sendable {
    /// Ids ignored everywhere (`--ignore`).
    public var ignored: Set<DiagnosticID>

    public init(ignored: Set<DiagnosticID> = []) { self.ignored = ignored }

    /// One inline comment: the ids it names, on its line, with the column of each id.
    public struct InlineComment: Hashable, Sendable {
        public var line: Int
        public var ids: [(id: String, column: Int)]

        public static func == (a: InlineComment, b: InlineComment) -> Bool {
            a.line == b.line && a.ids.map(\.id) == b.ids.map(\.id) && a.ids.map(\.column) == b.ids.map(\.column)
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(line)
            for entry in ids { hasher.combine(entry.id) }
        }
    }

    /// Whether a diagnostic may be waived.
    public static func isWaivable(_ d: Diagnostic) -> Bool {
        !d.isToolFailure && (d.severity != .error || d.id.rawValue.hasPrefix("host."))
    }

    /// Whether an id may be named in a waiver: a known id whose findings can be waived.
    public static func waiverProblem(for id: String) -> String? {
        guard let doc = RuleCatalogue.byID[DiagnosticID(id)] else {
            let suggestion = ManifestMessages.closest(id, in: RuleCatalogue.all.map(\.id.rawValue)).map { "; did you mean '\($0)'?" } ?? ""
            return "unknown rule id '\(id)'\(suggestion)"
        }
        if doc.severity == .error && !id.hasPrefix("host.") {
            return "'\(id)' is an error that cannot be waived: plan and launch would fail on it (only warnings and host.* findings can be ignored)"
        }
        return nil
    }

    /// The `# kvmplan: ignore[…]` comments of a manifest. A comment starts at a `#` at the start of a line
    /// or after a space or tab; libyaml reports no comments, so a quoted string that contains this exact
    /// text counts as well.
    public static func inlineComments(in bytes: [UInt8]) -> [InlineComment] {
        let marker = Array("kvmplan:".utf8)
        let ignore = Array("ignore[".utf8)
        var out: [InlineComment] = []
        var line = 1
        var lineStart = 0
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte == 0x0A {
                line += 1
                lineStart = i + 1
            } else if byte == UInt8(ascii: "#"), i == lineStart || bytes[i - 1] == 0x20 || bytes[i - 1] == 0x09 {
                var j = i + 1
                while j < bytes.count, bytes[j] == 0x20 || bytes[j] == 0x09 { j += 1 }
                if bytes[j...].starts(with: marker) {
                    j += marker.count
                    while j < bytes.count, bytes[j] == 0x20 || bytes[j] == 0x09 { j += 1 }
                    if bytes[j...].starts(with: ignore) {
                        j += ignore.count
                        var ids: [(String, Int)] = []
                        var word: [UInt8] = []
                        var wordStart = j
                        while j < bytes.count, bytes[j] != UInt8(ascii: "]"), bytes[j] != 0x0A {
                            if bytes[j] == UInt8(ascii: ",") || bytes[j] == 0x20 || bytes[j] == 0x09 {
                                if !word.isEmpty { ids.append((String(decoding: word, as: UTF8.self), column(bytes, lineStart, wordStart))) }
                                word = []
                                wordStart = j + 1
                            } else {
                                word.append(bytes[j])
                            }
                            j += 1
                        }
                        if !word.isEmpty { ids.append((String(decoding: word, as: UTF8.self), column(bytes, lineStart, wordStart))) }
                        if !ids.isEmpty { out.append(InlineComment(line: line, ids: ids)) }
                    }
                }
                // The rest of the line is a comment.
                while i + 1 < bytes.count, bytes[i + 1] != 0x0A { i += 1 }
            }
            i += 1
        }
        return out
    }

    /// 1-based column in Unicode scalars (as every diagnostic counts them).
    private static func column(_ bytes: [UInt8], _ lineStart: Int, _ at: Int) -> Int {
        1 + bytes[lineStart..<at].count { $0 & 0xC0 != 0x80 }
    }

    /// The diagnostics of one file that remain after waivers, plus an `ignore.*` warning for each inline
    /// waiver that names an unknown id, an error that cannot be waived, or nothing on its line.
    public func apply(_ diagnostics: Diagnostics, file: String, inline: [InlineComment]) -> Diagnostics {
        var byLine: [Int: Set<String>] = [:]
        for comment in inline { byLine[comment.line, default: []].formUnion(comment.ids.map(\.id)) }
        var used: Set<[String]> = []
        var out = Diagnostics()
        for d in diagnostics {
            let waivable = Self.isWaivable(d)
            if waivable && ignored.contains(d.id) { continue }
            if waivable, d.location.file == file, byLine[d.location.line]?.contains(d.id.rawValue) == true {
                used.insert([String(d.location.line), d.id.rawValue])
                continue
            }
            out.append(d)
        }
        for comment in inline {
            for (id, column) in comment.ids {
                let at = SourceLocation(file: file, line: comment.line, column: column)
                if RuleCatalogue.byID[DiagnosticID(id)] == nil {
                    let suggestion = ManifestMessages.closest(id, in: RuleCatalogue.all.map(\.id.rawValue))
                    out.append(WaiverMessages.unknown(id, suggestion: suggestion, at: at))
                } else if let problem = Self.waiverProblem(for: id) {
                    out.append(WaiverMessages.notWaivable(id, problem, at: at))
                } else if !used.contains([String(comment.line), id]) {
                    out.append(WaiverMessages.unused(id, at: at))
                }
            }
        }
        return out
    }
}
