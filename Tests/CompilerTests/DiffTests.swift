import Compiler
import Diagnostics
import Foundation
import Plan
import TestSupport
import Testing

/// `kvmplan diff` (DESIGN §5): the differ and its renderer on the pairs of `Manifests/diff/`, one per risk
/// class, against goldens in `Golden/diff/`; manifests against plan JSON; tampered plans; the CLI's exit codes.
@Suite("Diff")
struct DiffTests {
    /// One pair of `Manifests/diff/` with the risk classes its diff must have (exactly) and fragments of the
    /// findings it must contain.
    struct Pair: Sendable, CustomTestStringConvertible {
        var name: String
        var risks: Set<RiskClass>
        var messages: [String]

        var a: String { "Manifests/diff/\(name).a.yaml" }
        var b: String { "Manifests/diff/\(name).b.yaml" }
        var testDescription: String { name }
    }

    static let pairs: [Pair] = [
        Pair(name: "exposure-region-shared", risks: [.exposure], messages: ["region 'secret' is no longer private at launch"]),
        Pair(name: "exposure-convertible-added", risks: [.exposure], messages: ["region 'swiotlb' becomes convertible"]),
        Pair(name: "exposure-private-to-shared", risks: [.exposure], messages: ["region 'dma' is no longer private at launch"]),
        Pair(name: "exposure-on-share-keep", risks: [.exposure], messages: ["on-share punch-hole → keep"]),
        Pair(
            name: "exposure-tdx-to-default", risks: [.exposure, .measurement, .compatibility],
            messages: [
                "platform tdx → default: all guest memory becomes readable by the host", "payload measured true → false",
                "VM type KVM_X86_TDX_VM → KVM_X86_DEFAULT_VM",
            ]),
        Pair(name: "measurement-payload-content", risks: [.measurement], messages: ["measured payload content changes"]),
        Pair(
            name: "measurement-unmeasured", risks: [.measurement],
            messages: ["payload measured true → false", "measured step snp.launch-update.payload changes"]),
        Pair(
            name: "compatibility-vm-type", risks: [.compatibility],
            messages: ["VM type KVM_X86_DEFAULT_VM → KVM_X86_SW_PROTECTED_VM", "needs KVM_CAP_VM_TYPES"]),
        Pair(
            name: "compatibility-gmem-flags", risks: [.compatibility],
            messages: ["needs guest_memfd flags MMAP|INIT_SHARED", "needs KVM_CAP_GUEST_MEMFD_FLAGS"]),
        Pair(name: "compatibility-readonly", risks: [.compatibility], messages: ["needs KVM_CAP_READONLY_MEM"]),
        Pair(name: "layout-region-moves", risks: [.layout], messages: ["region 'data' moves from 0x10000000 to 0x20000000"]),
        Pair(name: "layout-region-grows", risks: [.layout], messages: ["region 'data' grows from 4MiB to 8MiB"]),
        Pair(name: "layout-region-shrinks", risks: [.layout], messages: ["region 'data' shrinks from 8MiB to 4MiB"]),
        Pair(name: "layout-vcpus", risks: [.layout, .compatibility], messages: ["vCPUs 2 → 4", "needs more of KVM_CAP_MAX_VCPUS"]),
        Pair(name: "same-comments", risks: [], messages: []),
    ]

    static func diff(_ pair: Pair) throws -> PlanDiff {
        PlanDiffer.diff(try Compile.file(pair.a).plan, try Compile.file(pair.b).plan)
    }

    static func jsonText(_ diff: PlanDiff, left: String, right: String) -> String {
        PlanDiffRenderer().json(diff, left: left, right: right).serialized(pretty: true) + "\n"
    }

    // MARK: - Pairs

    @Test("every pair in Manifests/diff is listed here, and every file has a header comment")
    func pairsAreListed() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Repo.path("Manifests/diff")).filter { $0.hasSuffix(".yaml") }
        let listed = Set(Self.pairs.flatMap { [URL(fileURLWithPath: $0.a).lastPathComponent, URL(fileURLWithPath: $0.b).lastPathComponent] })
        #expect(Set(files).subtracting(listed) == ["measurement-order.base.yaml"])
        #expect(listed.subtracting(files).isEmpty)
        for file in files {
            let text = String(decoding: try RepoFileAccess().read("Manifests/diff/" + file), as: UTF8.self)
            #expect(text.hasPrefix("# Diff "), "\(file) starts with a header comment saying what changes")
        }
        // One pair per class at least.
        for risk in RiskClass.allCases {
            #expect(Self.pairs.contains { $0.risks.contains(risk) }, "no pair for \(risk)")
        }
    }

    @Test("each pair's findings have exactly its risk classes and name the change", arguments: pairs)
    func findings(pair: Pair) throws {
        let diff = try Self.diff(pair)
        let risks = Set(diff.findings.map(\.risk))
        #expect(risks == pair.risks, "findings: \(diff.findings.map { "\($0.risk): \($0.message)" })")
        for fragment in pair.messages {
            #expect(diff.findings.contains { $0.message.contains(fragment) }, "no finding contains “\(fragment)”: \(diff.findings.map(\.message))")
        }
        #expect(diff.isEmpty == pair.risks.isEmpty)
        if pair.risks.isEmpty { #expect(diff.changes.isEmpty) }
        // Findings point into the manifests they come from.
        for finding in diff.findings {
            if let before = finding.before { #expect(before.file == pair.a) }
            if let after = finding.after { #expect(after.file == pair.b) }
        }
    }

    @Test("diff text and JSON match their goldens", arguments: pairs)
    func golden(pair: Pair) throws {
        let diff = try Self.diff(pair)
        Golden.compiler.assert(PlanDiffRenderer(style: .plain).text(diff, left: pair.a, right: pair.b), matches: "diff/\(pair.name).txt")
        Golden.compiler.assert(Self.jsonText(diff, left: pair.a, right: pair.b), matches: "diff/\(pair.name).json")
    }

    @Test("a diff's JSON says what its text says")
    func jsonAgreesWithText() throws {
        for pair in Self.pairs {
            let diff = try Self.diff(pair)
            let json = PlanDiffRenderer().json(diff, left: pair.a, right: pair.b)
            #expect(json["same"]?.boolValue == diff.isEmpty)
            #expect(json["findings"]?.arrayValue?.count == diff.findings.count)
            #expect(json["changes"]?.arrayValue?.count == diff.changes.count)
            let text = PlanDiffRenderer().text(diff, left: pair.a, right: pair.b)
            for change in diff.changes { #expect(text.contains("\(change.action.rawValue) \(change.id)  \(change.op)")) }
        }
    }

    @Test("the markup style wraps risk classes and actions in semantic tokens")
    func markup() throws {
        let pair = try #require(Self.pairs.first { $0.name == "layout-region-grows" })
        let text = PlanDiffRenderer(style: .markup).text(try Self.diff(pair), left: pair.a, right: pair.b)
        #expect(text.contains("[bold-cyan]layout[reset]"))
        #expect(text.contains("[yellow]  ~ slot.data"))
        #expect(text.hasSuffix("[bold]1 finding: 1 layout; 3 changes: 3 changed[reset]\n"))
        #expect(!text.contains("\u{1B}["))
    }

    @Test("every risk class has a colour of its own, in markup and in ANSI")
    func riskColours() throws {
        let diff = PlanDiff(
            findings: RiskClass.allCases.map { Finding($0, "a \($0.rawValue) finding") }, changes: [])
        let markup = PlanDiffRenderer(style: .markup).text(diff, left: "a", right: "b")
        let names = ["bold-red", "bold-magenta", "bold-yellow", "bold-cyan"]
        for (risk, name) in zip(RiskClass.allCases, names) {
            #expect(markup.contains("[\(name)]\(risk.rawValue)[reset]"), "\(risk)")
        }
        let ansi = PlanDiffRenderer(style: .ansi).text(diff, left: "a", right: "b")
        let codes = RiskClass.allCases.compactMap { risk in
            ansi.split(separator: "\n").first { $0.contains("\(risk.rawValue)\u{1B}[0m") }.flatMap { line in
                line.split(separator: "m").first.map(String.init)
            }
        }
        #expect(codes.count == 4)
        #expect(Set(codes).count == 4, "four classes, four colours: \(codes)")
    }

    @Test(
        "the summary line counts findings by class and changes by action, leaving out zeros",
        arguments: [
            ("layout-region-grows", "1 finding: 1 layout; 3 changes: 3 changed"),
            ("exposure-region-shared", "1 finding: 1 exposure; 5 changes: 1 added, 3 removed, 1 changed"),
            ("same-comments", nil),
        ] as [(String, String?)])
    func summaryLine(_ name: String, _ expected: String?) throws {
        let pair = try #require(Self.pairs.first { $0.name == name })
        let diff = try Self.diff(pair)
        let text = PlanDiffRenderer().text(diff, left: pair.a, right: pair.b)
        if let expected {
            #expect(text.hasSuffix("\n" + expected + "\n"))
            #expect(PlanDiffRenderer().json(diff, left: pair.a, right: pair.b)["summary"]?["text"] == .string(expected))
        } else {
            #expect(text == "plans are the same\n")
            #expect(PlanDiffer.diff(try Compile.file(pair.a).plan, try Compile.file(pair.b).plan).isEmpty)
        }
    }

    @Test("JSON field values are typed as in the plan (numbers, null, lists), and an absent side has no key")
    func typedJSONValues() throws {
        let grows = try #require(Self.pairs.first { $0.name == "layout-region-grows" })
        let json = PlanDiffRenderer().json(try Self.diff(grows), left: grows.a, right: grows.b)
        let slot = try #require(json["changes"]?.arrayValue?.first { $0["id"] == .string("slot.data") })
        let size = try #require(slot["fields"]?.arrayValue?.first)
        #expect(size == .object(["field": .string("args.size"), "before": .uint(4 << 20), "after": .uint(8 << 20)]))
        #expect(json["summary"]?["changes"]?["changed"] == .int(3))
        #expect(json["summary"]?["findings"]?["layout"] == .int(1))
        #expect(json["summary"]?["findings"]?["exposure"] == .int(0))

        let shared = try #require(Self.pairs.first { $0.name == "exposure-region-shared" })
        let sharedJSON = PlanDiffRenderer().json(try Self.diff(shared), left: shared.a, right: shared.b)
        let secret = try #require(sharedJSON["changes"]?.arrayValue?.first { $0["id"] == .string("slot.secret") })
        let fields = try #require(secret["fields"]?.arrayValue)
        #expect(fields.first == .object(["field": .string("args.userspace"), "before": .null]), "a JSON null, not \"null\"")
        #expect(fields.last == .object(["field": .string("args.userspace.offset"), "after": .uint(0)]))

        let readonly = try #require(Self.pairs.first { $0.name == "compatibility-readonly" })
        let readonlyJSON = PlanDiffRenderer().json(try Self.diff(readonly), left: readonly.a, right: readonly.b)
        let rom = try #require(readonlyJSON["changes"]?.arrayValue?.first { $0["id"] == .string("slot.rom") })
        let flags = try #require(rom["fields"]?.arrayValue?.first { $0["field"] == .string("args.flags") })
        #expect(flags["after"] == .array([.string("READONLY")]), "a list, not a string")
    }

    // MARK: - Measurement order

    /// The base plan with the steps of ELF segment 1 (load + LAUNCH_UPDATE) moved before those of segment 0.
    static func measurementOrderPlans() throws -> (a: Plan, b: Plan) {
        let a = try Compile.file("Manifests/diff/measurement-order.base.yaml").plan
        var b = a
        let segment1 = b.steps.filter { $0.id.hasSuffix(".payload.1") }
        try #require(segment1.count == 2, "the ELF sample has two PT_LOAD segments")
        b.steps.removeAll { $0.id.hasSuffix(".payload.1") }
        let first0 = try #require(b.steps.firstIndex { $0.id.hasSuffix(".payload.0") })
        b.steps.insert(contentsOf: segment1, at: first0)
        return (a, b)
    }

    @Test("a measured step that moves is a measurement finding (measured order changes)")
    func measurementOrder() throws {
        let (a, b) = try Self.measurementOrderPlans()
        #expect(b.validate().isEmpty)
        #expect(PlanRules.snp(b) == [])
        let diff = PlanDiffer.diff(a, b)
        #expect(Set(diff.findings.map(\.risk)) == [.measurement])
        #expect(diff.findings.contains { $0.message.contains("moves: the measurement order changes") }, "\(diff.findings.map(\.message))")
        #expect(diff.changes.allSatisfy { $0.action == .moved }, "\(diff.changes.map { "\($0.action.rawValue) \($0.id)" })")
        #expect(!diff.changes.isEmpty)
        let left = "Manifests/diff/measurement-order.base.yaml"
        let right = "measurement-order.swapped.json"
        Golden.compiler.assert(PlanDiffRenderer().text(diff, left: left, right: right), matches: "diff/measurement-order.txt")
        Golden.compiler.assert(Self.jsonText(diff, left: left, right: right), matches: "diff/measurement-order.json")
    }

    // MARK: - Manifests against plans

    @Test("a manifest diffed against its own plan JSON is empty", arguments: pairs.map(\.a) + Samples.all.map(Samples.file))
    func manifestAgainstOwnPlan(file: String) throws {
        let plan = try Compile.file(file).plan
        let decoded = try Plan(json: plan.jsonString())
        let diff = PlanDiffer.diff(plan, decoded)
        #expect(diff.isEmpty, "\(diff.changes.map(\.id)) \(diff.findings.map(\.message))")
    }

    @Test("a manifest against another manifest's plan JSON shows the same diff as manifest against manifest", arguments: pairs)
    func manifestAgainstOtherPlan(pair: Pair) throws {
        let a = try Compile.file(pair.a).plan
        let b = try Compile.file(pair.b).plan
        let bFromJSON = try Plan(json: b.jsonString())
        #expect(PlanDiffer.diff(a, bFromJSON) == PlanDiffer.diff(a, b))
        let aFromJSON = try Plan(json: a.jsonString(pretty: false))
        #expect(PlanDiffer.diff(aFromJSON, b) == PlanDiffer.diff(a, b))
    }

    // MARK: - Tampered plans

    static func planValue(_ sample: String) throws -> JSONValue {
        try JSONValue.parse(try Compile.sample(sample).plan.jsonString())
    }

    @Test("a plan whose sha256 was edited is rejected, naming the field")
    func tamperedDigest() throws {
        guard case .object(var members) = try Self.planValue("hello-long") else { Issue.record("not an object"); return }
        members["sha256"] = .string("sha256:" + String(repeating: "0", count: 64))
        let error = try #require(throws: PlanDecodingError.self) { try Plan(json: JSONValue.object(members).serialized(pretty: true)) }
        #expect(error.field == "sha256", "\(error)")
        #expect(error.description.contains("sha256"))
        #expect(error.message.contains("digest mismatch"), "\(error)")
    }

    @Test("a plan whose content was edited without its digest is rejected, naming the sha256 field")
    func tamperedContent() throws {
        guard case .object(var members) = try Self.planValue("sev-snp"), case .object(var payload)? = members["payload"] else {
            Issue.record("no payload")
            return
        }
        payload["sha256"] = .string("sha256:" + String(repeating: "a", count: 64))
        members["payload"] = .object(payload)
        let error = try #require(throws: PlanDecodingError.self) { try Plan(json: JSONValue.object(members).serialized()) }
        #expect(error.field == "sha256", "\(error)")
        #expect(error.message.contains("digest mismatch"), "\(error)")
    }

    @Test("a plan with an unknown op is rejected, naming the step and the op field")
    func tamperedOp() throws {
        guard case .object(var members) = try Self.planValue("tdx"), case .array(var steps)? = members["steps"],
            case .object(var step) = steps[4]
        else {
            Issue.record("no steps")
            return
        }
        step["op"] = .string("KVM_FROBNICATE")
        steps[4] = .object(step)
        members["steps"] = .array(steps)
        let error = try #require(throws: PlanDecodingError.self) { try Plan(json: JSONValue.object(members).serialized(pretty: true)) }
        #expect(error.field == "op", "\(error)")
        #expect(error.stepIndex == 4)
        #expect(error.description.contains("KVM_FROBNICATE"), "\(error)")
        #expect(error.description.contains("op"))
    }

    @Test("a plan with an unknown KVM_MEMORY_ENCRYPT_OP command is rejected, naming the command field")
    func tamperedCommand() throws {
        guard case .object(var members) = try Self.planValue("sev-snp"), case .array(var steps)? = members["steps"],
            let index = steps.firstIndex(where: { $0["command"]?.stringValue == "KVM_SEV_SNP_LAUNCH_START" }),
            case .object(var step) = steps[index]
        else {
            Issue.record("no LAUNCH_START")
            return
        }
        step["command"] = .string("KVM_SEV_SNP_LAUNCH_EVERYTHING")
        steps[index] = .object(step)
        members["steps"] = .array(steps)
        let error = try #require(throws: PlanDecodingError.self) { try Plan(json: JSONValue.object(members).serialized(pretty: true)) }
        #expect(error.field == "command", "\(error)")
        #expect(error.stepIndex == index)
    }
}
