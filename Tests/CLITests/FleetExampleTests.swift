import Foundation
import TestSupport
import Testing

/// `Examples/fleet`: the systemd unit and the Kubernetes Job that run `kvmplan launch`, checked with the
/// real validators where this machine has them (`systemd-analyze verify`, PyPI's `kubernetes-validate`),
/// and at least parsed everywhere.
@Suite("Fleet examples (systemd unit, Kubernetes Job)", .requiresBinary)
struct FleetExampleTests {
    static let unit = Repo.path("Examples/fleet/kvmplan-guest@.service")
    static let job = Repo.path("Examples/fleet/kvmplan-job.yaml")

    static let systemdAnalyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let kubernetesValidate = Python.works("import kubernetes_validate")

    static func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-fleet-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    // MARK: systemd

    @Test("the unit parses as INI: [Unit], [Service], [Install]; ExecStart launches, ExecStartPre checks against this host")
    func unitParses() throws {
        let result = try run(
            "/usr/bin/env",
            [
                "python3", "-c",
                """
                import configparser, sys
                c = configparser.ConfigParser(strict=False, interpolation=None)
                c.optionxform = str
                c.read(sys.argv[1])
                assert c.sections() == ["Unit", "Service", "Install"], c.sections()
                s = c["Service"]
                print(s["ExecStartPre"]); print(s["ExecStart"]); print(s["SuccessExitStatus"]); print(s["RestartPreventExitStatus"])
                """,
                Self.unit,
            ])
        #expect(result.status == 0, "\(result)")
        #expect(
            result.stdout == """
                /usr/local/bin/kvmplan check --host local /etc/kvmplan/guests/%i.yaml
                /usr/local/bin/kvmplan launch /etc/kvmplan/guests/%i.yaml
                143
                124 125 126

                """)
    }

    /// `systemd-analyze verify` of an instance of the unit, with the built kvmplan standing in for
    /// /usr/local/bin/kvmplan (verify checks that ExecStart names an executable).
    static func verify(_ text: String) throws -> RunResult {
        let analyze = try #require(systemdAnalyze)
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let unit = dir.appendingPathComponent("kvmplan-guest@hello.service")
        try Data(text.replacingOccurrences(of: "/usr/local/bin/kvmplan", with: try #require(KVMPlanBinary.path)).utf8).write(to: unit)
        return try run(analyze, ["verify", "--man=no", unit.path])
    }

    @Test("systemd-analyze verify accepts the unit without a warning", .enabled(if: systemdAnalyze != nil, "systemd-analyze is not installed"))
    func unitVerifies() throws {
        let result = try Self.verify(try String(contentsOfFile: Self.unit, encoding: .utf8))
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
    }

    @Test("the verifier is real: a misspelt key is reported", .enabled(if: systemdAnalyze != nil, "systemd-analyze is not installed"))
    func unitVerifierRejects() throws {
        let text = try String(contentsOfFile: Self.unit, encoding: .utf8).replacingOccurrences(of: "KillSignal=", with: "KillSignl=")
        let result = try Self.verify(text)
        #expect(result.stderr.contains("Unknown key 'KillSignl'"), "\(result)")
    }

    // MARK: Kubernetes

    @Test("the Job file is a ConfigMap and a Job; the Job launches the ConfigMap's manifest, which kvmplan checks valid")
    func jobParsesAndItsManifestChecks() throws {
        try #require(Python.works("import yaml"), "PyYAML is not available")
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let manifest = dir.appendingPathComponent("guest.yaml").path
        let result = try run(
            "/usr/bin/env",
            [
                "python3", "-c",
                """
                import sys, yaml
                docs = list(yaml.safe_load_all(open(sys.argv[1])))
                assert [d["kind"] for d in docs] == ["ConfigMap", "Job"], docs
                cm, job = docs
                pod = job["spec"]["template"]["spec"]
                container = pod["containers"][0]
                mount = container["volumeMounts"][0]["mountPath"]
                assert pod["volumes"][0]["configMap"]["name"] == cm["metadata"]["name"]
                key = list(cm["data"])[0]
                assert container["command"][:2] == ["kvmplan", "launch"], container["command"]
                assert container["command"][-1] == mount + "/" + key, (container["command"], mount, key)
                assert pod["restartPolicy"] == "Never"
                open(sys.argv[2], "w").write(cm["data"][key].replace("/opt/kvmplan/guests/", sys.argv[3] + "/"))
                print(container["command"][-1])
                """,
                Self.job, manifest, Repo.path("Examples/guests"),
            ])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "/etc/kvmplan/guest.yaml\n")
        let check = try kvmplan("check", "--strict", manifest)
        #expect(check.status == 0, "\(check)")
    }

    @Test(
        "kubernetes-validate --strict accepts the ConfigMap and the Job, and rejects a misspelt field",
        .enabled(if: kubernetesValidate, "kubernetes-validate (PyPI) is not installed"))
    func jobValidates() throws {
        let good = try run("/usr/bin/env", ["python3", "-m", "kubernetes_validate", "--strict", Self.job])
        #expect(good.status == 0, "\(good)")
        #expect(good.stdout.contains("passed for resource job/kvmplan-hello"), "\(good)")
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("job.yaml")
        let text = try String(contentsOfFile: Self.job, encoding: .utf8).replacingOccurrences(of: "backoffLimit:", with: "backofLimit:")
        try Data(text.utf8).write(to: bad)
        let rejected = try run("/usr/bin/env", ["python3", "-m", "kubernetes_validate", "--strict", bad.path])
        #expect(rejected.status != 0, "\(rejected)")
        #expect((rejected.stdout + rejected.stderr).contains("backofLimit"), "\(rejected)")
    }
}
