import Foundation
import TestSupport
import Testing

/// Validates manifests against `kvmplan schema` with a real JSON Schema validator: Python's `jsonschema`
/// (CI installs it with pip), reading the YAML with PyYAML. Skipped, with the reason, when either is absent.
/// (RulesTests has the same check with kvmplan's own YAML reader, which needs only `jsonschema`.)
@Suite("Schema validation (jsonschema + PyYAML)", .requiresBinary, .enabled(if: Python.hasJSONSchemaAndYAML, Python.missing))
struct SchemaValidationTests {
    @Test("every sample manifest is valid against kvmplan schema")
    func samples() throws {
        let documents = try Dictionary(uniqueKeysWithValues: sampleManifests().map { ($0, try String(contentsOfFile: Repo.path($0), encoding: .utf8)) })
        let errors = try Python.validate(yaml: documents)
        #expect(errors.count == documents.count)
        for (name, problems) in errors.sorted(by: { $0.key < $1.key }) {
            #expect(problems.isEmpty, "\(name): \(problems)")
        }
    }

    /// Mistakes the schema can see (it knows keys, types, words and patterns, not the platform rules).
    static let schemaInvalid: [(String, String)] = [
        ("unknown key typo", "Manifests/invalid/unknown-key-typo.yaml"),
        ("missing name", "kvmplan: 1\narch: x86_64\nplatform: default\nmemory: {regions: [{name: ram, base: 0, size: 4KiB}]}\n"),
        ("no vCPUs", "kvmplan: 1\nname: a\narch: x86_64\nplatform: default\nvcpus: 0\nmemory: {regions: [{name: ram, base: 0, size: 4KiB}]}\n"),
        ("exbibytes", "kvmplan: 1\nname: a\narch: x86_64\nplatform: default\nmemory: {regions: [{name: ram, base: 0, size: 16EiB}]}\n"),
        ("unknown access", "kvmplan: 1\nname: a\narch: x86_64\nplatform: default\nmemory: {regions: [{name: ram, base: 0, size: 4KiB, access: secret}]}\n"),
        ("format 2", "kvmplan: 2\nname: a\narch: x86_64\nplatform: default\nmemory: {regions: [{name: ram, base: 0, size: 4KiB}]}\n"),
        ("no regions", "kvmplan: 1\nname: a\narch: x86_64\nplatform: default\nmemory: {regions: []}\n"),
        ("upper-case name", "kvmplan: 1\nname: Demo\narch: x86_64\nplatform: default\nmemory: {regions: [{name: ram, base: 0, size: 4KiB}]}\n"),
        ("shared-bit 64", "kvmplan: 1\nname: a\narch: x86_64\nplatform: tdx\nmemory: {regions: [{name: ram, base: 0, size: 4KiB}]}\nsharing: {shared-bit: 64}\n"),
        ("payload without path", "kvmplan: 1\nname: a\narch: x86_64\nplatform: default\nmemory: {regions: [{name: ram, base: 0, size: 4KiB}]}\npayload: {load: 0}\n"),
    ]

    @Test("manifests with schema-visible mistakes fail validation", arguments: schemaInvalid)
    func invalid(_ name: String, _ source: String) throws {
        let text = source.hasPrefix("Manifests/") ? try String(contentsOfFile: Repo.path(source), encoding: .utf8) : source
        let errors = try Python.validate(yaml: [name: text])
        #expect(errors[name]?.isEmpty == false, "\(name) passed the schema")
    }
}

/// Runs a small Python program that validates documents against `kvmplan schema`.
enum Python {
    static let hasJSONSchema = works("import jsonschema")
    static let hasJSONSchemaAndYAML = works("import jsonschema, yaml")
    static let missing: Comment = "python3 with the jsonschema and PyYAML packages is not available (pip install jsonschema pyyaml)"

    static func works(_ code: String) -> Bool {
        (try? run("/usr/bin/env", ["python3", "-c", code]).status) == 0
    }

    static let program = """
        import json, sys
        import jsonschema
        request = json.load(open(sys.argv[1]))
        schema = request["schema"]
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(schema)
        out = {}
        for name, doc in request["documents"].items():
            if "yaml" in doc:
                import yaml
                instance = yaml.safe_load(doc["yaml"])
            else:
                instance = doc["json"]
            out[name] = sorted(e.message for e in validator.iter_errors(instance))
        print(json.dumps(out))
        """

    /// Validates YAML documents (read with PyYAML) against `kvmplan schema`; returns each one's errors.
    static func validate(yaml documents: [String: String]) throws -> [String: [String]] {
        let schema = try kvmplan("schema")
        try #require(schema.status == 0)
        return try validate(schemaText: schema.stdout, documents: documents.mapValues { ["yaml": $0] })
    }

    static func validate(schemaText: String, documents: [String: Any]) throws -> [String: [String]] {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-schema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let request: [String: Any] = ["schema": try parseJSON(schemaText), "documents": documents]
        let requestURL = scratch.appendingPathComponent("request.json")
        try JSONSerialization.data(withJSONObject: request).write(to: requestURL)
        let programURL = scratch.appendingPathComponent("validate.py")
        try Data(program.utf8).write(to: programURL)
        let result = try run("/usr/bin/env", ["python3", programURL.path, requestURL.path])
        try #require(result.status == 0, "\(result)")
        return try #require(try parseJSON(result.stdout) as? [String: [String]])
    }
}
