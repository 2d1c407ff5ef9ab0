import Foundation
import TestSupport
import Testing

/// The plan's digest and sources do not depend on where the manifest lies or how it was named (issue 14):
/// the digest covers what executes; sources and the payload path are relative to the manifest's directory.
@Suite("kvmplan plan: location-independent digest and sources", .requiresBinary)
struct PlanLocationTests {
    static func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-plan-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A copy of `Manifests/hello-long.yaml` and its payload, laid out as in the repository, under a new root.
    static func copyOfHelloLong(text: String? = nil) throws -> String {
        let root = try scratch()
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/Manifests", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/Examples/guests", withIntermediateDirectories: true)
        let manifest = try text ?? String(contentsOfFile: Repo.path("Manifests/hello-long.yaml"), encoding: .utf8)
        try Data(manifest.utf8).write(to: URL(fileURLWithPath: root + "/Manifests/hello-long.yaml"))
        try fm.copyItem(atPath: Repo.path("Examples/guests/hello-long.bin"), toPath: root + "/Examples/guests/hello-long.bin")
        return root
    }

    static func plan(_ file: String, in directory: String = Repo.root, format: String = "json") throws -> String {
        let binary = try #require(KVMPlanBinary.path)
        let result = try run(binary, ["plan", "--format", format, file], directory: directory)
        try #require(result.status == 0, "\(result)")
        return result.stdout
    }

    static func digest(_ json: String) throws -> String {
        try #require((try parseJSON(json) as? [String: Any])?["sha256"] as? String)
    }

    @Test("one manifest named three ways, and a copy elsewhere: the same bytes in JSON and text")
    func sameBytes() throws {
        let relative = try Self.plan("Manifests/hello-long.yaml")
        let dotted = try Self.plan("./hello-long.yaml", in: Repo.path("Manifests"))
        let absolute = try Self.plan(Repo.path("Manifests/hello-long.yaml"))
        let copy = try Self.copyOfHelloLong()
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let copied = try Self.plan(copy + "/Manifests/hello-long.yaml")
        #expect(dotted == relative)
        #expect(absolute == relative)
        #expect(copied == relative)
        #expect(try Self.plan("Manifests/hello-long.yaml", format: "text") == Self.plan(copy + "/Manifests/hello-long.yaml", format: "text"))
    }

    @Test("sources are relative to the manifest's directory; the payload path is as the manifest wrote it")
    func relativeSources() throws {
        let json = try #require(try parseJSON(try Self.plan("Manifests/hello-long.yaml")) as? [String: Any])
        let steps = try #require(json["steps"] as? [[String: Any]])
        let sources = steps.compactMap { $0["source"] as? String }
        #expect(!sources.isEmpty)
        #expect(sources.allSatisfy { $0.hasPrefix("hello-long.yaml:") }, "\(sources)")
        let payload = try #require(json["payload"] as? [String: Any])
        #expect(payload["path"] as? String == "../Examples/guests/hello-long.bin")
        #expect(payload["source"] as? String == "hello-long.yaml:16:3")
        let text = try Self.plan("Manifests/hello-long.yaml", format: "text")
        #expect(text.contains("# hello-long.yaml:"))
        #expect(!text.contains("Manifests/"))
    }

    @Test("the digest covers what executes: comments and the payload's place do not change it, a size does")
    func digestCoversExecution() throws {
        let original = try String(contentsOfFile: Repo.path("Manifests/hello-long.yaml"), encoding: .utf8)
        let base = try Self.digest(try Self.plan("Manifests/hello-long.yaml"))

        let commented = try Self.copyOfHelloLong(text: "# a new comment\n\n" + original)
        defer { try? FileManager.default.removeItem(atPath: commented) }
        let commentedPlan = try Self.plan(commented + "/Manifests/hello-long.yaml")
        #expect(try Self.digest(commentedPlan) == base, "comments move every source line, not what executes")
        let manifestDigest = (try parseJSON(commentedPlan) as? [String: Any])?["manifest"] as? String
        let baseManifestDigest = (try parseJSON(try Self.plan("Manifests/hello-long.yaml")) as? [String: Any])?["manifest"] as? String
        #expect(manifestDigest != baseManifestDigest, "the manifest digest still records the YAML as written")

        let moved = try Self.copyOfHelloLong(
            text: original.replacingOccurrences(of: "path: ../Examples/guests/hello-long.bin", with: "path: ../Examples/guests/../guests/hello-long.bin"))
        defer { try? FileManager.default.removeItem(atPath: moved) }
        #expect(try Self.digest(try Self.plan(moved + "/Manifests/hello-long.yaml")) == base, "the payload's sha256 counts, not its path")

        let bigger = try Self.copyOfHelloLong(text: original.replacingOccurrences(of: "size: 2MiB", with: "size: 4MiB"))
        defer { try? FileManager.default.removeItem(atPath: bigger) }
        #expect(original.contains("size: 2MiB"))
        #expect(try Self.digest(try Self.plan(bigger + "/Manifests/hello-long.yaml")) != base)
    }

    /// A plan file's payload is followed only inside the plan's directory (the Security section: a plan from
    /// elsewhere must not be a file oracle), so a plan written beside a manifest whose payload lies in or below
    /// the manifest's directory finds it; the samples' `../Examples/...` payload needs `--payload`.
    @Test("a plan written beside its manifest finds its payload when launched (dry run)")
    func planBesideManifest() throws {
        let root = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let original = try String(contentsOfFile: Repo.path("Manifests/hello-long.yaml"), encoding: .utf8)
        let manifest = original.replacingOccurrences(of: "path: ../Examples/guests/hello-long.bin", with: "path: guests/hello-long.bin")
        #expect(manifest != original)
        try FileManager.default.createDirectory(atPath: root + "/guests", withIntermediateDirectories: true)
        try Data(manifest.utf8).write(to: URL(fileURLWithPath: root + "/hello-long.yaml"))
        try FileManager.default.copyItem(atPath: Repo.path("Examples/guests/hello-long.bin"), toPath: root + "/guests/hello-long.bin")
        let binary = try #require(KVMPlanBinary.path)
        let written = try run(binary, ["plan", "--format", "json", "-o", root + "/hello-long.plan.json", root + "/hello-long.yaml"])
        #expect(written.status == 0, "\(written)")
        let launch = try run(binary, ["launch", "--dry-run", root + "/hello-long.plan.json"], directory: "/")
        #expect(launch.status == 0, "\(launch)")
        #expect(launch.stdout.contains("hello-long.bin"), "\(launch)")
    }

    @Test("a plan whose payload lies outside its directory needs --payload")
    func planPayloadOutsideItsDirectory() throws {
        let copy = try Self.copyOfHelloLong()
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let binary = try #require(KVMPlanBinary.path)
        let plan = copy + "/Manifests/hello-long.plan.json"
        let written = try run(binary, ["plan", "--format", "json", "-o", plan, copy + "/Manifests/hello-long.yaml"])
        #expect(written.status == 0, "\(written)")
        let refused = try run(binary, ["launch", "--dry-run", plan], directory: "/")
        #expect(refused.status == 125, "\(refused)")
        #expect(refused.stderr.contains("--payload"), "\(refused)")
        let named = try run(binary, ["launch", "--dry-run", "--payload", copy + "/Examples/guests/hello-long.bin", plan], directory: "/")
        #expect(named.status == 0, "\(named)")
    }
}
