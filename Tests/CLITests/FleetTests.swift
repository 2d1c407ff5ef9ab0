import Foundation
import TestSupport
import Testing

/// `check --host A --host B` and `--host DIR`: every profile is checked, each shortfall is reported under
/// the profile's name, and a manifest × host matrix says which hosts can run which guests (issue 14).
@Suite("kvmplan check: fleets of host profiles", .requiresBinary)
struct FleetTests {
    static let tdx = "Manifests/hosts/linux-6.16-tdx.json"
    static let swProtected = "Manifests/hosts/linux-6.18-x86-sw-protected.json"

    @Test("--host A --host B checks both (was: only B), each shortfall under the profile's name")
    func twoHosts() throws {
        let result = try kvmplan("check", "--host", Self.tdx, "--host", Self.swProtected, "Manifests/sw-protected.yaml", "Manifests/hello-long.yaml")
        #expect(result.status == 1, "\(result)")
        #expect(
            result.stdout.contains(
                "Manifests/sw-protected.yaml:6:11: error[host.vm-type]: host 'linux-6.16-tdx': this host's KVM supports VM types {default, tdx}, not sw-protected"
            ), "\(result)")
        #expect(!result.stdout.contains("host 'linux-6.18-x86-sw-protected'"), "sw-protected runs there")
        // The testing-only warning is the same on both hosts: reported once, unattributed.
        #expect(result.stdout.components(separatedBy: "warning[platform.testing-only]").count == 2)
        let expectedMatrix = """
            manifest                     linux-6.16-tdx    linux-6.18-x86-sw-protected
            Manifests/sw-protected.yaml  no: host.vm-type  ok
            Manifests/hello-long.yaml    ok                ok
            runs                         1/2               2/2

            """
        #expect(result.stdout.hasSuffix("\n" + expectedMatrix), "\(result)")
    }

    @Test("the order of --host options is the order of the matrix columns; a profile given twice counts once")
    func order() throws {
        let result = try kvmplan("check", "--host", Self.swProtected, "--host", Self.tdx, "--host", Self.tdx, "Manifests/hello-long.yaml")
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("manifest                   linux-6.18-x86-sw-protected  linux-6.16-tdx\n"), "\(result)")
    }

    @Test("--host DIR: every profile in it; the JSON has the matrix as typed values")
    func directoryJSON() throws {
        let result = try kvmplan("check", "--format", "json", "--host", "Manifests/hosts", "Manifests/tdx.yaml", "Manifests/hello-long.yaml")
        #expect(result.status == 1, "\(result)")
        let object = try #require(try parseJSON(result.stdout) as? [String: Any])
        let fleet = try #require(object["fleet"] as? [String: Any])
        let hosts = try #require(fleet["hosts"] as? [String])
        #expect(
            hosts == [
                "lab-linux-6.12-sw-protected", "linux-6.11-sev-snp", "linux-6.16-tdx", "linux-6.18-x86-sw-protected",
                "linux-7.1-arm64-pkvm", "this-machine-kind",
            ])
        let manifests = try #require(fleet["manifests"] as? [[String: Any]])
        #expect(manifests.compactMap { $0["file"] as? String } == ["Manifests/tdx.yaml", "Manifests/hello-long.yaml"])
        let tdx = try #require(manifests.first?["hosts"] as? [String: [String: Any]])
        #expect(tdx["linux-6.16-tdx"]?["runs"] as? Bool == true)
        #expect(tdx["linux-6.16-tdx"]?["verdict"] as? String == "ok")
        #expect(tdx["linux-6.11-sev-snp"]?["runs"] as? Bool == false)
        #expect(tdx["linux-6.11-sev-snp"]?["ids"] as? [String] == ["host.vm-type"])
        #expect(tdx["linux-7.1-arm64-pkvm"]?["ids"] as? [String] == ["host.arch"])
        let diagnostics = try #require(object["diagnostics"] as? [[String: Any]])
        #expect(
            diagnostics.filter { $0["severity"] as? String != "note" }.allSatisfy { ($0["message"] as? String)?.hasPrefix("host '") == true },
            "every finding here is a host's")
    }

    @Test("an invalid manifest is 'invalid' for every host; an unreadable one 'unreadable' (exit 2)")
    func invalidAndUnreadable() throws {
        let result = try kvmplan(
            "check", "--host", Self.tdx, "--host", Self.swProtected, "Manifests/invalid/overlapping-regions.yaml", "Manifests/no-such.yaml")
        #expect(result.status == 2, "\(result)")
        #expect(result.stdout.contains("Manifests/invalid/overlapping-regions.yaml  invalid         invalid"), "\(result)")
        #expect(result.stdout.contains("Manifests/no-such.yaml                      unreadable      unreadable"), "\(result)")
        #expect(result.stdout.components(separatedBy: "error[memory.overlap]").count == 2, "reported once, not per host")
    }

    @Test("a profile that cannot be loaded is reported; the others are still checked; exit 2")
    func badProfileAmongGood() throws {
        let result = try kvmplan("check", "--format", "json", "--host", Self.tdx, "--host", "Manifests/hosts/nope.json", "Manifests/sw-protected.yaml")
        #expect(result.status == 2, "\(result)")
        let object = try #require(try parseJSON(result.stdout) as? [String: Any])
        let ids = try #require(object["diagnostics"] as? [[String: Any]]).compactMap { $0["id"] as? String }
        #expect(ids.contains("io.host-profile"))
        #expect(ids.contains("host.vm-type"))
        #expect((object["fleet"] as? [String: Any])?["hosts"] as? [String] == ["linux-6.16-tdx"])
    }

    @Test("a directory without profiles is an io.host-profile failure")
    func emptyProfileDirectory() throws {
        let result = try kvmplan("check", "--host", "Manifests/invalid", "Manifests/hello-long.yaml")
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("cannot load host profile 'Manifests/invalid': it is a directory with no *.json file"), "\(result)")
    }

    @Test("one host: no matrix in text, the fleet object in JSON")
    func oneHost() throws {
        let text = try kvmplan("check", "--host", Self.tdx, "Manifests/tdx.yaml")
        #expect(text.status == 0, "\(text)")
        #expect(text.stdout == "")
        let json = try kvmplan("check", "--format", "json", "--host", Self.tdx, "Manifests/tdx.yaml")
        let object = try #require(try parseJSON(json.stdout) as? [String: Any])
        #expect((object["fleet"] as? [String: Any])?["hosts"] as? [String] == ["linux-6.16-tdx"])
    }

    @Test("an inline waiver of a host finding: used on one host, not stale on the other; unused on all, reported once")
    func inlineWaiverAcrossHosts() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-fleet-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let text = try String(contentsOfFile: Repo.path("Manifests/sw-protected.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "platform: sw-protected", with: "platform: sw-protected  # kvmplan: ignore[host.vm-type, platform.testing-only]")
        try Data(text.utf8).write(to: URL(fileURLWithPath: scratch + "/g.yaml"))
        let both = try kvmplan("check", "--host", Self.tdx, "--host", Self.swProtected, scratch + "/g.yaml")
        #expect(both.status == 0, "\(both)")
        #expect(!both.stdout.contains("ignore.unused"), "used on the tdx host: \(both)")
        let one = try kvmplan(
            "check", "--host", Self.swProtected, "--host", "Manifests/hosts/../hosts/linux-6.18-x86-sw-protected.json", scratch + "/g.yaml")
        #expect(one.stdout.components(separatedBy: "warning[ignore.unused]").count == 2, "unused everywhere: once \(one)")
    }

    @Test("a waived host finding makes the host's cell ok")
    func waivedCell() throws {
        let result = try kvmplan(
            "check", "--ignore", "host.vm-type", "--host", Self.tdx, "--host", Self.swProtected, "Manifests/sw-protected.yaml")
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("Manifests/sw-protected.yaml  ok              ok"), "\(result)")
    }
}
