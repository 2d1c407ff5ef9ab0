import Launcher
import Plan
import Testing

/// The compiler measures an SEV-SNP guest's boot area from `Plan.BootAreaImage`; the launcher writes it from
/// `BootState`. Both must give the same bytes, or the expected launch digest would be wrong.

struct BootAreaImageTests {
    static let layouts: [[GPARange]] = [
        [GPARange(gpa: 0, size: 512 << 20)],
        [GPARange(gpa: 0, size: 8 << 20), GPARange(gpa: 0x4000_0000, size: 2 << 20)],
        [GPARange(gpa: 0, size: 2 << 20), GPARange(gpa: 0xC000_0000, size: 0x3FE0_0000), GPARange(gpa: 0xFFE0_0000, size: 2 << 20)],
        [GPARange(gpa: 0x1000, size: 0x7000)],
    ]

    @Test("Plan.BootAreaImage equals the launcher's BootState writes", arguments: [BootState.Mode.protected, .long], 0..<4)
    func sameBytes(mode: BootState.Mode, layout: Int) throws {
        let ram = Self.layouts[layout]
        let planMode: BootMode = mode == .long ? .long : .protected
        let image = try #require(BootAreaImage.bytes(mode: planMode, ram: ram))
        let area = try #require(Plan.bootArea(planMode))
        var written = [UInt8](repeating: 0, count: Int(area.size))
        for write in BootState.bootArea(mode: mode, ram: ram.map { (gpa: $0.gpa, size: $0.size) }, hugePages1G: false) {
            let offset = Int(write.gpa - area.gpa)
            written.replaceSubrange(offset..<offset + write.bytes.count, with: write.bytes)
        }
        #expect(image == written)
        #expect(image.contains { $0 != 0 })
    }
}
