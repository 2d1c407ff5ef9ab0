import Foundation
import TestSupport
import Testing

/// The repository's own documentation (issue 14): the README and `docs/` point only inside the repository,
/// the manifest reference covers every schema key, the kernel facts every rule id, and help text cites no
/// document a clone does not have.
@Suite("Documentation", .requiresBinary)
struct DocsTests {
    static let documents = ["README.md", "docs/manifest.md", "docs/kernel-facts.md", "Examples/ci/README.md", "Examples/fleet/README.md"]

    static func text(_ path: String) throws -> String { try String(contentsOfFile: Repo.path(path), encoding: .utf8) }

    /// Markdown link targets `](target)` that are not URLs or anchors.
    static func relativeLinks(_ text: String) -> [String] {
        var out: [String] = []
        var rest = Substring(text)
        while let start = rest.range(of: "](") {
            rest = rest[start.upperBound...]
            guard let end = rest.firstIndex(of: ")") else { break }
            let target = String(rest[..<end]).split(separator: "#").first.map(String.init) ?? ""
            if !target.isEmpty, !target.contains("://") { out.append(target) }
            rest = rest[end...]
        }
        return out
    }

    @Test("every relative link resolves inside the repository; nothing points at ../shared", arguments: documents)
    func links(_ path: String) throws {
        let text = try Self.text(path)
        #expect(!text.contains("../shared"), "\(path)")
        #expect(!text.contains("DESIGN.md") && !text.contains("KVM_UAPI.md"), "\(path) cites a document a clone does not have")
        let directory = (path as NSString).deletingLastPathComponent
        for link in Self.relativeLinks(text) {
            let resolved = ((Repo.path(directory) as NSString).appendingPathComponent(link) as NSString).standardizingPath
            #expect(resolved.hasPrefix(Repo.root), "\(path): \(link) leaves the repository")
            #expect(FileManager.default.fileExists(atPath: resolved), "\(path): \(link) does not exist")
        }
    }

    @Test("docs/manifest.md names every key of kvmplan schema")
    func manifestKeys() throws {
        let schema = try kvmplan("schema")
        let root = try #require(try parseJSON(schema.stdout) as? [String: Any])
        var keys = Set<String>()
        func walk(_ value: Any) {
            if let object = value as? [String: Any] {
                if let properties = object["properties"] as? [String: Any] { keys.formUnion(properties.keys) }
                for member in object.values { walk(member) }
            } else if let array = value as? [Any] {
                for item in array { walk(item) }
            }
        }
        walk(root)
        #expect(keys.count > 20)
        let doc = try Self.text("docs/manifest.md")
        for key in keys.sorted() {
            #expect(doc.contains("`\(key)`") || doc.contains("\(key):"), "docs/manifest.md does not document '\(key)'")
        }
    }

    @Test("every rule id is documented in docs/, and every id docs/ names exists")
    func ruleIDs() throws {
        let list = try kvmplan("explain", "--list")
        let ids = Set(list.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
        #expect(ids.count > 50)
        let docs = try Self.text("docs/manifest.md") + Self.text("docs/kernel-facts.md")
        // The parser's, waivers' and I/O ids are about files and YAML, not the kernel.
        for id in ids.sorted() where !["yaml.", "format.", "io.", "ignore."].contains(where: { id.hasPrefix($0) }) {
            #expect(docs.contains("`\(id)`"), "\(id) is not in docs/")
        }
        let domains = ["memory", "gmem", "platform", "sharing", "payload", "host", "format", "yaml", "io", "ignore"]
        var named = Set<String>()
        for piece in docs.split(separator: "`") where piece.contains(".") && !piece.contains(" ") {
            let word = String(piece)
            if let domain = word.split(separator: ".").first, domains.contains(String(domain)), word.split(separator: ".").count == 2,
                word.allSatisfy({ $0.isLowercase || $0 == "." || $0 == "-" })
            {
                named.insert(word)
            }
        }
        #expect(!named.isEmpty)
        for id in named.sorted() { #expect(ids.contains(id), "docs/ names '\(id)', which is no rule id") }
    }

    @Test("help text cites no document outside the repository", arguments: ["", "check", "plan", "diff", "map", "launch", "probe", "explain", "schema"])
    func help(_ command: String) throws {
        let binary = try #require(KVMPlanBinary.path)
        let result = try run(binary, (command.isEmpty ? [] : [command]) + ["--help"])
        #expect(result.status == 0, "\(result)")
        #expect(!result.stdout.contains("DESIGN") && !result.stdout.contains("KVM_UAPI") && !result.stdout.contains("§"), "\(result.stdout)")
    }

    @Test("the README states the minimum Swift version")
    func swiftVersion() throws {
        #expect(try Self.text("README.md").contains("Needs Swift 6.3 or newer"))
    }
}
