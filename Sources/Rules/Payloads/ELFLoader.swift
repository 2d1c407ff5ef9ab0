/// `format: elf`: one segment per PT_LOAD at its physical address, entered at `e_entry` in the manifest's boot
/// mode.
enum ELFLoader: PayloadLoader {
    static func decode(_ context: RuleContext, bytes: [UInt8]) -> PayloadImage? {
        guard case .success(let image)? = context.elfImage else { return nil }
        let segments = image.segments.map {
            PayloadImage.Segment(gpa: $0.physicalAddress, fileOffset: $0.fileOffset, fileSize: $0.fileSize, memorySize: $0.memorySize)
        }
        return PayloadImage(
            segments: segments, entry: image.entry, start: .bootMode, ranges: segments.map { ($0.gpa, $0.memorySize) })
    }
}
