import Foundation
import TestSupport
import Testing

/// `check DIR`, `check -`, `--ignore ID` and inline `# kvmplan: ignore[ID]` (issue 14).
@Suite("kvmplan check: directories, stdin and waivers", .requiresBinary)
struct CheckInputsTests {
    static let valid = """
        kvmplan: 1
        name: demo
        arch: x86_64
        platform: default
        memory:
          regions:
            - {name: ram, base: 0x0, size: 2MiB}

        """

    static let testingOnly = valid.replacingOccurrences(of: "platform: default", with: "platform: sw-protected")

    /// A scratch directory, removed at the end of the test.
    final class Scratch {
        let root: String

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-inputs-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        func write(_ path: String, _ text: String) throws {
            let full = root + "/" + path
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: full))
        }
    }

    // MARK: Directories

    @Test("a directory is checked recursively: *.yaml and *.yml, sorted, hidden entries and other files skipped")
    func directory() throws {
        let scratch = try Scratch()
        try scratch.write("b.yaml", Self.valid)
        try scratch.write("a/deep/c.yml", Self.valid.replacingOccurrences(of: "size: 2MiB", with: "size: 6000"))
        try scratch.write("a/notes.txt", "not a manifest")
        try scratch.write("a/profile.json", "{}")
        try scratch.write(".hidden/x.yaml", "broken: [")
        try scratch.write(".dot.yaml", "broken: [")
        try FileManager.default.createSymbolicLink(atPath: scratch.root + "/a/loop", withDestinationPath: scratch.root)
        let result = try kvmplan("check", "--format", "json", scratch.root + "/")
        #expect(result.status == 1, "\(result)")
        let object = try #require(try parseJSON(result.stdout) as? [String: Any])
        let files = try #require(object["diagnostics"] as? [[String: Any]]).compactMap { $0["file"] as? String }
        #expect(files == [scratch.root + "/a/deep/c.yml"])
        let text = try kvmplan("check", scratch.root)
        #expect(text.stderr.contains("checked 2 manifests: 1 error(s)"), "\(text)")
    }

    @Test("the sample directory: every manifest below Manifests/ is checked, the invalid ones fail")
    func samplesDirectory() throws {
        let result = try kvmplan("check", "Manifests")
        #expect(result.status == 1, "\(result)")
        #expect(result.stdout.contains("Manifests/invalid/overlapping-regions.yaml:15:13: error[memory.overlap]"))
        #expect(!result.stdout.contains("Manifests/hello-long.yaml"), "a valid sample has nothing to say")
    }

    @Test("a directory without manifests is an io.read failure: exit 2, never a silent pass")
    func emptyDirectory() throws {
        let scratch = try Scratch()
        try scratch.write("README.md", "nothing here")
        let result = try kvmplan("check", "--format", "json", scratch.root)
        #expect(result.status == 2, "\(result)")
        let object = try #require(try parseJSON(result.stdout) as? [String: Any])
        let d = try #require((object["diagnostics"] as? [[String: Any]])?.first)
        #expect(d["id"] as? String == "io.read")
        #expect((d["message"] as? String)?.contains("no *.yaml or *.yml file") == true)
    }

    // MARK: Standard input

    @Test("'-' reads standard input, reported as <stdin>")
    func standardInput() throws {
        let binary = try #require(KVMPlanBinary.path)
        let ok = try run(binary, ["check", "-"], input: Self.valid)
        #expect(ok.status == 0, "\(ok)")
        #expect(ok.stderr.contains("checked 1 manifest: 0 error(s)"))
        let bad = try run(binary, ["check", "-"], input: Self.valid.replacingOccurrences(of: "size: 2MiB", with: "size: 6000"))
        #expect(bad.status == 1, "\(bad)")
        #expect(bad.stdout.hasPrefix("<stdin>:7:36: error[memory.alignment]"), "\(bad)")
        let empty = try run(binary, ["check", "--format", "json", "-"], input: "")
        #expect(empty.status == 1, "\(empty)")
        #expect(empty.stdout.contains("\"file\" : \"<stdin>\"") || empty.stdout.contains("\"file\": \"<stdin>\""), "\(empty)")
    }

    @Test("'-' with files, and '-' twice: standard input is read once")
    func standardInputTwice() throws {
        let binary = try #require(KVMPlanBinary.path)
        let mixed = try run(binary, ["check", "Manifests/hello-long.yaml", "-"], input: Self.valid)
        #expect(mixed.status == 0, "\(mixed)")
        #expect(mixed.stderr.contains("checked 2 manifests"))
        let twice = try run(binary, ["check", "-", "-"], input: Self.valid)
        #expect(twice.status == 2, "\(twice)")
        #expect(twice.stderr.contains("standard input can be read only once"))
    }

    // MARK: Waivers

    @Test("--ignore drops a warning everywhere; repeatable and comma-separated")
    func ignoreOption() throws {
        let plain = try kvmplan("check", "Manifests/sw-protected.yaml", "Manifests/cca.yaml")
        #expect(plain.stdout.contains("platform.testing-only") && plain.stdout.contains("platform.unmerged-uapi"))
        let one = try kvmplan("check", "--ignore", "platform.testing-only", "Manifests/sw-protected.yaml", "Manifests/cca.yaml")
        #expect(one.status == 0)
        #expect(!one.stdout.contains("platform.testing-only") && one.stdout.contains("platform.unmerged-uapi"))
        let both = try kvmplan(
            "check", "--strict", "--ignore", "platform.testing-only,platform.unmerged-uapi", "Manifests/sw-protected.yaml", "Manifests/cca.yaml")
        #expect(both.status == 0, "\(both)")
        #expect(both.stdout == "")
        let repeated = try kvmplan(
            "check", "--strict", "--ignore", "platform.testing-only", "--ignore", "platform.unmerged-uapi", "Manifests/sw-protected.yaml",
            "Manifests/cca.yaml")
        #expect(repeated.status == 0, "\(repeated)")
    }

    @Test("--ignore waives host.* errors (a fleet may knowingly keep a guest a host cannot run)")
    func ignoreHost() throws {
        let failing = try kvmplan("check", "--host", "Manifests/hosts/linux-6.16-tdx.json", "Manifests/sw-protected.yaml")
        #expect(failing.status == 1)
        let waived = try kvmplan(
            "check", "--host", "Manifests/hosts/linux-6.16-tdx.json", "--ignore", "host.vm-type", "--ignore", "platform.testing-only",
            "Manifests/sw-protected.yaml")
        #expect(waived.status == 0 || !waived.stdout.contains("host.vm-type"), "\(waived)")
        #expect(!waived.stdout.contains("host.vm-type"))
    }

    @Test(
        "--ignore refuses unknown ids (with a suggestion) and errors that cannot be waived: exit 2",
        arguments: [
            ("platform.testin-only", "did you mean 'platform.testing-only'?"),
            ("memory.overlap", "'memory.overlap' is an error that cannot be waived"),
        ])
    func ignoreRefused(_ id: String, _ message: String) throws {
        let result = try kvmplan("check", "--ignore", id, "Manifests/hello-long.yaml")
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains(message), "\(result)")
    }

    @Test("an inline '# kvmplan: ignore[ID]' waives that id on its own line only")
    func inline() throws {
        let scratch = try Scratch()
        try scratch.write(
            "waived.yaml", Self.testingOnly.replacingOccurrences(of: "platform: sw-protected", with: "platform: sw-protected  # kvmplan: ignore[platform.testing-only]"))
        try scratch.write(
            "elsewhere.yaml", Self.testingOnly.replacingOccurrences(of: "name: demo", with: "name: demo  # kvmplan: ignore[platform.testing-only]"))
        let waived = try kvmplan("check", "--strict", scratch.root + "/waived.yaml")
        #expect(waived.status == 0, "\(waived)")
        #expect(waived.stdout == "")
        let elsewhere = try kvmplan("check", scratch.root + "/elsewhere.yaml")
        #expect(elsewhere.status == 0, "\(elsewhere)")
        #expect(elsewhere.stdout.contains("4:11: warning[platform.testing-only]"), "the finding on line 4 is not waived")
        #expect(elsewhere.stdout.contains("2:31: warning[ignore.unused]"), "\(elsewhere)")
    }

    @Test("inline waivers naming an unknown id or an error are warnings of their own; the error stays")
    func inlineProblems() throws {
        let scratch = try Scratch()
        let text = Self.valid.replacingOccurrences(
            of: "    - {name: ram, base: 0x0, size: 2MiB}", with: "    - {name: ram, base: 0x0, size: 6000}  # kvmplan: ignore[memory.alignment, platform.testin-only]")
        try scratch.write("g.yaml", text)
        let result = try kvmplan("check", "--format", "json", scratch.root + "/g.yaml")
        #expect(result.status == 1, "\(result)")
        let object = try #require(try parseJSON(result.stdout) as? [String: Any])
        let diagnostics = try #require(object["diagnostics"] as? [[String: Any]])
        let main = diagnostics.filter { $0["severity"] as? String != "note" }
        #expect(main.compactMap { $0["id"] as? String } == ["memory.alignment", "ignore.not-waivable", "ignore.unknown"])
        let unknown = try #require(main.last)
        let note = try #require(diagnostics.last)
        #expect(note["severity"] as? String == "note" && note["id"] as? String == "ignore.unknown")
        #expect(note["message"] as? String == "did you mean 'platform.testing-only'?")
        #expect(unknown["column"] as? Int == 79)
    }

    @Test("explain documents the ignore.* ids", arguments: ["ignore.unknown", "ignore.unused", "ignore.not-waivable"])
    func explain(_ id: String) throws {
        let result = try kvmplan("explain", id)
        #expect(result.status == 0, "\(result)")
    }
}
