import Diagnostics

/// What changed between two plans (DESIGN §5), computed separately from how it is shown (STYLE rule 7).
/// Steps are matched by their stable ids; requirements, handlers and the payload are compared as
/// pseudo-steps (`requires.*`, `handler.*`, `payload`). Source locations and the manifest digest are
/// not changes: a manifest whose comments or line numbers changed gives the same plan.
public struct PlanDiff: Hashable, Sendable {
    public var findings: [Finding]
    public var changes: [PlanChange]

    public init(findings: [Finding], changes: [PlanChange]) {
        self.findings = findings
        self.changes = changes
    }

    public var isEmpty: Bool { changes.isEmpty && findings.isEmpty }

    public func findings(in classes: Set<RiskClass>) -> [Finding] { findings.filter { classes.contains($0.risk) } }
}

/// The risk classes of DESIGN §5.
public enum RiskClass: String, CaseIterable, Hashable, Sendable, Comparable {
    /// Memory the host can newly read.
    case exposure
    /// The launch measurement changes: attestation policies must follow.
    case measurement
    /// A new VM type, capability or guest_memfd flag is needed.
    case compatibility
    /// A region moves, grows or shrinks; the vCPU count changes.
    case layout

    private var rank: Int { RiskClass.allCases.firstIndex(of: self) ?? 0 }
    public static func < (lhs: RiskClass, rhs: RiskClass) -> Bool { lhs.rank < rhs.rank }
}

public struct Finding: Hashable, Sendable {
    public var risk: RiskClass
    public var message: String
    public var region: String?
    public var before: SourceLocation?
    public var after: SourceLocation?

    public init(_ risk: RiskClass, _ message: String, region: String? = nil, before: SourceLocation? = nil, after: SourceLocation? = nil) {
        self.risk = risk
        self.message = message
        self.region = region
        self.before = before
        self.after = after
    }
}

/// One step (or pseudo-step) that was added, removed, changed or moved.
public struct PlanChange: Hashable, Sendable {
    public enum Action: String, Hashable, Sendable {
        case added = "+"
        case removed = "-"
        case changed = "~"
        /// Same content, different position relative to the other steps.
        case moved = "±"
    }

    public struct Field: Hashable, Sendable {
        public var name: String
        /// The value as the text diff shows it (sizes as `4MiB`, addresses in hex); nil when absent.
        public var before: String?
        public var after: String?
        /// The value as the plan's JSON has it (numbers, booleans, lists, null); nil when absent.
        public var beforeValue: JSONValue?
        public var afterValue: JSONValue?

        public init(name: String, before: JSONValue?, after: JSONValue?) {
            self.name = name
            self.beforeValue = before
            self.afterValue = after
            self.before = before.map { PlanDiffer.display($0, key: name) }
            self.after = after.map { PlanDiffer.display($0, key: name) }
        }
    }

    public var action: Action
    public var id: String
    public var op: String
    public var fields: [Field]
    public var before: SourceLocation?
    public var after: SourceLocation?
}

// MARK: - Differ

public enum PlanDiffer {
    public static func diff(_ a: Plan, _ b: Plan) -> PlanDiff {
        var changes: [PlanChange] = []
        let left = entries(of: a)
        let right = entries(of: b)
        let rightByID = Dictionary(right.map { ($0.id, $0) }, uniquingKeysWith: { x, _ in x })
        let leftByID = Dictionary(left.map { ($0.id, $0) }, uniquingKeysWith: { x, _ in x })
        // Relative order of the steps both plans share, to detect moves.
        let commonLeft = left.filter { $0.isStep && rightByID[$0.id] != nil }.map(\.id)
        let commonRight = right.filter { $0.isStep && leftByID[$0.id] != nil }.map(\.id)
        let moved = movedIDs(commonLeft, commonRight)
        for entry in left {
            guard let other = rightByID[entry.id] else {
                changes.append(PlanChange(action: .removed, id: entry.id, op: entry.op, fields: [], before: entry.source, after: nil))
                continue
            }
            let fields = fieldChanges(entry.fields, other.fields)
            if !fields.isEmpty {
                changes.append(PlanChange(action: .changed, id: entry.id, op: entry.op, fields: fields, before: entry.source, after: other.source))
            } else if moved.contains(entry.id) {
                changes.append(PlanChange(action: .moved, id: entry.id, op: entry.op, fields: [], before: entry.source, after: other.source))
            }
        }
        for entry in right where leftByID[entry.id] == nil {
            changes.append(PlanChange(action: .added, id: entry.id, op: entry.op, fields: [], before: nil, after: entry.source))
        }
        var findings = PlanFindings(a: a, b: b, moved: moved).all
        findings.sort { ($0.risk, $0.region ?? "", $0.message) < ($1.risk, $1.region ?? "", $1.message) }
        return PlanDiff(findings: findings, changes: changes)
    }

    /// Ids whose relative order changed: those outside a longest common subsequence of the two orders.
    static func movedIDs(_ a: [String], _ b: [String]) -> Set<String> {
        guard a != b else { return [] }
        let n = a.count
        let m = b.count
        guard n > 0, m > 0, n * m <= 4_000_000 else { return Set(zip(a, b).filter { $0 != $1 }.map(\.0)) }
        var table = [[Int]](repeating: [Int](repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                table[i][j] = a[i] == b[j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        var keep = Set<String>()
        var i = 0
        var j = 0
        while i < n && j < m {
            if a[i] == b[j] {
                keep.insert(a[i])
                i += 1
                j += 1
            } else if table[i + 1][j] >= table[i][j + 1] {
                i += 1
            } else {
                j += 1
            }
        }
        return Set(a).subtracting(keep)
    }

    /// An entry to compare: a step or a pseudo-step, flattened to named fields.
    struct Entry {
        var id: String
        var op: String
        var fields: [String: JSONValue]
        var source: SourceLocation?
        var isStep: Bool
    }

    static func entries(of plan: Plan) -> [Entry] {
        var out: [Entry] = []
        // Requirements.
        out.append(
            Entry(
                id: "requires.vm-type", op: "KVM_CREATE_VM", fields: ["type": .string(plan.requires.vmType.type.name)],
                source: plan.requires.vmType.source, isStep: false))
        for requirement in plan.requires.sortedCapabilities {
            var fields = flatten(.object(requirement.expect.jsonMembers), prefix: "")
            fields["scope"] = .string(requirement.scope.rawValue)
            out.append(
                Entry(id: "requires.\(requirement.cap.name)", op: "KVM_CHECK_EXTENSION", fields: fields, source: requirement.source, isStep: false))
        }
        // Steps.
        for step in plan.steps {
            var json = step.json.objectValue ?? [:]
            json["source"] = nil
            json["id"] = nil
            json["comment"] = nil
            out.append(Entry(id: step.id, op: step.operation.op, fields: flatten(.object(json), prefix: ""), source: step.source, isStep: true))
        }
        // Handlers, keyed by kind (and region for MMIO).
        for handler in plan.handlers {
            var json = handler.json.objectValue ?? [:]
            json["source"] = nil
            var id = "handler.\(handler.kind.name)"
            if case .mmio(let region, _, _) = handler.kind { id += ".\(region)" }
            out.append(Entry(id: id, op: "on exit", fields: flatten(.object(json), prefix: ""), source: handler.source, isStep: false))
        }
        if let payload = plan.payload {
            var json = payload.json.objectValue ?? [:]
            json["source"] = nil
            out.append(Entry(id: "payload", op: "payload", fields: flatten(.object(json), prefix: ""), source: payload.source, isStep: false))
        }
        return out
    }

    /// `{"args": {"gpa": 4096}}` → `["args.gpa": 4096]`: objects (and lists of objects) flattened to
    /// dotted names, every other value kept as it is.
    static func flatten(_ value: JSONValue, prefix: String) -> [String: JSONValue] {
        switch value {
        case .object(let members):
            var out: [String: JSONValue] = [:]
            for (key, member) in members {
                for (k, v) in flatten(member, prefix: prefix.isEmpty ? key : prefix + "." + key) { out[k] = v }
            }
            return out
        case .array(let items) where !items.isEmpty && items.allSatisfy({ $0.objectValue != nil }):
            var out: [String: JSONValue] = [:]
            for (n, item) in items.enumerated() {
                for (k, v) in flatten(item, prefix: "\(prefix)[\(n)]") { out[k] = v }
            }
            return out
        case .int(let n) where n >= 0:
            // One spelling per number, whether the plan was compiled (`uint`) or read from JSON (`int`).
            return [prefix: .uint(UInt64(n))]
        default:
            return [prefix: value]
        }
    }

    static func display(_ value: JSONValue, key: String) -> String {
        let last = key.split(separator: ".").last.map(String.init) ?? key
        if let n = value.uint64Value {
            let sizeLike = ["size", "len"].contains(last)
            let addressLike = ["gpa", "offset", "base", "load", "entry", "value"].contains(last)
            if sizeLike { return PlanFormatting.size(n) }
            if addressLike { return PlanFormatting.hex(n) }
            return String(n)
        }
        if let s = value.stringValue { return s }
        return value.serialized()
    }

    static func fieldChanges(_ a: [String: JSONValue], _ b: [String: JSONValue]) -> [PlanChange.Field] {
        Set(a.keys).union(b.keys).sorted().compactMap { key in
            a[key] == b[key] ? nil : PlanChange.Field(name: key, before: a[key], after: b[key])
        }
    }
}
