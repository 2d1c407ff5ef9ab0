import Foundation
import TestSupport
import Testing

/// `kvmplan check`, run as users and CI run it: exit codes, formats and the JSON contract (DESIGN §3).
@Suite("kvmplan check", .requiresBinary)
struct CheckCommandTests {
    // MARK: Exit codes

    @Test("a valid manifest exits 0 with nothing on stdout")
    func valid() throws {
        let result = try kvmplan("check", "Manifests/hello-long.yaml")
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "")
        #expect(result.stderr.contains("checked 1 manifest: 0 error(s), 0 warning(s)"))
    }

    @Test("every sample manifest in one invocation exits 0")
    func allSamples() throws {
        let binary = try #require(KVMPlanBinary.path)
        let result = try run(binary, ["check"] + sampleManifests())
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.contains("checked \(sampleManifests().count) manifests: 0 error(s)"))
    }

    @Test("an invalid manifest exits 1")
    func invalid() throws {
        let result = try kvmplan("check", "Manifests/invalid/overlapping-regions.yaml")
        #expect(result.status == 1, "\(result)")
        #expect(result.stdout.hasPrefix("Manifests/invalid/overlapping-regions.yaml:15:13: error[memory.overlap]: "))
    }

    @Test("a missing file exits 2 and says so on stderr")
    func missingFile() throws {
        let result = try kvmplan("check", "Manifests/no-such-file.yaml")
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("Manifests/no-such-file.yaml"))
        #expect(result.stdout == "")
    }

    @Test("an I/O error wins over an invalid manifest: exit 2, and the other file is still checked")
    func missingAndInvalid() throws {
        let result = try kvmplan("check", "Manifests/invalid/unaligned-size.yaml", "Manifests/no-such-file.yaml")
        #expect(result.status == 2, "\(result)")
        #expect(result.stdout.contains("error[memory.alignment]"))
    }

    @Test(
        "a device or a FIFO is refused at once, not read forever",
        .bug(id: "unbounded-manifest-read", "was: 'check /dev/zero' read without end and a FIFO without a writer hung"),
        .timeLimit(.minutes(1)))
    func notARegularFile() throws {
        let fifo = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-fifo-\(getpid())").path
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        for path in ["/dev/zero", fifo] {
            let result = try kvmplan("check", path)
            #expect(result.status == 2, "\(result)")
            #expect(result.stderr.contains("cannot read '\(path)': not a regular file"), "\(result)")
        }
    }

    @Test(
        "usage errors exit 2",
        arguments: [
            ["check", "--bogus", "Manifests/hello-long.yaml"], ["check"], ["check", "--format", "xml", "Manifests/hello-long.yaml"],
            ["no-such-command"],
        ])
    func usage(_ arguments: [String]) throws {
        let binary = try #require(KVMPlanBinary.path)
        let result = try run(binary, arguments)
        #expect(result.status == 2, "\(result)")
        #expect(!result.stderr.isEmpty)
    }

    @Test("--strict turns the sw-protected warning into an error and exit 1")
    func strict() throws {
        let lenient = try kvmplan("check", "Manifests/sw-protected.yaml")
        #expect(lenient.status == 0, "\(lenient)")
        #expect(lenient.stdout.contains("warning[platform.testing-only]"))
        let strict = try kvmplan("check", "--strict", "Manifests/sw-protected.yaml")
        #expect(strict.status == 1, "\(strict)")
        #expect(strict.stdout.contains("error[platform.testing-only]"))
        #expect(strict.stderr.contains("1 error(s), 0 warning(s)"))
    }

    // MARK: Host profiles

    @Test("--host checks against a profile: a matching host passes, another platform's host fails")
    func hostProfiles() throws {
        let matching = try kvmplan("check", "--host", "Manifests/hosts/linux-6.18-x86-sw-protected.json", "Manifests/sw-protected.yaml")
        #expect(matching.status == 0, "\(matching)")
        let other = try kvmplan("check", "--host", "Manifests/hosts/linux-6.16-tdx.json", "Manifests/sw-protected.yaml")
        #expect(other.status == 1, "\(other)")
        #expect(other.stdout.contains("Manifests/sw-protected.yaml:6:11: error[host.vm-type]"))
        let arm = try kvmplan("check", "--host", "Manifests/hosts/linux-7.1-arm64-pkvm.json", "Manifests/hello-long.yaml")
        #expect(arm.status == 1)
        #expect(arm.stdout.contains("error[host.arch]"))
    }

    @Test("--host with a missing or malformed profile exits 2", arguments: ["Manifests/hosts/no-such-profile.json", "Manifests/hello-long.yaml"])
    func badHostProfile(_ profile: String) throws {
        let result = try kvmplan("check", "--host", profile, "Manifests/hello-long.yaml")
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("host profile"))
        #expect(result.stdout == "")
    }

    // MARK: Formats

    @Test("--format json has exactly the contract keys; notes are objects of severity note")
    func json() throws {
        let result = try kvmplan("check", "--format", "json", "Manifests/invalid/convertible-on-default.yaml", "Manifests/sw-protected.yaml")
        #expect(result.status == 1)
        let object = try #require(try parseJSON(result.stdout) as? [String: Any])
        #expect(Set(object.keys) == ["diagnostics", "errors", "warnings"])
        #expect(object["errors"] as? Int == 2)
        #expect(object["warnings"] as? Int == 1)
        let diagnostics = try #require(object["diagnostics"] as? [[String: Any]])
        #expect(diagnostics.filter { $0["severity"] as? String != "note" }.count == 3)
        for d in diagnostics {
            #expect(Set(d.keys) == ["file", "line", "column", "severity", "id", "message", "path"])
            #expect((d["line"] as? Int ?? 0) >= 1)
            #expect((d["column"] as? Int ?? 0) >= 1)
            #expect(["error", "warning", "note"].contains(d["severity"] as? String ?? ""))
            #expect(!(d["id"] as? String ?? "").isEmpty)
            #expect(d["path"] is String)
        }
        let first = try #require(diagnostics.first)
        #expect(first["file"] as? String == "Manifests/invalid/convertible-on-default.yaml")
        #expect(first["id"] as? String == "platform.private-memory")
        #expect(first["path"] as? String == "memory.regions[0].access")
        #expect(first["line"] as? Int == 14)
        #expect(first["column"] as? Int == 15)
    }

    @Test("--format json of a valid manifest is an empty list")
    func jsonValid() throws {
        let result = try kvmplan("check", "--format", "json", "Manifests/hello-long.yaml")
        #expect(result.status == 0)
        let object = try #require(try parseJSON(result.stdout) as? [String: Any])
        #expect((object["diagnostics"] as? [Any])?.isEmpty == true)
        #expect(object["errors"] as? Int == 0)
        #expect(!result.stderr.contains("checked"), "no text summary in JSON mode")
    }

    @Test("--format github prints workflow commands")
    func github() throws {
        let result = try kvmplan("check", "--format", "github", "Manifests/invalid/tdx-gpa-bits-46.yaml", "Manifests/cca.yaml")
        #expect(result.status == 1)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(
            lines == [
                "::warning file=Manifests/cca.yaml,line=6,col=11,title=kvmplan platform.unmerged-uapi::[platform.unmerged-uapi] platform 'cca' uses KVM uapi that is posted but not merged upstream (Arm CCA series v14: KVM_VM_TYPE_ARM_REALM = 1UL << 30, KVM_CAP_ARM_RMI = 249); numbers may change, and a realm needs an in-kernel irqchip",
                "::error file=Manifests/invalid/tdx-gpa-bits-46.yaml,line=9,col=11,title=kvmplan platform.gpa-bits::[platform.gpa-bits] gpa-bits 46 is not accepted by tdx; use 48 or 52%0Aplatform declared here (Manifests/invalid/tdx-gpa-bits-46.yaml:7:11)",
                "::notice file=Manifests/invalid/tdx-gpa-bits-46.yaml,line=7,col=11,title=kvmplan platform.gpa-bits (note)::note: platform declared here (for Manifests/invalid/tdx-gpa-bits-46.yaml:9:11: gpa-bits 46 is not accepted by tdx; use 48 or 52)",
            ])
    }

    @Test("--format sarif is a SARIF 2.1.0 log with the rules it uses")
    func sarif() throws {
        let result = try kvmplan("check", "--format", "sarif", "Manifests/invalid/snp-readonly-pflash.yaml")
        #expect(result.status == 1)
        let log = try #require(try parseJSON(result.stdout) as? [String: Any])
        #expect(log["version"] as? String == "2.1.0")
        let run = try #require((log["runs"] as? [[String: Any]])?.first)
        let driver = try #require((run["tool"] as? [String: Any])?["driver"] as? [String: Any])
        #expect(driver["name"] as? String == "kvmplan")
        let rules = try #require(driver["rules"] as? [[String: Any]])
        #expect(rules.map { $0["id"] as? String } == ["platform.readonly"])
        #expect(((rules.first?["help"] as? [String: Any])?["text"] as? String)?.isEmpty == false)
        let results = try #require(run["results"] as? [[String: Any]])
        #expect(results.count == 1)
        let location = try #require((results.first?["locations"] as? [[String: Any]])?.first?["physicalLocation"] as? [String: Any])
        #expect((location["region"] as? [String: Any])?["startLine"] as? Int == 24)
    }

    @Test("text output of every typical mistake is its golden file", arguments: invalidManifests())
    func golden(_ path: String) throws {
        let result = try kvmplan("check", "--format", "text", path)
        #expect(result.status == 1, "\(result)")
        // Recorded by RulesTests' GoldenDiagnosticsTests; here only compared.
        let name = path.split(separator: "/").last.map { $0.dropLast(".yaml".count) } ?? ""
        Golden("Manifests/invalid").assert(result.stdout, matches: "\(name).expected", recording: false)
    }

    @Test("all diagnostics of all files come in one run, sorted by file")
    func oneRun() throws {
        let files = invalidManifests()
        let binary = try #require(KVMPlanBinary.path)
        let result = try run(binary, ["check"] + files)
        #expect(result.status == 1)
        var expected = ""
        for path in files.sorted() {
            expected += try String(contentsOfFile: Repo.path(String(path.dropLast(".yaml".count)) + ".expected"), encoding: .utf8)
        }
        #expect(result.stdout == expected)
        #expect(result.stderr.contains("checked \(files.count) manifests"))
    }
}
