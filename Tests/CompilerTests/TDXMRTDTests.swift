import Compiler
import Foundation
import Plan
import TestSupport
import Testing

/// The expected TDX MRTD a plan carries (`measurement.tdx-mrtd`), against an independent implementation: td-shim's
/// `td_shim_tee_info_hash.py` (confidential-containers/td-shim @125eeab, td-shim-tools/src/bin/
/// td-shim-tee-info-hash/; Apache-2.0, Python, not vendored here: CI cannot fetch it, so its outputs are recorded
/// below with the command that gives them). It reads TDVF images, so:
/// - Debian 12's OVMF.fd (package `ovmf` 2022.11-6+deb12u2, a real TDVF with six metadata sections) is measured
///   with kvmplan's `TDXMRTD` section by section and compared with td-shim's value for the same file;
/// - kvmplan's own TDX plans are wrapped in a TDVF image by Tests/CompilerTests/Support/tdvf-wrap.py (one section
///   per KVM_TDX_INIT_MEM_REGION step) and compared with td-shim's value for that image.
/// Not covered: a real TD's quote (no TDX hardware here).
@Suite("TDX MRTD")
struct TDXMRTDTests {
    static let ovmf = "/usr/share/ovmf/OVMF.fd"
    static let ovmfSHA256 = "7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773"

    static let hasOVMF: Bool = {
        guard FileManager.default.fileExists(atPath: ovmf), let sha = Run.which("sha256sum"),
            let result = try? Run.process(sha, [ovmf])
        else { return false }
        return result.stdout.hasPrefix(ovmfSHA256)
    }()

    /// OVMF.fd's TDX metadata sections, in metadata order: (offset in the file, raw size, GPA, size, MR.EXTEND).
    static let ovmfSections: [(offset: Int, raw: Int, gpa: UInt64, size: Int, extend: Bool)] = [
        (0x20000, 0x1E_0000, 0xFFE2_0000, 0x1E_0000, true),  // BFV: the firmware code, measured
        (0, 0x20000, 0xFFE0_0000, 0x20000, false),  // CFV: the variable store
        (0, 0, 0x81_0000, 0x10000, false),  // TEMP_MEM
        (0, 0, 0x80_B000, 0x2000, false),  // TEMP_MEM
        (0, 0, 0x80_9000, 0x2000, false),  // TD_HOB
        (0, 0, 0x80_0000, 0x6000, false),  // TEMP_MEM
    ]

    /// python3 td_shim_tee_info_hash.py -i /usr/share/ovmf/OVMF.fd -l off
    static let ovmfMRTD = "sha384:4c7206f0f483c524f12c366c711e9049030a8d47c471ee5aa9c4999a08de4057fb887fed0744d5631a212967fb231c47"

    @Test(
        "Debian's OVMF.fd, section by section as KVM_TDX_INIT_MEM_REGION adds it, gives td-shim's MRTD",
        .enabled(if: hasOVMF, "needs Debian 12's OVMF.fd (apt-get install ovmf=2022.11-6+deb12u2)"))
    func ovmfKnownAnswer() throws {
        let image = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.ovmf)))
        var mrtd = TDXMRTD()
        var twoPass = TDXMRTD()  // every page added first, then every chunk extended: not what KVM does
        for s in Self.ovmfSections {
            var data = [UInt8](repeating: 0, count: s.size)
            data.replaceSubrange(0..<s.raw, with: image[s.offset..<s.offset + s.raw])
            mrtd.initMemRegion(gpa: s.gpa, data: data, measure: s.extend)
            for page in stride(from: 0, to: s.size, by: 4096) { twoPass.pageAdd(gpa: s.gpa + UInt64(page)) }
            if s.extend {
                for chunk in stride(from: 0, to: s.size, by: 256) { twoPass.extend(gpa: s.gpa + UInt64(chunk), chunk: data[chunk..<chunk + 256]) }
            }
        }
        #expect(mrtd.text == Self.ovmfMRTD)
        #expect(twoPass.text != Self.ovmfMRTD)  // the order of the records matters, and the value catches it
    }

    /// tdvf-wrap.py PLAN.json PAYLOAD X.tdvf && python3 td_shim_tee_info_hash.py -i X.tdvf -l off
    static let planMRTDs: [(manifest: String, mrtd: String)] = [
        ("tdx", "sha384:14eef0693607737d91489fa14c24d58b4430fff3b2f40688d5367d231307dec40d97de64ab6235fd9485084bb191a346"),
        ("tdx unmeasured", "sha384:1152651920ef87de8b3b9c0c9694289c2fd6717b2147f42dafa9f9358a55675ffd24f72313603a56834d2a61c379aec1"),
    ]

    static func plan(_ name: String) throws -> Plan {
        guard name == "tdx unmeasured" else { return try Compile.sample(name).plan }
        let yaml = try String(contentsOfFile: Repo.path("Manifests/tdx.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "  measured: true ", with: "  measured: false ")
        return try Compile.bytes(Array(yaml.utf8), file: "Manifests/tdx-unmeasured.yaml").plan
    }

    @Test("a TDX plan's MRTD equals td-shim's for a TDVF image of the plan's INIT_MEM_REGION pages", arguments: 0..<planMRTDs.count)
    func planKnownAnswer(index: Int) throws {
        let (name, value) = Self.planMRTDs[index]
        let plan = try Self.plan(name)
        #expect(plan.measurement?.tdxMRTD == value)
        #expect(plan.measurement?.snpLaunchUpdates == nil && plan.measurement?.snpLaunchDigest == nil)
    }

    @Test(
        "tdvf-wrap.py still builds the images those values were recorded for (same bytes as then)",
        .enabled(if: SNPDigestTests.python != nil, "needs python3"))
    func wrapperIsStable() throws {
        // sha256 of the image tdvf-wrap.py wrote for the tdx sample when the value above was recorded.
        let directory = try Run.temporaryDirectory("tdvf")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let plan = try Self.plan("tdx")
        try plan.jsonString().write(toFile: directory + "/plan.json", atomically: true, encoding: .utf8)
        let result = try Run.process(
            try #require(SNPDigestTests.python),
            [
                Repo.path("Tests/CompilerTests/Support/tdvf-wrap.py"), directory + "/plan.json", Repo.path("Examples/guests/tdx-hello.bin"),
                directory + "/x.tdvf",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        let sha = try Run.process(try #require(Run.which("sha256sum")), [directory + "/x.tdvf"])
        #expect(sha.stdout.hasPrefix(Self.wrappedSHA256))
    }

    static let wrappedSHA256 = "bbee834cd2da1f1f44ea8812f10e4192ed8d3e1a5ff74803cfb30532c3231b16"

    @Test("the MRTD is in the plan's text and JSON, and a diff reports its change as a measurement finding")
    func renderedAndDiffed() throws {
        let plan = try Self.plan("tdx")
        let mrtd = try #require(plan.measurement?.tdxMRTD)
        #expect(PlanTextRenderer().render(plan).contains("# measurement: TDX MRTD \(mrtd)\n"))
        #expect(try Plan(json: plan.jsonString()).measurement == plan.measurement)
        let other = try Self.plan("tdx unmeasured")
        let diff = PlanDiffer.diff(plan, other)
        #expect(diff.findings.contains { $0.risk == .measurement && $0.message.hasPrefix("expected TDX MRTD changes") })
    }
}
