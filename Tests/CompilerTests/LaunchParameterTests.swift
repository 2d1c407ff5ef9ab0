import Compiler
import Diagnostics
import Foundation
import Plan
import Testing

/// The `sev-snp:` and `tdx:` manifest keys (DESIGN §10) from the YAML to the launch steps' arguments.
@Suite("Launch parameters")
struct LaunchParameterTests {
    static let hostData = String(repeating: "0123456789abcdef", count: 4)

    static func snp(_ block: String) -> String {
        """
        kvmplan: 1
        name: params
        arch: x86_64
        platform: sev-snp
        memory:
          regions:
            - {name: ram, base: 0x0, size: 2MiB, access: convertible}
        \(block)
        """
    }

    @Test("sev-snp: policy goes to LAUNCH_START, host data and ID block to LAUNCH_FINISH, and survive the plan JSON")
    func snpLowered() throws {
        var idBlock = [UInt8](repeating: 0x11, count: 96)
        for i in 0..<8 { idBlock[88 + i] = UInt8(truncatingIfNeeded: UInt64(0x70000) >> (8 * UInt64(i))) }
        let idAuth = [UInt8](repeating: 0x22, count: 4096)
        let files = RepoFileAccess(virtual: ["Manifests/id.bin": idBlock, "Manifests/auth.bin": idAuth])
        let yaml = Self.snp(
            "sev-snp:\n  policy: 0x70000\n  host-data: \"\(Self.hostData)\"\n  id-block: id.bin\n  id-auth: auth.bin\n")
        let plan = try Compile.bytes(Array(yaml.utf8), file: "Manifests/params.yaml", files: files).plan
        #expect(plan.step(id: "snp.launch-start")?.operation == .snpLaunchStart(policy: 0x70000))
        let finish = try #require(plan.step(id: "snp.launch-finish"))
        let expected = SNPLaunchFinish(hostData: try #require(HexBytes.decode(Self.hostData)), idBlock: idBlock, idAuth: idAuth)
        #expect(finish.operation == .snpLaunchFinish(finish: expected))
        #expect(finish.source?.line == 9, "the step points at the sev-snp block")
        let decoded = try Plan(json: plan.jsonString(pretty: true))
        #expect(decoded == plan)
        let c = PlanCRenderer().render(plan)
        #expect(c.contains("d.id_block_en = 1;"))
        #expect(c.contains("memcpy(d.host_data, host_data, sizeof host_data);"))
    }

    @Test(
        "the SNP and TDX reproducers with launch parameters compile with cc -Wall -Werror",
        .enabled(if: Run.which("cc") != nil, "no C compiler"), arguments: ["sev-snp", "tdx"])
    func reproducersCompile(sample: String) throws {
        let directory = try Run.temporaryDirectory("launch-params-c")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var plan = try Compile.sample(sample).plan
        if sample == "sev-snp", let index = plan.steps.firstIndex(where: { $0.id == "snp.launch-finish" }) {
            // With an ID block too, which the sample does not have.
            plan.steps[index].operation = .snpLaunchFinish(
                finish: SNPLaunchFinish(
                    hostData: [UInt8](repeating: 7, count: 32), idBlock: [UInt8](repeating: 1, count: 96),
                    idAuth: [UInt8](repeating: 2, count: 4096)))
        }
        let source = directory + "/repro.c"
        try PlanCRenderer().render(plan).write(toFile: source, atomically: true, encoding: .utf8)
        let cc = try Run.process(try #require(Run.which("cc")), ["-Wall", "-Werror", "-std=c11", "-o", directory + "/repro", source], in: directory)
        #expect(cc.status == 0, "\(cc.stderr)")
    }

    @Test("tdx: attributes, xfam and the measurement registers go to KVM_TDX_INIT_VM")
    func tdxLowered() throws {
        let plan = try Compile.sample("tdx").plan
        let step = try #require(plan.step(id: "tdx.init-vm"))
        guard case .tdxInitVM(let it) = step.operation, case let attributes = it.attributes, case let xfam = it.xfam, case let measurements = it.measurements else {
            Issue.record("tdx.init-vm is \(step.operation)")
            return
        }
        #expect(attributes == 0 && xfam == 0x3)
        #expect(measurements.mrconfigid.count == 48 && measurements.mrconfigid.contains { $0 != 0 })
        #expect(measurements.mrowner == [UInt8](repeating: 0, count: 48))
        #expect(PlanCRenderer().render(plan).contains("memcpy(init->mrconfigid, v, 48);"))
    }

    @Test("a wrong length, a reserved bit and the wrong platform are errors at their lines")
    func errorsAtTheirLines() throws {
        let yaml = """
            kvmplan: 1
            name: params
            arch: x86_64
            platform: sev-snp
            memory:
              regions:
                - {name: ram, base: 0x0, size: 2MiB, access: convertible}
            sev-snp:
              policy: 0x4000_0003_0000
              host-data: "abcd"
            tdx:
              xfam: 0x3

            """
        let (checked, diagnostics) = CompilerPipeline(files: RepoFileAccess()).check(bytes: Array(yaml.utf8), file: "Manifests/params.yaml")
        #expect(checked == nil)
        let found = diagnostics.all.map { "\($0.location.line) \($0.id)" }
        #expect(found.contains("9 snp.policy"), "\(found)")
        #expect(found.contains("10 snp.host-data"), "\(found)")
        #expect(found.contains("11 tdx.platform"), "\(found)")
    }

    @Test("unknown keys in the blocks are refused at the key")
    func unknownKeys() throws {
        let yaml = Self.snp("sev-snp:\n  polcy: 0x30000\n")
        let (checked, diagnostics) = CompilerPipeline(files: RepoFileAccess()).check(bytes: Array(yaml.utf8), file: "Manifests/params.yaml")
        #expect(checked == nil)
        let d = try #require(diagnostics.all.first { $0.id == "format.unknown-key" })
        #expect(d.location.line == 9 && d.location.column == 3)
        #expect(d.notes.contains { $0.message.contains("did you mean 'policy'?") })
    }
}
