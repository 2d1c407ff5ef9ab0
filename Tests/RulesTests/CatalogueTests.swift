import Compiler
import Diagnostics
import Manifest
import Rules
import TestSupport
import Testing

/// The rule catalogue behind `kvmplan explain`: every id documented, unique and stable in form.
@Suite("Rule catalogue")
struct CatalogueTests {
    @Test("ids are unique")
    func unique() {
        let ids = RuleCatalogue.all.map(\.id)
        #expect(Set(ids).count == ids.count, "duplicates: \(Dictionary(grouping: ids, by: { $0 }).filter { $1.count > 1 }.keys)")
        #expect(RuleCatalogue.byID.count == ids.count)
        let ruleIDs = RuleRegistry.rules.map { $0.id }
        #expect(Set(ruleIDs).count == ruleIDs.count, "two rule types share an id")
    }

    @Test("every entry has a summary, a rationale, the kernel's behaviour and a fix", arguments: RuleCatalogue.all.map(\.id.rawValue))
    func documented(_ id: String) throws {
        let doc = try #require(RuleCatalogue.byID[DiagnosticID(id)])
        for (field, text) in [("summary", doc.summary), ("rationale", doc.rationale), ("kernel", doc.kernel), ("fix", doc.fix)] {
            #expect(!text.trimmingSpacesAndNewlines.isEmpty, "\(id): empty \(field)")
        }
        #expect(doc.summary.count <= 120, "\(id): the summary is one line for `explain --list`")
        #expect(!doc.summary.contains("\n"))
    }

    @Test("ids are domain.name in lower case", arguments: RuleCatalogue.all.map(\.id.rawValue))
    func idForm(_ id: String) {
        let parts = id.split(separator: ".", omittingEmptySubsequences: false)
        #expect(parts.count == 2, "\(id)")
        #expect(["yaml", "format", "memory", "gmem", "platform", "sharing", "payload", "snp", "tdx", "host", "io", "ignore"].contains(String(parts[0])), "\(id)")
        #expect(id.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "." || $0 == "-" }, "\(id)")
    }

    @Test("the catalogue is the parser's ids, every rule's id, the host ids and the io ids, sorted")
    func composition() {
        let expected = Set(
            ManifestMessages.documentation.map(\.id) + RuleRegistry.rules.map { $0.id } + HostRules.documentation.map(\.id)
                + IOMessages.documentation.map(\.id) + WaiverMessages.documentation.map(\.id))
        #expect(Set(RuleCatalogue.all.map(\.id)) == expected)
        #expect(RuleCatalogue.all.map(\.id) == RuleCatalogue.all.map(\.id).sorted())
        for rule in RuleRegistry.rules {
            #expect(RuleCatalogue.byID[rule.id] == rule.documentation)
            #expect(!rule.appliesTo.isEmpty, "\(rule.id) applies to no architecture")
        }
    }

    /// Runs last in this suite's file order only by luck, so it checks what it can see: every id the rule
    /// tests have produced so far, plus the ids of the sample manifests, is in the catalogue. (Each run
    /// through `check(_:)` also asserts this immediately.)
    @Test("every id seen by any test is documented")
    func seenIDsDocumented() throws {
        for name in try samples() {
            _ = check(try String(contentsOfFile: Repo.path("Manifests/\(name)"), encoding: .utf8), file: "Manifests/\(name)")
        }
        for id in seenIDs.all {
            #expect(RuleCatalogue.byID[id] != nil, "undocumented id \(id)")
        }
    }

    @Test("'measured: true' without a launch measurement is its own warning, payload.measured-ignored (once payload.measured, an error id emitting a warning)")
    func measuredSeverity() {
        let (_, diagnostics) = check(
            manifest(regions: "    - {name: ram, base: 0x0, size: 2MiB}", rest: "payload:\n  path: g.bin\n  load: ram+0x100000\n  measured: true\n"))
        let ignored = diagnostics.all.filter { $0.id == "payload.measured-ignored" }
        #expect(ignored.count == 1 && diagnostics.all.filter { $0.id == "payload.measured" }.isEmpty)
        #expect(ignored.allSatisfy { $0.severity == .warning && $0.severity == RuleCatalogue.byID["payload.measured-ignored"]?.severity })
    }

    @Test("every diagnostic a rule emits has the rule's documented severity, for every sample and invalid manifest")
    func severitiesMatchTheCatalogue() throws {
        let invalid = try FileManagerShim.yamlFiles(in: Repo.path("Manifests/invalid")).map { "invalid/" + $0 }
        #expect(!invalid.isEmpty)
        for name in try samples() + invalid {
            let (_, diagnostics) = check(try String(contentsOfFile: Repo.path("Manifests/\(name)"), encoding: .utf8), file: "Manifests/\(name)")
            for d in diagnostics.all {
                guard let rule = RuleRegistry.rules.first(where: { $0.id == d.id }) else { continue }
                #expect(d.severity == rule.documentation.severity, "\(name): \(d.id)")
            }
        }
    }
}

func samples() throws -> [String] {
    try FileManagerShim.yamlFiles(in: Repo.path("Manifests"))
}

extension String {
    var trimmingSpacesAndNewlines: String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
