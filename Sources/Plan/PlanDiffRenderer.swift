import Diagnostics

/// Renders a `PlanDiff` as text or JSON. Styling goes through semantic tokens so tests can compare a
/// plain or a `[red]…[reset]` markup form (STYLE rule 7); ANSI colour only on a terminal.
public struct PlanDiffRenderer: Sendable {
    public enum Style: Sendable { case plain, ansi, markup }

    public var style: Style

    public init(style: Style = .plain) { self.style = style }

    enum Token { case added, removed, changed, risk(RiskClass), dim, summary }

    /// Each risk class has a colour of its own, so a glance tells an exposure from a layout change:
    /// exposure red, measurement magenta, compatibility yellow, layout cyan (all bold). Step actions use
    /// the plain colours of diff(1): + green, - red, ~ and ± yellow.
    func paint(_ s: String, _ token: Token) -> String {
        switch style {
        case .plain: return s
        case .ansi:
            let code: String
            switch token {
            case .added: code = "32"
            case .removed: code = "31"
            case .changed: code = "33"
            case .risk(.exposure): code = "1;31"
            case .risk(.measurement): code = "1;35"
            case .risk(.compatibility): code = "1;33"
            case .risk(.layout): code = "1;36"
            case .dim: code = "2"
            case .summary: code = "1"
            }
            return "\u{1B}[\(code)m\(s)\u{1B}[0m"
        case .markup:
            let name: String
            switch token {
            case .added: name = "green"
            case .removed: name = "red"
            case .changed: name = "yellow"
            case .risk(.exposure): name = "bold-red"
            case .risk(.measurement): name = "bold-magenta"
            case .risk(.compatibility): name = "bold-yellow"
            case .risk(.layout): name = "bold-cyan"
            case .dim: name = "dim"
            case .summary: name = "bold"
            }
            return "[\(name)]\(s)[reset]"
        }
    }

    /// `2 findings: 1 exposure, 1 layout; 5 changes: 2 added, 3 removed` (classes and actions in a fixed
    /// order, zero counts left out).
    public static func summary(_ diff: PlanDiff) -> String {
        let findings = RiskClass.allCases.compactMap { risk -> String? in
            let n = diff.findings.count { $0.risk == risk }
            return n == 0 ? nil : "\(n) \(risk.rawValue)"
        }
        let actions: [(PlanChange.Action, String)] = [(.added, "added"), (.removed, "removed"), (.changed, "changed"), (.moved, "moved")]
        let changes = actions.compactMap { action, word -> String? in
            let n = diff.changes.count { $0.action == action }
            return n == 0 ? nil : "\(n) \(word)"
        }
        func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
        var out = plural(diff.findings.count, "finding")
        if !findings.isEmpty { out += ": " + findings.joined(separator: ", ") }
        out += "; " + plural(diff.changes.count, "change")
        if !changes.isEmpty { out += ": " + changes.joined(separator: ", ") }
        return out
    }

    static func place(_ before: SourceLocation?, _ after: SourceLocation?) -> String {
        switch (before, after) {
        case (let b?, let a?): return "(\(b) → \(a))"
        case (let b?, nil): return "(\(b))"
        case (nil, let a?): return "(\(a))"
        default: return ""
        }
    }

    public func text(_ diff: PlanDiff, left: String, right: String) -> String {
        guard !diff.isEmpty else { return "plans are the same\n" }
        var out = "--- \(left)\n+++ \(right)\n"
        if !diff.findings.isEmpty {
            out += "findings:\n"
            let width = RiskClass.allCases.map(\.rawValue.count).max() ?? 0
            for f in diff.findings {
                let pad = String(repeating: " ", count: width - f.risk.rawValue.count)
                out += "  \(paint(f.risk.rawValue, .risk(f.risk)))\(pad)  \(f.message)"
                let place = Self.place(f.before, f.after)
                out += place.isEmpty ? "\n" : "  \(paint(place, .dim))\n"
            }
        }
        if !diff.changes.isEmpty {
            out += "steps:\n"
            for c in diff.changes {
                let token: Token = c.action == .added ? .added : c.action == .removed ? .removed : .changed
                out += paint("  \(c.action.rawValue) \(c.id)  \(c.op)", token)
                let place = Self.place(c.before, c.after)
                out += place.isEmpty ? "\n" : "  \(paint(place, .dim))\n"
                for field in c.fields {
                    out += "      \(field.name): \(field.before ?? "(none)") → \(field.after ?? "(none)")\n"
                }
            }
        }
        out += paint(Self.summary(diff), .summary) + "\n"
        return out
    }

    public func json(_ diff: PlanDiff, left: String, right: String) -> JSONValue {
        func loc(_ l: SourceLocation?) -> JSONValue { l.map { .string($0.description) } ?? .null }
        return .object([
            "left": .string(left),
            "right": .string(right),
            "same": .bool(diff.isEmpty),
            "summary": .object([
                "text": .string(Self.summary(diff)),
                "findings": .object(
                    Dictionary(
                        uniqueKeysWithValues: RiskClass.allCases.map { risk in
                            (risk.rawValue, JSONValue.int(Int64(diff.findings.count { $0.risk == risk })))
                        })),
                "changes": .object([
                    "added": .int(Int64(diff.changes.count { $0.action == .added })),
                    "removed": .int(Int64(diff.changes.count { $0.action == .removed })),
                    "changed": .int(Int64(diff.changes.count { $0.action == .changed })),
                    "moved": .int(Int64(diff.changes.count { $0.action == .moved })),
                ]),
            ]),
            "findings": .array(
                diff.findings.map { f in
                    .object([
                        "risk": .string(f.risk.rawValue), "message": .string(f.message),
                        "region": f.region.map { .string($0) } ?? .null, "before": loc(f.before), "after": loc(f.after),
                    ])
                }),
            "changes": .array(
                diff.changes.map { c in
                    .object([
                        "action": .string(c.action.rawValue), "id": .string(c.id), "op": .string(c.op),
                        "before": loc(c.before), "after": loc(c.after),
                        // Values as the plans' JSON has them (numbers, booleans, lists, null); a side where
                        // the field does not exist has no "before" / "after" key.
                        "fields": .array(
                            c.fields.map { f in
                                var field: [String: JSONValue] = ["field": .string(f.name)]
                                if let before = f.beforeValue { field["before"] = before }
                                if let after = f.afterValue { field["after"] = after }
                                return .object(field)
                            }),
                    ])
                }),
        ])
    }
}
