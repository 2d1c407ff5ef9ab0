/// Builds small ELF64 little-endian executables byte by byte, for payload rule tests.
struct ELFBuilder {
    struct Segment {
        var type: UInt32 = 1  // PT_LOAD
        var flags: UInt32 = 5  // R+X
        var physicalAddress: UInt64
        var contents: [UInt8]
        /// p_memsz; defaults to the contents' size.
        var memorySize: UInt64? = nil
    }

    var machine: UInt16 = 62  // EM_X86_64
    var entry: UInt64
    var segments: [Segment]
    var elfClass: UInt8 = 2
    var dataEncoding: UInt8 = 1
    var type: UInt16 = 2  // ET_EXEC
    var programHeaderSize: UInt16 = 56

    static let headerSize = 64

    var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.headerSize)
        out[0] = 0x7F
        out[1] = UInt8(ascii: "E")
        out[2] = UInt8(ascii: "L")
        out[3] = UInt8(ascii: "F")
        out[4] = elfClass
        out[5] = dataEncoding
        out[6] = 1  // EV_CURRENT
        put(&out, 16, UInt64(type), 2)
        put(&out, 18, UInt64(machine), 2)
        put(&out, 20, 1, 4)
        put(&out, 24, entry, 8)
        put(&out, 32, UInt64(Self.headerSize), 8)  // e_phoff
        put(&out, 52, UInt64(Self.headerSize), 2)  // e_ehsize
        put(&out, 54, UInt64(programHeaderSize), 2)
        put(&out, 56, UInt64(segments.count), 2)
        let tableSize = segments.count * Int(max(programHeaderSize, 56))
        var dataOffset = Self.headerSize + tableSize
        var headers: [UInt8] = []
        var data: [UInt8] = []
        for segment in segments {
            var ph = [UInt8](repeating: 0, count: Int(max(programHeaderSize, 56)))
            put(&ph, 0, UInt64(segment.type), 4)
            put(&ph, 4, UInt64(segment.flags), 4)
            put(&ph, 8, UInt64(dataOffset), 8)
            put(&ph, 16, segment.physicalAddress, 8)
            put(&ph, 24, segment.physicalAddress, 8)
            put(&ph, 32, UInt64(segment.contents.count), 8)
            put(&ph, 40, segment.memorySize ?? UInt64(segment.contents.count), 8)
            put(&ph, 48, 0x1000, 8)
            headers += ph
            data += segment.contents
            dataOffset += segment.contents.count
        }
        return out + headers + data
    }

    private func put(_ bytes: inout [UInt8], _ offset: Int, _ value: UInt64, _ width: Int) {
        for i in 0..<width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }

    /// A one-segment x86_64 executable loaded at `address`, entered at its first byte.
    static func simple(at address: UInt64 = 0x100000, size: Int = 4096, machine: UInt16 = 62) -> ELFBuilder {
        ELFBuilder(
            machine: machine, entry: address,
            segments: [Segment(physicalAddress: address, contents: [UInt8](repeating: 0x90, count: size))])
    }
}
