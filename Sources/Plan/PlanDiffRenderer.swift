import Diagnostics

/// Renders a `PlanDiff` as text or JSON. Styling goes through semantic tokens so tests can compare a
/// plain or a `[red]…[reset]` markup form (STYLE rule 7); ANSI colour only on a terminal.
public struct PlanDiffRenderer: Sendable {
    public enum Style: Sendable { case plain, ansi, markup }

    public var style: Style

    public init(style: Style = .plain) { self.style = style }

    enum Token { case added, removed, changed, risk, dim }

    func paint(_ s: String, _ token: Token) -> String {
        switch style {
        case .plain: return s
        case .ansi:
            let code: String
            switch token {
            case .added: code = "32"
            case .removed: code = "31"
            case .changed: code = "33"
            case .risk: code = "1;35"
            case .dim: code = "2"
            }
            return "\u{1B}[\(code)m\(s)\u{1B}[0m"
        case .markup:
            let name: String
            switch token {
            case .added: name = "green"
            case .removed: name = "red"
            case .changed: name = "yellow"
            case .risk: name = "magenta"
            case .dim: name = "dim"
            }
            return "[\(name)]\(s)[reset]"
        }
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
                out += "  \(paint(f.risk.rawValue, .risk))\(pad)  \(f.message)"
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
        return out
    }

    public func json(_ diff: PlanDiff, left: String, right: String) -> JSONValue {
        func loc(_ l: SourceLocation?) -> JSONValue { l.map { .string($0.description) } ?? .null }
        return .object([
            "left": .string(left),
            "right": .string(right),
            "same": .bool(diff.isEmpty),
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
                        "fields": .array(
                            c.fields.map { f in
                                .object([
                                    "field": .string(f.name), "before": f.before.map { .string($0) } ?? .null,
                                    "after": f.after.map { .string($0) } ?? .null,
                                ])
                            }),
                    ])
                }),
        ])
    }
}
