import Foundation
import TestSupport
import Testing

/// The schema as editors use it (issue 14): descriptions, defaults and examples for every property, a `load`
/// pattern that accepts exactly what kvmplan accepts, the committed copy that the samples' modelines name.
@Suite("Schema for editors", .requiresBinary)
struct SchemaDetailsTests {
    static func schema() throws -> [String: Any] {
        let result = try kvmplan("schema")
        try #require(result.status == 0)
        return try #require(try parseJSON(result.stdout) as? [String: Any])
    }

    /// Every property schema below `properties`, with its data path.
    static func properties(_ object: [String: Any], path: String = "") -> [(String, [String: Any])] {
        var out: [(String, [String: Any])] = []
        for (key, value) in (object["properties"] as? [String: Any]) ?? [:] {
            guard let property = value as? [String: Any] else { continue }
            let here = path.isEmpty ? key : path + "." + key
            out.append((here, property))
            out += properties(property, path: here)
            if let items = property["items"] as? [String: Any] { out += properties(items, path: here + "[]") }
        }
        return out.sorted { $0.0 < $1.0 }
    }

    @Test("every property has a description")
    func descriptions() throws {
        let all = Self.properties(try Self.schema())
        #expect(all.count > 30)
        for (path, property) in all {
            #expect((property["description"] as? String)?.isEmpty == false, "\(path) has no description")
        }
    }

    @Test(
        "defaults and examples where kvmplan has them",
        arguments: [
            ("vcpus", "default"), ("memory.regions[].access", "default"), ("memory.regions[].initial", "default"),
            ("memory.regions[].readonly", "default"), ("sharing.on-share", "default"), ("sharing.on-unshare", "default"),
            ("payload.format", "default"), ("payload.mode", "default"), ("memory.regions[].size", "examples"),
            ("memory.regions[].base", "examples"), ("payload.load", "examples"), ("gpa-bits", "examples"),
        ])
    func defaults(_ path: String, _ key: String) throws {
        let property = try #require(Self.properties(try Self.schema()).first { $0.0 == path }?.1, "\(path)")
        #expect(property[key] != nil, "\(path) has no \(key)")
    }

    @Test("the committed Manifests/kvmplan.schema.json is kvmplan schema's output (regenerate: kvmplan schema > Manifests/kvmplan.schema.json)")
    func committedCopy() throws {
        let committed = try String(contentsOfFile: Repo.path("Manifests/kvmplan.schema.json"), encoding: .utf8)
        #expect(committed == (try kvmplan("schema").stdout))
    }

    @Test("every sample manifest has a yaml-language-server modeline naming a schema that exists", arguments: sampleManifests())
    func modeline(_ path: String) throws {
        let text = try String(contentsOfFile: Repo.path(path), encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("# yaml-language-server: $schema=") }, "\(path)")
        let target = String(line.dropFirst("# yaml-language-server: $schema=".count))
        let resolved = (Repo.path((path as NSString).deletingLastPathComponent) as NSString).appendingPathComponent(target)
        #expect(FileManager.default.fileExists(atPath: resolved), "\(path): \(target)")
    }

    /// `payload.load` values, and whether kvmplan reads them.
    static let loads: [(String, Bool)] = [
        ("ram+0x100000", true), ("ram + 1MiB", true), ("ram", true), ("0x100000", true), ("1048576", true), ("ram+1_000", true),
        ("ram+1M", false), ("ram+", false), ("ram+-1", false), ("1ram+0x10", false), ("RAM+0x1000", false),
    ]

    @Test("the load pattern accepts exactly what kvmplan reads (was: 'ram+1M' passed the schema)", .enabled(if: Python.hasJSONSchema, Python.missing))
    func loadPattern() throws {
        let schemaText = try kvmplan("schema").stdout
        var documents: [String: Any] = [:]
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-load-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try Data([0xF4]).write(to: URL(fileURLWithPath: scratch + "/g.bin"))
        for (index, (load, _)) in Self.loads.enumerated() {
            let manifest = """
                kvmplan: 1
                name: a
                arch: x86_64
                platform: default
                memory: {regions: [{name: ram, base: 0, size: 2MiB}]}
                payload: {path: g.bin, load: "\(load)", mode: real}

                """
            try Data(manifest.utf8).write(to: URL(fileURLWithPath: scratch + "/\(index).yaml"))
            var json: [String: Any] = [
                "kvmplan": 1, "name": "a", "arch": "x86_64", "platform": "default",
                "memory": ["regions": [["name": "ram", "base": 0, "size": "2MiB"]]], "payload": ["path": "g.bin", "load": load, "mode": "real"],
            ]
            json["kvmplan"] = 1
            documents[load] = ["json": json]
        }
        let errors = try Python.validate(schemaText: schemaText, documents: documents)
        for (index, (load, readable)) in Self.loads.enumerated() {
            #expect(errors[load]?.isEmpty == readable, "schema on '\(load)': \(errors[load] ?? [])")
            let check = try kvmplan("check", "--format", "json", scratch + "/\(index).yaml")
            let diagnostics = (try parseJSON(check.stdout) as? [String: Any])?["diagnostics"] as? [[String: Any]] ?? []
            let loadRefused = diagnostics.contains { ($0["path"] as? String) == "payload.load" && ["format.integer", "format.type"].contains($0["id"] as? String ?? "") }
            #expect(loadRefused == !readable, "kvmplan on '\(load)': \(check.stdout)")
        }
    }
}
