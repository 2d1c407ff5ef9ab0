/// `format: linux`: an x86 bzImage through the Linux boot protocol: the protected-mode kernel (the file after its
/// setup sectors) at the layout's kernel address, entered at its 64-bit entry; the initrd beside it.
enum LinuxLoader: PayloadLoader {
    static func decode(_ context: RuleContext, bytes: [UInt8]) -> PayloadImage? {
        guard case .success(let layout)? = context.linuxLayout else { return nil }
        var ranges = [(layout.kernelGPA, layout.kernelSize)]
        if let initrd = layout.initrd { ranges.append(initrd) }
        return PayloadImage(
            segments: [
                PayloadImage.Segment(
                    gpa: layout.kernelGPA, fileOffset: layout.kernelFileOffset, fileSize: layout.kernelSize, memorySize: layout.kernelSize)
            ],
            entry: layout.entry, start: .linuxBootProtocol, ranges: ranges)
    }
}
