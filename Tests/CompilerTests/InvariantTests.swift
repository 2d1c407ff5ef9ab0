import Compiler
import Diagnostics
import Plan
import TestSupport
import Testing

/// Invariants of every plan the lowering produces (KVM_UAPI.md §2, §3, §7), over the sample manifests and
/// over a fixed-seed corpus of generated manifests for every platform (the ones `check` accepts).
@Suite("Invariants")
struct InvariantTests {
    // MARK: - The invariants

    /// Each region with a backing gets exactly one slot step, `slot.NAME`, with the manifest's gpa and size;
    /// MMIO holes get none.
    static func regionSlots(_ compiled: Compiled) -> [String] {
        var out: [String] = []
        let slots = PlanRules.slots(compiled.plan)
        for region in compiled.checked.manifest.memory.regions {
            let name = region.name.value
            let mine = slots.filter { $0.region == name }
            if region.backing.value.rawValue == "none" {
                if !mine.isEmpty { out.append("MMIO hole '\(name)' has \(mine.count) slot steps") }
                continue
            }
            guard mine.count == 1, let slot = mine.first else {
                out.append("region '\(name)' has \(mine.count) slot steps, not 1")
                continue
            }
            if compiled.plan.steps[slot.index].id != "slot.\(name)" {
                out.append("region '\(name)': slot step id is \(compiled.plan.steps[slot.index].id)")
            }
            if slot.gpa != region.base.value || slot.size != region.size.value {
                out.append("region '\(name)': slot gpa/size \(slot.gpa)/\(slot.size) ≠ manifest \(region.base.value)/\(region.size.value)")
            }
        }
        return out
    }

    /// The manifest keys a requirement can be caused by, to check its source line names one of them. A YAML
    /// collection is located at its first entry (`regions` at its first `- name:`, a block `guest-memfd:`
    /// mapping at its first key).
    static let causes: [String: [String]] = [
        "vm-type": ["platform"], "guest-memfd-flags": ["guest-memfd", "mmap", "init-shared"],
        "KVM_CAP_VM_TYPES": ["platform"], "KVM_CAP_ARM_VM_IPA_SIZE": ["gpa-bits"], "KVM_CAP_ARM_RMI": ["platform"],
        "KVM_CAP_NR_MEMSLOTS": ["regions", "- name"], "KVM_CAP_MAX_VCPUS": ["vcpus"], "KVM_CAP_GUEST_MEMFD": ["backing"],
        "KVM_CAP_USER_MEMORY2": ["backing"], "KVM_CAP_READONLY_MEM": ["readonly"],
        "KVM_CAP_MEMORY_ATTRIBUTES": ["access"], "KVM_CAP_GUEST_MEMFD_FLAGS": ["guest-memfd", "mmap", "init-shared"],
        "KVM_CAP_EXIT_HYPERCALL": ["conversion", "platform"], "KVM_CAP_SPLIT_IRQCHIP": ["platform"], "KVM_CAP_IRQCHIP": ["platform"],
    ]

    /// Requirement sources (and step, handler and payload sources) point at real lines of the manifest:
    /// its file, a line that exists and holds a key, a column inside it; requirements at the key that needs them.
    static func sources(_ compiled: Compiled) -> [String] {
        var out: [String] = []
        let lines = compiled.lines
        func check(_ what: String, _ source: ManifestLocation?, causes: [String]? = nil, required: Bool = true) {
            guard let source else {
                if required { out.append("\(what) has no source") }
                return
            }
            guard source.file == compiled.file else {
                out.append("\(what): source file \(source.file) ≠ \(compiled.file)")
                return
            }
            guard source.line >= 1 && source.line <= lines.count else {
                out.append("\(what): line \(source.line) is outside the manifest (\(lines.count) lines)")
                return
            }
            let line = lines[source.line - 1]
            let text = line.drop { $0 == " " }
            if text.isEmpty || text.hasPrefix("#") { out.append("\(what): \(source) is a blank or comment line") }
            if source.column < 1 || source.column > line.unicodeScalars.count + 1 {
                out.append("\(what): column \(source.column) is outside line \(source.line) (\(line.count) characters)")
            }
            if let causes, !causes.contains(where: { line.contains($0) }) {
                out.append("\(what): \(source) (\"\(line)\") names none of \(causes)")
            }
        }
        let requires = compiled.plan.requires
        check("requires.vm-type", requires.vmType.source, causes: causes["vm-type"])
        for requirement in requires.sortedCapabilities {
            check("requires.\(requirement.cap.name)", requirement.source, causes: causes[requirement.cap.name])
        }
        if let flags = requires.guestMemfdFlags {
            check("requires.guest-memfd-flags", flags.source, causes: causes["guest-memfd-flags"])
        }
        for step in compiled.plan.steps where !["kvm", "api-version"].contains(step.id) {
            check("step \(step.id)", step.source)
        }
        for handler in compiled.plan.handlers { check("handler \(handler.kind)", handler.source) }
        check("payload", compiled.plan.payload?.source, required: compiled.plan.payload != nil)
        return out
    }

    /// The platform's ordering rules (TDX, SNP), for generated manifests too.
    static func ordering(_ compiled: Compiled) -> [String] {
        switch compiled.plan.platform {
        case .tdx: PlanRules.tdx(compiled.plan, gpaBits: compiled.checked.context.gpaBits)
        case .sevSNP: PlanRules.snp(compiled.plan)
        default: PlanRules.populateRules(compiled.plan)
        }
    }

    /// Plan-level rules, memory flags, slots and sources. The rules with known lowering bugs (populate sources,
    /// populate overlaps, load targets) run separately, each under its known issue.
    static func all(_ compiled: Compiled) -> [String] {
        PlanRules.general(compiled.plan) + PlanRules.memory(compiled.plan) + regionSlots(compiled) + sources(compiled)
    }

    /// A generated plan that breaks rules: its manifest and the violations.
    struct Failure {
        var manifest: GeneratedManifest
        var problems: [String]
    }

    /// Runs `rules` over the accepted manifests of `corpus`.
    static func failures(_ corpus: GeneratedCorpus.PlatformCorpus, _ rules: (Compiled) -> [String]) -> [Failure] {
        corpus.accepted.compactMap { entry in
            let problems = rules(entry.compiled)
            return problems.isEmpty ? nil : Failure(manifest: entry.manifest, problems: problems)
        }
    }

    /// One issue for all the generated manifests that break a rule: the kinds of violation (step ids, fds and
    /// numbers abstracted) with their counts, then the first failing manifest in full.
    static func report(
        _ failures: [Failure], of total: Int, _ what: String, knownIssue: Comment? = nil,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        guard let first = failures.first else { return }
        var kinds: [String: Int] = [:]
        for failure in failures {
            for problem in failure.problems { kinds[kind(of: problem), default: 0] += 1 }
        }
        let summary = kinds.sorted { $0.key < $1.key }.map { "  \($0.value)× \($0.key)" }.joined(separator: "\n")
        let example = first.problems.joined(separator: "\n  ")
        let message: Comment =
            "\(failures.count) of \(total) \(what):\n\(summary)\nfirst: \(first.manifest.file)\n  \(example)\n\(first.manifest.yaml)"
        if let knownIssue {
            withKnownIssue(knownIssue) { Issue.record(message, sourceLocation: sourceLocation) }
        } else {
            Issue.record(message, sourceLocation: sourceLocation)
        }
    }

    /// A violation with its specifics abstracted: `step 54 (tdx.init-mem-region.payload.0): source %map.ram0 …`
    /// → `tdx.init-mem-region: source %map.X …`.
    static func kind(of problem: String) -> String {
        var text = problem
        if text.hasPrefix("step "), let close = text.range(of: "): ") {
            let id = text[text.index(text.startIndex, offsetBy: 5)..<close.lowerBound].split(separator: "(").last ?? ""
            let op = id.split(separator: ".").prefix(2).joined(separator: ".")
            text = op + ": " + text[close.upperBound...]
        }
        text = text.replacing(/%([a-z]+)\.[a-z0-9-]+/) { "%\($0.1).X" }
        text = text.replacing(/0x[0-9a-f]+/, with: "0x…")
        text = text.replacing(/step [0-9]+ \([^)]*\)/, with: "step …")
        text = text.replacing(/'[a-z0-9-]+'/, with: "'…'")
        return text
    }

    // MARK: - Samples

    @Test("sample plans: memory flags, guest_memfd flags, one slot per region, unique slots, sources", arguments: Samples.all)
    func samples(sample: String) throws {
        let compiled = try Compile.sample(sample)
        #expect(Self.all(compiled) == [])
        #expect(Self.ordering(compiled) == [])
        #expect(PlanRules.populateSourceRules(compiled.plan) == [])
        #expect(PlanRules.populateOverlapRules(compiled.plan) == [])
        #expect(PlanRules.loadRules(compiled.plan) == [])
    }

    // MARK: - Generated manifests

    @Test("the generator produces several hundred valid manifests, on every platform")
    func corpusSize() {
        var total = 0
        for target in GeneratedPlatform.allCases {
            let corpus = GeneratedCorpus.all[target]!
            total += corpus.accepted.count
            #expect(corpus.accepted.count >= 60, "\(target): only \(corpus.accepted.count) of \(corpus.attempts) accepted; first rejection: \(corpus.rejected.first?.1 ?? "-")")
        }
        #expect(total >= 500, "\(total) generated manifests accepted")
    }

    @Test("generated plans: validate() clean, KVM_RUN last, memory flags, slots, requirement sources", arguments: GeneratedPlatform.allCases)
    func generated(target: GeneratedPlatform) throws {
        let corpus = try #require(GeneratedCorpus.all[target])
        let failures = Self.failures(corpus) { compiled in Self.all(compiled) }
        Self.report(failures, of: corpus.accepted.count, "plans break an invariant")
    }

    @Test("generated plans: the platform's ordering rules (TDX §3.1, SNP §3.2)", arguments: [GeneratedPlatform.tdx, .sevSNP, .swProtected, .cca])
    func generatedOrdering(target: GeneratedPlatform) throws {
        let corpus = try #require(GeneratedCorpus.all[target])
        let failures = Self.failures(corpus) { compiled in Self.ordering(compiled) }
        Self.report(failures, of: corpus.accepted.count, "plans break an ordering rule")
    }

    @Test("generated plans: launch commands read memory the host can write", arguments: GeneratedPlatform.allCases)
    func generatedPopulateSources(target: GeneratedPlatform) throws {
        let corpus = try #require(GeneratedCorpus.all[target])
        let failures = Self.failures(corpus) { compiled in PlanRules.populateSourceRules(compiled.plan) }
        Self.report(failures, of: corpus.accepted.count, "plans populate from unreadable memory", knownIssue: KnownIssues.populateFromGuestMemfdMmap)
    }

    @Test("generated plans: no page is populated into private memory twice", arguments: GeneratedPlatform.allCases)
    func generatedPopulateOverlaps(target: GeneratedPlatform) throws {
        let corpus = try #require(GeneratedCorpus.all[target])
        let failures = Self.failures(corpus) { compiled in PlanRules.populateOverlapRules(compiled.plan) }
        Self.report(failures, of: corpus.accepted.count, "plans populate a page twice")
    }

    @Test("generated plans: load steps write only memory the host can write", arguments: GeneratedPlatform.allCases)
    func generatedLoads(target: GeneratedPlatform) throws {
        let corpus = try #require(GeneratedCorpus.all[target])
        let failures = Self.failures(corpus) { compiled in PlanRules.loadRules(compiled.plan) }
        Self.report(failures, of: corpus.accepted.count, "plans load into unwritable memory", knownIssue: KnownIssues.loadIntoGuestMemfdMmap)
    }

    @Test("generated plans: JSON round trip and determinism", arguments: GeneratedPlatform.allCases)
    func generatedRoundTrip(target: GeneratedPlatform) throws {
        let corpus = try #require(GeneratedCorpus.all[target])
        for entry in corpus.accepted {
            let json = entry.compiled.plan.jsonString()
            let decoded = try Plan(json: json)
            #expect(decoded == entry.compiled.plan, "\(entry.manifest.file)")
            #expect(decoded.jsonString() == json, "\(entry.manifest.file)")
        }
        // Compiling a second generator run gives the same plans.
        let again = GeneratedCorpus.build(target)
        #expect(again.accepted.map(\.compiled.plan) == corpus.accepted.map(\.compiled.plan))
    }
}
