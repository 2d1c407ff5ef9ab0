import Foundation
import Plan
import TestSupport
import Testing

/// `kvmplan diff` as users run it: the built binary, its output and its exit codes (DESIGN §3: 0 same,
/// 1 different, 2 error). Skipped when no `kvmplan` binary has been built next to the tests.
@Suite("kvmplan diff (CLI)", .enabled(if: Run.kvmplan != nil, "no built kvmplan binary found (swift build first)"))
struct DiffCommandTests {
    static func kvmplan(_ arguments: [String]) throws -> Run.Result {
        try Run.process(try #require(Run.kvmplan), arguments)
    }

    static func pair(_ name: String) -> (String, String) { ("Manifests/diff/\(name).a.yaml", "Manifests/diff/\(name).b.yaml") }

    @Test("same plans exit 0 and say so")
    func same() throws {
        let (a, b) = Self.pair("same-comments")
        let result = try Self.kvmplan(["diff", a, b])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "plans are the same\n")
    }

    @Test("different plans exit 1; text and JSON output equal the goldens", arguments: DiffTests.pairs.map(\.name))
    func different(name: String) throws {
        let (a, b) = Self.pair(name)
        let text = try Self.kvmplan(["diff", a, b])
        let isSame = name.hasPrefix("same")
        #expect(text.status == (isSame ? 0 : 1), "\(text.stderr)")
        // The goldens are recorded by DiffTests; here only compared.
        Golden.compiler.assert(text.stdout, matches: "diff/\(name).txt", recording: false)
        let json = try Self.kvmplan(["diff", "--format", "json", a, b])
        #expect(json.status == (isSame ? 0 : 1))
        Golden.compiler.assert(json.stdout, matches: "diff/\(name).json", recording: false)
    }

    @Test("a missing file exits 2 and names the file")
    func missingFile() throws {
        let missing = "Manifests/diff/no-such-manifest.yaml"
        for arguments in [["diff", missing, "Manifests/hello-long.yaml"], ["diff", "Manifests/hello-long.yaml", missing]] {
            let result = try Self.kvmplan(arguments)
            #expect(result.status == 2)
            #expect(result.stderr.contains(missing), "stderr: \(result.stderr)")
        }
    }

    @Test("an invalid manifest exits 2 with file:line:col")
    func invalidManifest() throws {
        let directory = try Run.temporaryDirectory("kvmplan-diff-invalid")
        let bad = directory + "/bad.yaml"
        let manifest = """
            kvmplan: 1
            name: bad
            arch: x86_64
            platform: default
            memory:
              regions:
                - name: ram
                  base: 0x0
                  size: 0

            """
        try manifest.write(toFile: bad, atomically: true, encoding: .utf8)
        let result = try Self.kvmplan(["diff", "Manifests/hello-long.yaml", bad])
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(bad):9:13"), "stderr: \(result.stderr)")
        #expect(result.stderr.contains("memory.zero-size"), "stderr: \(result.stderr)")
    }

    @Test("--fail-on layout exits 1 only when a layout finding exists")
    func failOnLayout() throws {
        let expectations: [(String, Int32)] = [
            ("layout-region-grows", 1), ("layout-vcpus", 1), ("exposure-on-share-keep", 0), ("compatibility-readonly", 0),
            ("measurement-unmeasured", 0), ("same-comments", 0),
        ]
        for (name, status) in expectations {
            let (a, b) = Self.pair(name)
            let result = try Self.kvmplan(["diff", "--fail-on", "layout", a, b])
            #expect(result.status == status, "\(name): \(result.stderr)")
        }
        let (a, b) = Self.pair("exposure-on-share-keep")
        #expect(try Self.kvmplan(["diff", "--fail-on", "exposure,layout", a, b]).status == 1)
    }

    @Test("--fail-on with an unknown class exits 2 and names it")
    func failOnBogus() throws {
        let (a, b) = Self.pair("layout-region-grows")
        let result = try Self.kvmplan(["diff", "--fail-on", "bogus", a, b])
        #expect(result.status == 2)
        #expect(result.stderr.contains("bogus"), "stderr: \(result.stderr)")
    }

    @Test("--fail-on with no class at all exits 2 instead of turning the gate off", arguments: ["", ",,,", " , "])
    func failOnEmpty(list: String) throws {
        let (a, b) = Self.pair("layout-region-grows")
        let result = try Self.kvmplan(["diff", "--fail-on", list, a, b])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("no risk class"), "stderr: \(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test("a manifest against its own plan JSON (from kvmplan plan) is the same; against another's, as manifest vs manifest")
    func manifestAgainstPlanFile() throws {
        let directory = try Run.temporaryDirectory("kvmplan-diff-plans")
        let (a, b) = Self.pair("layout-region-moves")
        let aJSON = directory + "/a.json"
        let bJSON = directory + "/b.json"
        #expect(try Self.kvmplan(["plan", "--format", "json", a, "-o", aJSON]).status == 0)
        #expect(try Self.kvmplan(["plan", "--format", "json", b, "-o", bJSON]).status == 0)
        #expect(try Self.kvmplan(["diff", a, aJSON]).status == 0)
        #expect(try Self.kvmplan(["diff", aJSON, a]).status == 0)
        let viaManifest = try Self.kvmplan(["diff", "--format", "json", a, b])
        let viaPlan = try Self.kvmplan(["diff", "--format", "json", a, bJSON])
        #expect(viaPlan.status == 1)
        // A plan file's sources are relative to its manifest's directory (`kvmplan plan`).
        let bName = String(b.split(separator: "/").last ?? "")
        #expect(
            viaPlan.stdout.replacingOccurrences(of: bJSON, with: b)
                == viaManifest.stdout.replacingOccurrences(of: "\"\(b):", with: "\"\(bName):"))
    }

    @Test("a tampered plan file exits 2 and names the field")
    func tamperedPlanFile() throws {
        let directory = try Run.temporaryDirectory("kvmplan-diff-tampered")
        let planFile = directory + "/plan.json"
        #expect(try Self.kvmplan(["plan", "--format", "json", "Manifests/hello-long.yaml", "-o", planFile]).status == 0)
        var text = try String(contentsOfFile: planFile, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"op\": \"KVM_CREATE_VM\"", with: "\"op\": \"KVM_FROBNICATE\"")
        try text.write(toFile: planFile, atomically: true, encoding: .utf8)
        let result = try Self.kvmplan(["diff", "Manifests/hello-long.yaml", planFile])
        #expect(result.status == 2)
        #expect(result.stderr.contains("op"), "stderr: \(result.stderr)")
        #expect(result.stderr.contains("KVM_FROBNICATE"), "stderr: \(result.stderr)")
    }

    @Test("measured order: a manifest against the plan file with swapped LAUNCH_UPDATE steps exits 1")
    func measurementOrderFile() throws {
        let (_, b) = try DiffTests.measurementOrderPlans()
        let directory = try Run.temporaryDirectory("kvmplan-diff-order")
        let file = directory + "/swapped.json"
        try (b.jsonString() + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let result = try Self.kvmplan(["diff", "--fail-on", "measurement", "Manifests/diff/measurement-order.base.yaml", file])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stdout.contains("the measurement order changes"))
    }
}
