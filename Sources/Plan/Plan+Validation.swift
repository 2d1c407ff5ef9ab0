import Diagnostics

/// A problem with a plan found by `Plan.validate()`: a value with a stable id, naming the step and field.
public struct PlanIssue: Hashable, Sendable, CustomStringConvertible {
    /// Stable id (`plan.wrong-fd-kind`).
    public var id: DiagnosticID
    public var message: String
    /// The index of the step in `Plan.steps`, when the issue is about a step.
    public var stepIndex: Int?
    public var stepID: String?
    /// The field of the step or plan (`fd`, `args.userspace.map`, `handlers[1].convertible`).
    public var field: String?
    /// The manifest location of the step or handler, if known.
    public var source: SourceLocation?

    public init(
        _ id: DiagnosticID, _ message: String, stepIndex: Int? = nil, stepID: String? = nil, field: String? = nil,
        source: SourceLocation? = nil
    ) {
        self.id = id
        self.message = message
        self.stepIndex = stepIndex
        self.stepID = stepID
        self.field = field
        self.source = source
    }

    /// `step 3 (slot.ram): fd: KVM_SET_USER_MEMORY_REGION2 acts on a VM fd (%vm), not %kvm [plan.wrong-fd-kind]`.
    public var description: String {
        var out = ""
        if let stepIndex {
            out += "step \(stepIndex)"
            if let stepID { out += " (\(stepID))" }
            out += ": "
        }
        if let field { out += "\(field): " }
        return out + message + " [\(id)]"
    }

    /// The issue as an error diagnostic at its source location, or at `fallback` (the plan file) without one.
    public func diagnostic(fallback: SourceLocation) -> Diagnostic {
        var path = DataPath.root
        if let stepIndex { path = path.appending("steps").appending(index: stepIndex) }
        if let field {
            for key in field.split(separator: ".") { path = path.appending(String(key)) }
        }
        var text = message
        if let stepID { text = "step '\(stepID)': " + text }
        return .error(id, text, at: source ?? fallback, path: path)
    }
}

extension Plan {
    /// Checks the plan's own consistency (not the host, not the manifest rules): step ids unique and well
    /// formed, every fd defined before use and of a kind the operation accepts, no fd defined twice, names well
    /// formed, operations available on the plan's architecture, posted uapis marked, capability and VM-type names
    /// known, arguments consistent, handler regions known. Returns all issues in step order; empty means valid.
    public func validate() -> [PlanIssue] {
        var issues: [PlanIssue] = []
        validateHeader(&issues)

        // Where each fd is defined, to tell "used before its definition" from "never defined".
        var definitionIndex: [FdRef: Int] = [:]
        for (index, step) in steps.enumerated() {
            if let defined = step.operation.defines, definitionIndex[defined] == nil { definitionIndex[defined] = index }
        }

        var seenIDs: [String: Int] = [:]
        var defined: Set<FdRef> = []
        for (index, step) in steps.enumerated() {
            func issue(_ id: DiagnosticID, _ message: String, field: String? = nil) {
                issues.append(PlanIssue(id, message, stepIndex: index, stepID: step.id, field: field, source: step.source))
            }
            let operation = step.operation

            if !Step.isValidID(step.id) {
                issue("plan.invalid-step-id", "step id '\(step.id)' must be non-empty and use only A-Z a-z 0-9 . _ + -", field: "id")
            }
            if let first = seenIDs[step.id] {
                issue("plan.duplicate-step-id", "step id '\(step.id)' is already used by step \(first)", field: "id")
            } else {
                seenIDs[step.id] = index
            }
            if !operation.kind.architectures.contains(arch) {
                issue("plan.arch-mismatch", "\(displayName(operation)) does not exist on \(arch.rawValue)", field: "op")
            }
            if operation.uapiStatus == .posted && step.uapiStatus != .posted {
                issue(
                    "plan.posted-uapi-unmarked",
                    "\(displayName(operation)) relies on a posted, unmerged uapi; the step must be marked posted",
                    field: "uapi")
            }

            for use in operation.fdUses {
                let field = use.field == "fd" ? "fd" : "args." + use.field
                if !use.ref.isWellFormed {
                    issue("plan.invalid-fd-name", "'\(use.ref)' is not a well-formed \(use.ref.kind) reference", field: field)
                    continue
                }
                if !use.allowed.contains(use.ref.kind) {
                    let expected = use.allowed.sorted { $0.rawValue < $1.rawValue }.map(\.description)
                    issue(
                        "plan.wrong-fd-kind",
                        "\(displayName(operation)) needs \(expected.joined(separator: " or ")) here, not \(use.ref)",
                        field: field)
                    continue
                }
                if !defined.contains(use.ref) {
                    if let later = definitionIndex[use.ref] {
                        issue(
                            "plan.fd-used-before-defined",
                            "\(use.ref) is used before step \(later) (\(steps[later].id)) defines it", field: field)
                    } else {
                        issue("plan.unknown-fd", "\(use.ref) is never defined by any step", field: field)
                    }
                }
            }
            if let ref = operation.defines {
                if !ref.isWellFormed {
                    issue("plan.invalid-fd-name", "'\(ref)' is not a well-formed \(ref.kind) reference", field: "defines")
                } else if defined.contains(ref) {
                    issue("plan.fd-redefined", "\(ref) is already defined by an earlier step", field: "defines")
                }
                defined.insert(ref)
            }
            for (field, message) in operation.step.argumentProblems(arch: arch) {
                issue("plan.invalid-argument", message, field: "args." + field)
            }
            if case .createVM(let s) = operation, case let type = s.type, type != requires.vmType.type {
                issue(
                    "plan.vm-type-mismatch",
                    "creates a \(type.name) VM but requires.vm-type is \(requires.vmType.type.name)", field: "args.type")
            }
        }
        validateHandlers(&issues)
        validatePrivateMemory(&issues)
        issues += limitIssues()
        issues += orderingIssues()  // TDX/SNP ordering and launch commands: Plan+Validation+Ordering.swift
        return issues
    }

    // MARK: - Header, requirements

    private func validateHeader(_ issues: inout [PlanIssue]) {
        if !PlanFormatting.isManifestName(name) {
            issues.append(PlanIssue("plan.invalid-name", "plan name '\(name)' must match [a-z0-9][a-z0-9-]*", field: "name"))
        }
        if !platform.architectures.contains(arch) {
            issues.append(
                PlanIssue(
                    "plan.platform-arch-mismatch", "platform \(platform.rawValue) does not exist on \(arch.rawValue)",
                    field: "platform"))
        }
        if !PlanFormatting.isSHA256Digest(manifestDigest) {
            issues.append(
                PlanIssue("plan.invalid-digest", "manifest digest must be sha256: and 64 hex digits", field: "manifest"))
        }
        let vmType = requires.vmType
        if VMType.named(vmType.type.name, arch: arch) != vmType.type {
            issues.append(
                PlanIssue(
                    "plan.unknown-vm-type", "'\(vmType.type.name)' is not a \(arch.rawValue) VM type",
                    field: "requires.vm-type", source: vmType.source))
        }
        for (key, requirement) in requires.capabilities.sorted(by: { $0.key < $1.key }) {
            if requirement.cap.name != key || Capability.named(key) != requirement.cap {
                issues.append(
                    PlanIssue(
                        "plan.unknown-capability", "'\(key)' is not a capability of the catalogue",
                        field: "requires.capabilities.\(key)", source: requirement.source))
            }
        }
        if let payload {
            if !PlanFormatting.isSHA256Digest(payload.sha256) {
                issues.append(
                    PlanIssue(
                        "plan.invalid-digest", "payload digest must be sha256: and 64 hex digits", field: "payload.sha256",
                        source: payload.source))
            }
            if payload.mode.arch != arch {
                issues.append(
                    PlanIssue(
                        "plan.invalid-argument", "boot mode \(payload.mode.rawValue) is not a \(arch.rawValue) mode",
                        field: "payload.mode", source: payload.source))
            }
        }
    }

    // MARK: - Arguments

    private func displayName(_ operation: Operation) -> String { operation.command ?? operation.op }

    // MARK: - Handlers

    private func validateHandlers(_ issues: inout [PlanIssue]) {
        // The memslots of each region.
        var slots: [String: [GPARange]] = [:]
        for step in steps {
            if let slot = step.operation.memslot {
                slots[slot.region, default: []].append(GPARange(gpa: slot.gpa, size: slot.size))
            }
        }
        for (index, handler) in handlers.enumerated() {
            let field = "handlers[\(index)]"
            switch handler.kind {
            case .mmio(let region, _, _):
                if !PlanFormatting.isManifestName(region) {
                    issues.append(
                        PlanIssue(
                            "plan.invalid-name", "region name '\(region)' is not a manifest name", field: field + ".region",
                            source: handler.source))
                }
            case .hypercallMapGPARange(let ranges, _, _), .memoryFault(let ranges, _, _):
                for range in ranges {
                    guard let regionSlots = slots[range.region] else {
                        issues.append(
                            PlanIssue(
                                "plan.unknown-region", "convertible region '\(range.region)' has no memslot in the plan",
                                field: field + ".convertible", source: handler.source))
                        continue
                    }
                    if !regionSlots.contains(where: { $0.contains(range.range) }) {
                        issues.append(
                            PlanIssue(
                                "plan.unknown-region",
                                "convertible range \(range.range) is not inside a memslot of region '\(range.region)'",
                                field: field + ".convertible", source: handler.source))
                    }
                }
            case .serial, .exitPort, .halt, .i8042:
                break
            }
        }
    }
}
