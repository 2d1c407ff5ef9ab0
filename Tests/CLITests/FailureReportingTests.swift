import Foundation
import TestSupport
import Testing

/// Every failure in every format (issue 14): a file that cannot be read, or a host profile that cannot be
/// loaded, is a diagnostic (`io.read`, `io.host-profile`) in JSON, SARIF and GitHub output and in the text
/// summary's count, and still exits 2. Notes keep their places in every machine format.
@Suite("kvmplan check: failures and notes in every format", .requiresBinary)
struct FailureReportingTests {
    static let missing = "Manifests/no-such-file.yaml"
    static let invalid = "Manifests/invalid/overlapping-regions.yaml"

    @Test("text: the unreadable file is on stderr and counted in the summary; exit 2")
    func text() throws {
        let result = try kvmplan("check", Self.invalid, Self.missing)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("kvmplan: cannot read '\(Self.missing)': no such file"), "\(result)")
        #expect(result.stderr.contains("checked 2 manifests: 2 error(s), 0 warning(s)"), "\(result)")
        #expect(result.stdout.contains("error[memory.overlap]"))
        #expect(!result.stdout.contains("io.read"), "text keeps run failures off stdout")
    }

    @Test("json: the unreadable file is an io.read diagnostic and counted; exit 2")
    func json() throws {
        let result = try kvmplan("check", "--format", "json", "Manifests/hello-long.yaml", Self.missing)
        #expect(result.status == 2, "\(result)")
        let object = try #require(try parseJSON(result.stdout) as? [String: Any])
        #expect(object["errors"] as? Int == 1)
        let diagnostics = try #require(object["diagnostics"] as? [[String: Any]])
        let d = try #require(diagnostics.first)
        #expect(diagnostics.count == 1)
        #expect(d["id"] as? String == "io.read")
        #expect(d["file"] as? String == Self.missing)
        #expect(d["severity"] as? String == "error")
        #expect(d["line"] as? Int == 0)
        #expect(d["message"] as? String == "cannot read '\(Self.missing)': no such file")
    }

    @Test("json: a note follows its diagnostic, with the file, line and column it points at")
    func jsonNotes() throws {
        let result = try kvmplan("check", "--format", "json", Self.invalid)
        let object = try #require(try parseJSON(result.stdout) as? [String: Any])
        let items = try #require(object["diagnostics"] as? [[String: Any]])
        let d = try #require(items.first)
        #expect(d["message"] as? String == "region 'dma' overlaps 'ram' (0x1000_0000..0x1fff_ffff)")
        let note = try #require(items.dropFirst().first)
        #expect(note["severity"] as? String == "note" && note["id"] as? String == d["id"] as? String)
        #expect(note["message"] as? String == "'ram' is declared here")
        #expect(note["file"] as? String == Self.invalid)
        #expect(note["line"] as? Int == 11)
        #expect(note["column"] as? Int == 13)
    }

    @Test("github: the unreadable file is an ::error annotation on the file")
    func github() throws {
        let result = try kvmplan("check", "--format", "github", Self.missing)
        #expect(result.status == 2, "\(result)")
        #expect(
            result.stdout
                == "::error file=\(Self.missing),title=kvmplan io.read::[io.read] cannot read '\(Self.missing)': no such file\n")
    }

    @Test("sarif: a result, a tool execution notification, executionSuccessful false, the driver's version")
    func sarif() throws {
        let result = try kvmplan("check", "--format", "sarif", Self.invalid, Self.missing)
        #expect(result.status == 2, "\(result)")
        let log = try #require(try parseJSON(result.stdout) as? [String: Any])
        let run = try #require((log["runs"] as? [[String: Any]])?.first)
        let driver = try #require((run["tool"] as? [String: Any])?["driver"] as? [String: Any])
        let version = try kvmplan("--version").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(driver["version"] as? String == version)
        #expect(version.hasPrefix("0."), "\(version)")
        let invocation = try #require((run["invocations"] as? [[String: Any]])?.first)
        #expect(invocation["executionSuccessful"] as? Bool == false)
        let notifications = try #require(invocation["toolExecutionNotifications"] as? [[String: Any]])
        #expect(notifications.count == 1)
        #expect((notifications.first?["descriptor"] as? [String: Any])?["id"] as? String == "io.read")
        let results = try #require(run["results"] as? [[String: Any]])
        #expect(results.compactMap { $0["ruleId"] as? String }.sorted() == ["io.read", "memory.overlap"])
        let overlap = try #require(results.first { $0["ruleId"] as? String == "memory.overlap" })
        let related = try #require(overlap["relatedLocations"] as? [[String: Any]])
        let region = (related.first?["physicalLocation"] as? [String: Any])?["region"] as? [String: Any]
        #expect(region?["startLine"] as? Int == 11)
    }

    @Test(
        "a host profile that cannot be loaded is an io.host-profile diagnostic in JSON; exit 2",
        arguments: [
            "Manifests/hosts/no-such-profile.json", "Manifests/hello-long.yaml",
        ])
    func hostProfile(_ profile: String) throws {
        let result = try kvmplan("check", "--format", "json", "--host", profile, "Manifests/hello-long.yaml")
        #expect(result.status == 2, "\(result)")
        let object = try #require(try parseJSON(result.stdout) as? [String: Any])
        let diagnostics = try #require(object["diagnostics"] as? [[String: Any]])
        #expect(diagnostics.map { $0["id"] as? String } == ["io.host-profile"])
        #expect(diagnostics.first?["file"] as? String == profile)
    }

    @Test("explain documents the io.* ids")
    func explain() throws {
        for id in ["io.read", "io.host-profile"] {
            let result = try kvmplan("explain", id)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.hasPrefix("\(id) (error)"))
        }
    }
}
