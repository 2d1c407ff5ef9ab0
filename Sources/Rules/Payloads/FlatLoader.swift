/// `format: flat`: the file's bytes at `load`, entered at `entry` (default: the load address) in the manifest's
/// boot mode.
enum FlatLoader: PayloadLoader {
    static func decode(_ context: RuleContext, bytes: [UInt8]) -> PayloadImage? {
        guard let payload = context.manifest.payload, let gpa = context.payloadLoadGPA else { return nil }
        let size = UInt64(bytes.count)
        return PayloadImage(
            segments: [PayloadImage.Segment(gpa: gpa, fileOffset: 0, fileSize: size, memorySize: size)],
            entry: payload.entry?.value ?? gpa, start: .bootMode, ranges: [(gpa, size)])
    }
}
