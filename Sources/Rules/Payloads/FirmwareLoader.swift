import GuestLayout

/// `format: firmware`: a flat image that ends at 4 GiB (unless `load` says otherwise), entered at the x86 reset
/// vector in the reset state.
enum FirmwareLoader: PayloadLoader {
    static func decode(_ context: RuleContext, bytes: [UInt8]) -> PayloadImage? {
        guard let gpa = context.payloadLoadGPA else { return nil }
        let size = UInt64(bytes.count)
        return PayloadImage(
            segments: [PayloadImage.Segment(gpa: gpa, fileOffset: 0, fileSize: size, memorySize: size)],
            entry: Firmware.resetVector, start: .resetVector, ranges: [(gpa, size)])
    }
}
