import Diagnostics
import Foundation
import Manifest
import Rules
import TestSupport
import Testing

/// Where the CLI and the schema meet the catalogue and the parser (the CLI target's tests cannot link
/// these modules).
@Suite("Schema and CLI against the catalogue")
struct SchemaAndCLITests {
    /// A manifest's YAML tree as the JSON a YAML 1.2 core-schema reader (yaml-language-server) sees:
    /// plain `true`/`false` are booleans, plain decimal and `0x` hex numbers are integers, plain `~`/`null`
    /// is null, everything else a string.
    static func json(_ node: YAMLNode) -> JSONValue {
        switch node.kind {
        case .mapping(let pairs): return .object(Dictionary(pairs.map { ($0.key, json($0.value)) }, uniquingKeysWith: { a, _ in a }))
        case .sequence(let items): return .array(items.map(json))
        case .scalar(let text, let plain):
            guard plain else { return .string(text) }
            switch text {
            case "true": return .bool(true)
            case "false": return .bool(false)
            case "~", "null", "": return .null
            default:
                if let v = Int64(text) { return .int(v) }
                if text.hasPrefix("0x"), let v = UInt64(text.dropFirst(2), radix: 16) { return .uint(v) }
                return .string(text)
            }
        }
    }

    static func instance(_ path: String) throws -> JSONValue {
        let (tree, diagnostics) = ManifestSource.parse(bytes: try FileManagerShim.read(Repo.path(path)), file: path)
        #expect(diagnostics.isEmpty)
        return json(try #require(tree))
    }

    static func validate(_ documents: [String: JSONValue]) throws -> [String: [String]] {
        let program = """
            import json, sys
            import jsonschema
            request = json.load(open(sys.argv[1]))
            jsonschema.Draft202012Validator.check_schema(request["schema"])
            validator = jsonschema.Draft202012Validator(request["schema"])
            print(json.dumps({name: sorted(e.message for e in validator.iter_errors(doc)) for name, doc in request["documents"].items()}))
            """
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-schema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        // The schema as `kvmplan schema` prints it when the binary is there, else the same value from the library.
        var schemaText = ManifestSchema.json.serialized(pretty: true) + "\n"
        if let binary = KVMPlanBinary.path {
            let printed = try runProgram(binary, ["schema"])
            #expect(printed.stdout == schemaText, "kvmplan schema prints ManifestSchema.json")
            schemaText = printed.stdout
        }
        let request = JSONValue.object(["schema": try JSONValue.parse(schemaText), "documents": .object(documents)])
        try Data(request.serialized().utf8).write(to: scratch.appendingPathComponent("request.json"))
        try Data(program.utf8).write(to: scratch.appendingPathComponent("validate.py"))
        let result = try runProgram(
            "/usr/bin/env", ["python3", scratch.appendingPathComponent("validate.py").path, scratch.appendingPathComponent("request.json").path])
        try #require(result.status == 0, "validate.py failed")
        let out = try JSONValue.parse(result.stdout)
        return try #require(out.objectValue).mapValues { $0.arrayValue?.compactMap(\.stringValue) ?? ["?"] }
    }

    @Test(
        "every sample manifest is valid against the schema (jsonschema, kvmplan's YAML reader)",
        .enabled(if: Python.hasJSONSchema, "python3 with the jsonschema package is not available (pip install jsonschema)"))
    func samplesValid() throws {
        let names = try samples()
        var documents: [String: JSONValue] = [:]
        for name in names { documents[name] = try Self.instance("Manifests/\(name)") }
        let errors = try Self.validate(documents)
        #expect(errors.count == names.count)
        for (name, problems) in errors.sorted(by: { $0.key < $1.key }) {
            #expect(problems.isEmpty, "\(name): \(problems)")
        }
    }

    @Test(
        "schema-visible mistakes fail validation; semantic ones are left to the rules",
        .enabled(if: Python.hasJSONSchema, "python3 with the jsonschema package is not available (pip install jsonschema)"))
    func invalidManifests() throws {
        let errors = try Self.validate([
            "typo": try Self.instance("Manifests/invalid/unknown-key-typo.yaml"),
            "overlap": try Self.instance("Manifests/invalid/overlapping-regions.yaml"),
        ])
        #expect(errors["typo"]?.contains { $0.contains("readonyl") } == true, "\(errors)")
        #expect(errors["overlap"] == [], "overlap is a rule, not a schema matter")
    }

    @Test("the schema's vocabularies are the parser's")
    func vocabularies() throws {
        let schema = ManifestSchema.json
        #expect(schema["properties"]?.objectValue.map { Set($0.keys) } == Set(ManifestParser.topLevelKeys))
        let region = schema["properties"]?["memory"]?["properties"]?["regions"]?["items"]
        #expect(region?["properties"]?.objectValue.map { Set($0.keys) } == Set(ManifestParser.regionKeys))
        #expect(schema["properties"]?["sharing"]?["properties"]?.objectValue.map { Set($0.keys) } == Set(ManifestParser.sharingKeys))
        #expect(schema["properties"]?["payload"]?["properties"]?.objectValue.map { Set($0.keys) } == Set(ManifestParser.payloadKeys))
        #expect(schema["properties"]?["platform"]?["enum"] == .array(Platform.allCases.map { .string($0.rawValue) }))
    }

    @Test(
        "kvmplan explain --list lists exactly the catalogue",
        .enabled(if: KVMPlanBinary.path != nil, "no kvmplan executable next to the test bundle; run `swift build` first"))
    func explainList() throws {
        let binary = try #require(KVMPlanBinary.path)
        let result = try runProgram(binary, ["explain", "--list"])
        #expect(result.status == 0)
        // The plan-file ids (plan.*) are listed too; they are documented by the Plan module, checked in CLITests.
        let lines = result.stdout.split(separator: "\n").filter { !$0.hasPrefix("plan.") }
        let listed = lines.map { String($0.prefix { $0 != " " }) }
        #expect(listed == RuleCatalogue.all.map(\.id.rawValue))
        for (line, doc) in zip(lines, RuleCatalogue.all) {
            #expect(line.hasSuffix(doc.summary))
            #expect(line.contains(" \(doc.severity.rawValue) "))
        }
    }
}
