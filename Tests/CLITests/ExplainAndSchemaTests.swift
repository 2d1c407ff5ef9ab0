import Foundation
import TestSupport
import Testing

/// `kvmplan explain` and `kvmplan schema`.
@Suite("kvmplan explain and schema", .requiresBinary)
struct ExplainAndSchemaTests {
    /// `explain --list`: one `id  severity  summary` line per catalogue entry.
    static func listedIDs() throws -> [(id: String, severity: String, summary: String)] {
        let result = try kvmplan("explain", "--list")
        #expect(result.status == 0, "\(result)")
        return result.stdout.split(separator: "\n").map { line in
            let fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true).map(String.init)
            return (fields.first ?? "", fields.count > 1 ? fields[1] : "", fields.count > 2 ? fields[2].trimmingCharacters(in: .whitespaces) : "")
        }
    }

    @Test("explain --list lists every id once, sorted, with severity and summary")
    func list() throws {
        let entries = try Self.listedIDs()
        let ids = entries.map(\.id)
        #expect(ids.count >= 50)
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == ids.count)
        for entry in entries {
            #expect(["error", "warning", "note"].contains(entry.severity), "\(entry)")
            #expect(!entry.summary.isEmpty, "\(entry)")
        }
        // Every id a golden file shows is listed.
        for path in invalidManifests() {
            let golden = try String(contentsOfFile: Repo.path(String(path.dropLast(".yaml".count)) + ".expected"), encoding: .utf8)
            for line in golden.split(separator: "\n") where !line.hasPrefix(" ") {
                guard let open = line.firstIndex(of: "["), let close = line.firstIndex(of: "]") else { continue }
                #expect(ids.contains(String(line[line.index(after: open)..<close])), "\(line)")
            }
        }
        for id in ["yaml.alias", "format.unknown-key", "memory.overlap", "gmem.readonly", "platform.readonly", "sharing.convertible", "payload.file", "host.capability"] {
            #expect(ids.contains(id), "\(id)")
        }
    }

    @Test("explain without an id is a usage error (exit 2) that points to --list")
    func bareExplain() throws {
        let bare = try kvmplan("explain")
        #expect(bare.status == 2, "\(bare)")
        #expect(bare.stdout.isEmpty)
        #expect(bare.stderr.contains("explain --list"), "\(bare)")
    }

    @Test("explain memory.overlap prints what, why, the kernel's behaviour and the fix")
    func explainOverlap() throws {
        let result = try kvmplan("explain", "memory.overlap")
        #expect(result.status == 0, "\(result)")
        let text = result.stdout
        #expect(text.hasPrefix("memory.overlap (error)\n  Two regions overlap.\n"))
        for heading in ["\nWhy:\n  ", "\nKernel:\n  ", "\nFix:\n  "] {
            #expect(text.contains(heading), "missing \(heading)")
        }
        #expect(text.contains("EEXIST"))
    }

    @Test("every listed id explains itself")
    func everyIDExplains() throws {
        for entry in try Self.listedIDs() {
            let result = try kvmplan("explain", entry.id)
            #expect(result.status == 0, "\(entry.id): \(result)")
            #expect(result.stdout.hasPrefix("\(entry.id) (\(entry.severity))\n  \(entry.summary)"), "\(entry.id)")
            #expect(result.stdout.contains("Why:") && result.stdout.contains("Kernel:") && result.stdout.contains("Fix:"), "\(entry.id)")
        }
    }

    @Test("an unknown id exits 2 and points at --list", arguments: ["memory.overlaps", "", "MEMORY.OVERLAP"])
    func unknownID(_ id: String) throws {
        let result = try kvmplan("explain", id)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("explain --list"))
        #expect(result.stdout == "")
    }

    @Test("schema prints a JSON Schema 2020-12 of the manifest")
    func schema() throws {
        let result = try kvmplan("schema")
        #expect(result.status == 0)
        let schema = try #require(try parseJSON(result.stdout) as? [String: Any])
        #expect(schema["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
        #expect(schema["type"] as? String == "object")
        #expect(schema["additionalProperties"] as? Bool == false)
        #expect(Set(schema["required"] as? [String] ?? []) == ["kvmplan", "name", "arch", "platform", "memory"])
        let properties = try #require(schema["properties"] as? [String: Any])
        #expect(Set(properties.keys) == ["kvmplan", "name", "arch", "platform", "vcpus", "gpa-bits", "memory", "sharing", "payload", "sev-snp", "tdx"])
        #expect(try kvmplan("schema").stdout == result.stdout, "the schema is deterministic")
    }
}
