import Foundation
import TestSupport
import Testing

/// `kvmplan probe` on this host: decoded flags and a closing verdict (issue 14).
@Suite("kvmplan probe text", .requiresBinary)
struct ProbeTextTests {
    @Test("decoded flags and a verdict naming the default platform", .requiresKVM)
    func verdict() throws {
        let result = try kvmplan("probe")
        #expect(result.status == 0, "\(result)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let verdict = try #require(lines.first { $0.hasPrefix("this host can run: ") }, "\(result.stdout)")
        #expect(verdict.contains("default"))
        #expect(lines.last?.hasPrefix("this host can run: ") == true || lines.last?.hasPrefix("  not ") == true)
        let vmTypes = try #require(lines.first { $0.hasPrefix("KVM_CAP_VM_TYPES (235)") })
        #expect(vmTypes.contains("(default"), "\(vmTypes)")
        if let flags = lines.first(where: { $0.hasPrefix("KVM_CAP_GUEST_MEMFD_FLAGS (244)") }) {
            #expect(flags.contains("MMAP") || flags.contains("(none)"), "\(flags)")
        }
    }
}
