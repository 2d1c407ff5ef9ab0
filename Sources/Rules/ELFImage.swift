/// The parts of an ELF64 little-endian executable a launcher needs: entry point and PT_LOAD segments.
/// Bounds-checked; a malformed file gives a reason, never a trap.
public struct ELFImage: Sendable, Hashable {
    public struct Segment: Sendable, Hashable {
        public var physicalAddress: UInt64
        public var fileOffset: UInt64
        public var fileSize: UInt64
        public var memorySize: UInt64
        public var executable: Bool
    }

    public var entry: UInt64
    public var machine: UInt16
    public var segments: [Segment]

    public static let machineX86_64: UInt16 = 62
    public static let machineAArch64: UInt16 = 183

    public static func parse(_ bytes: [UInt8]) -> Result<ELFImage, ParseFailure> {
        func u16(_ o: Int) -> UInt16? {
            guard o >= 0, o + 2 <= bytes.count else { return nil }
            return UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8
        }
        func u32(_ o: Int) -> UInt32? {
            guard o >= 0, o + 4 <= bytes.count else { return nil }
            return (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[o + $1]) << (8 * UInt32($1)) }
        }
        func u64(_ o: Int) -> UInt64? {
            guard o >= 0, o + 8 <= bytes.count else { return nil }
            return (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[o + $1]) << (8 * UInt64($1)) }
        }
        guard bytes.count >= 64, bytes[0] == 0x7F, bytes[1] == UInt8(ascii: "E"), bytes[2] == UInt8(ascii: "L"),
            bytes[3] == UInt8(ascii: "F")
        else { return .failure(ParseFailure("not an ELF file (no \\x7fELF magic)")) }
        guard bytes[4] == 2 else { return .failure(ParseFailure("not a 64-bit ELF file (EI_CLASS \(bytes[4]))")) }
        guard bytes[5] == 1 else { return .failure(ParseFailure("not a little-endian ELF file")) }
        guard let type = u16(16), type == 2 || type == 3 else { return .failure(ParseFailure("ELF file is not an executable")) }
        guard let machine = u16(18), let entry = u64(24), let phoff = u64(32), let phentsize = u16(54), let phnum = u16(56)
        else { return .failure(ParseFailure("truncated ELF header")) }
        guard phnum > 0 else { return .failure(ParseFailure("ELF file has no program headers")) }
        guard phentsize >= 56 else { return .failure(ParseFailure("ELF program header size \(phentsize) is too small")) }
        guard phoff < UInt64(bytes.count) else { return .failure(ParseFailure("ELF program headers lie outside the file")) }
        var segments: [Segment] = []
        for i in 0..<Int(phnum) {
            let base = Int(phoff) + i * Int(phentsize)
            guard let pType = u32(base), let flags = u32(base + 4), let offset = u64(base + 8), let paddr = u64(base + 24),
                let filesz = u64(base + 32), let memsz = u64(base + 40)
            else { return .failure(ParseFailure("ELF program header \(i) lies outside the file")) }
            guard pType == 1 else { continue }  // PT_LOAD
            let (fileEnd, o1) = offset.addingReportingOverflow(filesz)
            guard !o1, fileEnd <= UInt64(bytes.count) else {
                return .failure(ParseFailure("PT_LOAD segment \(i) extends beyond the end of the file"))
            }
            guard memsz >= filesz else { return .failure(ParseFailure("PT_LOAD segment \(i) has p_memsz < p_filesz")) }
            guard !paddr.addingReportingOverflow(memsz).overflow else {
                return .failure(ParseFailure("PT_LOAD segment \(i) wraps the address space"))
            }
            segments.append(
                Segment(physicalAddress: paddr, fileOffset: offset, fileSize: filesz, memorySize: memsz, executable: flags & 1 != 0))
        }
        guard !segments.isEmpty else { return .failure(ParseFailure("ELF file has no PT_LOAD segment")) }
        return .success(ELFImage(entry: entry, machine: machine, segments: segments))
    }

    public struct ParseFailure: Error, Hashable, Sendable {
        public var reason: String
        init(_ reason: String) { self.reason = reason }
    }
}
