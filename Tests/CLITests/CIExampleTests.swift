import Foundation
import TestSupport
import Testing

/// `Examples/ci`: the pre-commit hook run by a real `git commit` in a scratch repository, and the
/// workflow's shape.
@Suite("CI examples", .requiresBinary, .enabled(if: Git.available, "git is not available"))
struct CIExampleTests {
    static let valid = """
        kvmplan: 1
        name: demo
        arch: x86_64
        platform: default
        memory:
          regions:
            - {name: ram, base: 0x0, size: 2MiB}

        """

    static let invalid = valid.replacingOccurrences(of: "size: 2MiB", with: "size: 6000")

    /// A scratch repository with the hook installed and `KVMPLAN` pointing at this build's binary.
    final class Scratch {
        let root: URL

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-hook-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: root.appendingPathComponent("guests"), withIntermediateDirectories: true)
            try git("init", "-q")
            try git("config", "user.email", "test@example.invalid")
            try git("config", "user.name", "kvmplan test")
            try git("config", "commit.gpgsign", "false")
            let hook = root.appendingPathComponent(".git/hooks/pre-commit")
            try? FileManager.default.removeItem(at: hook)
            try FileManager.default.copyItem(atPath: Repo.path("Examples/ci/pre-commit"), toPath: hook.path)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook.path)
        }

        deinit { try? FileManager.default.removeItem(at: root) }

        func write(_ path: String, _ text: String) throws {
            try Data(text.utf8).write(to: root.appendingPathComponent(path))
        }

        @discardableResult
        func git(_ arguments: String...) throws -> RunResult {
            try gitRun(arguments)
        }

        func gitRun(_ arguments: [String], environment: [String: String] = [:]) throws -> RunResult {
            var env = ["KVMPLAN": KVMPlanBinary.path ?? "kvmplan"]
            env.merge(environment) { _, new in new }
            let assignments = env.map { "\($0.key)=\($0.value)" }
            return try run("/usr/bin/env", assignments + ["git"] + arguments, directory: root.path)
        }

        func commit(_ message: String, environment: [String: String] = [:]) throws -> RunResult {
            try gitRun(["commit", "-q", "-m", message], environment: environment)
        }
    }

    @Test("a valid manifest commits; an invalid one is refused with its diagnostic")
    func validAndInvalid() throws {
        let repo = try Scratch()
        try repo.write("guest.yaml", Self.valid)
        try repo.git("add", "guest.yaml")
        let ok = try repo.commit("valid")
        #expect(ok.status == 0, "\(ok)")

        try repo.write("guest.yaml", Self.invalid)
        try repo.git("add", "guest.yaml")
        let refused = try repo.commit("invalid")
        #expect(refused.status != 0, "\(refused)")
        #expect(refused.stderr.contains("guest.yaml:7:36: error[memory.alignment]"), "\(refused)")
    }

    @Test("the staged version is checked, under its own name, not the working tree")
    func stagedVersion() throws {
        let repo = try Scratch()
        try repo.write("guest.yaml", Self.invalid)
        try repo.git("add", "guest.yaml")
        try repo.write("guest.yaml", Self.valid)  // fixed, but not staged
        let refused = try repo.commit("staged is invalid")
        #expect(refused.status != 0, "\(refused)")
        #expect(refused.stderr.contains("guest.yaml:7:36: error[memory.alignment]"))
        #expect(!refused.stderr.contains(".kvmplan-staged-"), "the temporary name is replaced by the real one")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: repo.root.path).filter { $0.hasPrefix(".kvmplan-staged-") }
        #expect(leftovers.isEmpty)

        try repo.write("guest.yaml", Self.invalid)
        try repo.write("other.yaml", Self.valid)
        try repo.git("add", "other.yaml")
        try repo.git("reset", "-q", "guest.yaml")
        let unstagedInvalid = try repo.commit("only other.yaml is staged")
        #expect(unstagedInvalid.status == 0, "an unstaged invalid manifest does not block: \(unstagedInvalid)")
    }

    @Test("other YAML files and excluded paths are left alone; warnings fail only with KVMPLAN_STRICT")
    func filtersAndStrict() throws {
        let repo = try Scratch()
        try repo.write("ci.yaml", "jobs: {build: {runs-on: ubuntu}}\n")
        try repo.git("add", "ci.yaml")
        #expect(try repo.commit("not a manifest").status == 0)

        try FileManager.default.createDirectory(at: repo.root.appendingPathComponent("invalid"), withIntermediateDirectories: true)
        try repo.write("invalid/bad.yaml", Self.invalid)
        try repo.git("add", "invalid/bad.yaml")
        #expect(try repo.commit("wrong on purpose", environment: ["KVMPLAN_EXCLUDE": "^invalid/"]).status == 0)

        let warning = Self.valid.replacingOccurrences(of: "platform: default", with: "platform: sw-protected")
        try repo.write("swprot.yaml", warning)
        try repo.git("add", "swprot.yaml")
        let strict = try repo.commit("warning, strict", environment: ["KVMPLAN_STRICT": "1"])
        #expect(strict.status != 0, "\(strict)")
        #expect(strict.stderr.contains("error[platform.testing-only]"))
        #expect(try repo.commit("warning").status == 0)
    }

    @Test("the pre-commit framework hook: its entry skips other YAML files and fails on an invalid manifest")
    func preCommitFramework() throws {
        let text = try String(contentsOfFile: Repo.path(".pre-commit-hooks.yaml"), encoding: .utf8)
        #expect(text.contains("entry: kvmplan check --skip-non-manifests"))
        #expect(text.contains("language: swift"))
        if Python.works("import yaml") {
            let result = try run(
                "/usr/bin/env",
                [
                    "python3", "-c",
                    """
                    import sys, yaml
                    hooks = yaml.safe_load(open(sys.argv[1]))
                    assert isinstance(hooks, list) and len(hooks) == 1, hooks
                    h = hooks[0]
                    assert {"id", "name", "entry", "language"} <= set(h), h
                    assert h["id"] == "kvmplan-check" and h["language"] == "swift" and h["types"] == ["yaml"], h
                    print(h["entry"])
                    """,
                    Repo.path(".pre-commit-hooks.yaml"),
                ])
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout == "kvmplan check --skip-non-manifests\n")
        }
        // What pre-commit runs: the entry with the staged YAML files appended.
        let repo = try Scratch()
        try repo.write("ci.yaml", "jobs: {build: {runs-on: ubuntu}}\n")
        try repo.write("guest.yaml", Self.valid)
        try repo.write("bad.yaml", Self.invalid)
        let binary = try #require(KVMPlanBinary.path)
        let ok = try run(binary, ["check", "--skip-non-manifests", "ci.yaml", "guest.yaml"], directory: repo.root.path)
        #expect(ok.status == 0, "\(ok)")
        #expect(ok.stderr.contains("checked 1 manifest (1 other YAML file skipped): 0 error(s)"), "\(ok)")
        let bad = try run(binary, ["check", "--skip-non-manifests", "ci.yaml", "guest.yaml", "bad.yaml"], directory: repo.root.path)
        #expect(bad.status == 1, "\(bad)")
        #expect(bad.stdout.contains("bad.yaml:7:36: error[memory.alignment]"))
        let unskipped = try run(binary, ["check", "ci.yaml"], directory: repo.root.path)
        #expect(unskipped.status == 1, "without the flag, any YAML file is a manifest: \(unskipped)")
    }

    @Test("the workflow builds kvmplan and checks Manifests/*.yaml with --format github")
    func workflow() throws {
        let text = try String(contentsOfFile: Repo.path("Examples/ci/github-actions.yml"), encoding: .utf8)
        let commands = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.hasPrefix("run:") }
        #expect(commands.contains { $0.contains("swift build") && $0.contains("--product kvmplan") })
        #expect(commands.contains("run: .build/release/kvmplan check --format github Manifests/*.yaml"))
        if Python.works("import yaml") {
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-workflow-\(UUID().uuidString).py")
            defer { try? FileManager.default.removeItem(at: scratch) }
            try Data(
                """
                import sys, yaml
                w = yaml.safe_load(open(sys.argv[1]))
                steps = w["jobs"]["check"]["steps"]
                assert any("check --format github" in s.get("run", "") for s in steps), steps
                assert w["permissions"] == {"contents": "read"}
                """.utf8
            ).write(to: scratch)
            let result = try run("/usr/bin/env", ["python3", scratch.path, Repo.path("Examples/ci/github-actions.yml")])
            #expect(result.status == 0, "\(result)")
        }
    }
}

enum Git {
    static let available = (try? run("/usr/bin/env", ["git", "--version"]).status) == 0
}
