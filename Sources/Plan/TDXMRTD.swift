import Crypto

/// A TD's build-time measurement MRTD as the TDX module computes it: one running SHA-384, started by TDH.MNG.INIT
/// and finished by TDH.MR.FINALIZE, over 128-byte records (intel/tdx-module TDX_1.5.01: sha384.h:77-96,
/// tdh_mng_init.c:660, tdh_mr_finalize.c:139):
/// - TDH.MEM.PAGE.ADD: "MEM.PAGE.ADD" zero-padded to 16 bytes, the page's GPA (u64, little endian), zeros
///   (tdh_mem_page_add.c:192-212);
/// - TDH.MR.EXTEND: "MR.EXTEND" zero-padded to 16 bytes, the chunk's GPA, zeros, then the chunk's 256 bytes as
///   two more blocks (tdh_mr_extend.c:150-181).
/// KVM's `KVM_TDX_INIT_MEM_REGION` adds a region page by page: MEM.PAGE.ADD, then, with
/// `KVM_TDX_MEASURE_MEMORY_REGION`, 16 MR.EXTENDs of that page (arch/x86/kvm/vmx/tdx.c:3111-3147, 3149-3210 in
/// Linux 7.1.5). Attributes, XFAM and the MRCONFIGID/MROWNER registers are reported beside MRTD, not in it.
public struct TDXMRTD: Sendable {
    public static let pageSize = 4096
    public static let chunk = 256

    private var hash = SHA384()

    public init() {}

    mutating func record(_ name: String, gpa: UInt64) {
        var block = [UInt8](repeating: 0, count: 128)
        block.replaceSubrange(0..<name.utf8.count, with: name.utf8)
        for i in 0..<8 { block[16 + i] = UInt8(truncatingIfNeeded: gpa >> (8 * UInt64(i))) }
        hash.update(data: block)
    }

    /// TDH.MEM.PAGE.ADD of the page at `gpa`.
    public mutating func pageAdd(gpa: UInt64) { record("MEM.PAGE.ADD", gpa: gpa) }

    /// TDH.MEM.PAGE.ADD of every page of `[gpa, gpa + size)`: an unmeasured region, whose contents MRTD never sees.
    public mutating func pageAdds(gpa: UInt64, size: UInt64) {
        for page in stride(from: gpa, to: gpa + size, by: Self.pageSize) { pageAdd(gpa: page) }
    }

    /// TDH.MR.EXTEND of the 256 bytes `chunk` at `gpa`.
    public mutating func extend(gpa: UInt64, chunk: ArraySlice<UInt8>) {
        precondition(chunk.count == Self.chunk, "TDH.MR.EXTEND measures 256 bytes")
        record("MR.EXTEND", gpa: gpa)
        hash.update(data: Array(chunk))
    }

    /// `KVM_TDX_INIT_MEM_REGION` of `data` (whole pages) at `gpa`, measured when `measure`.
    public mutating func initMemRegion(gpa: UInt64, data: [UInt8], measure: Bool) {
        precondition(data.count % Self.pageSize == 0, "whole pages")
        guard measure else { return pageAdds(gpa: gpa, size: UInt64(data.count)) }
        for page in stride(from: 0, to: data.count, by: Self.pageSize) {
            pageAdd(gpa: gpa + UInt64(page))
            for offset in stride(from: page, to: page + Self.pageSize, by: Self.chunk) {
                extend(gpa: gpa + UInt64(offset), chunk: data[offset..<offset + Self.chunk])
            }
        }
    }

    /// MRTD: TDH.MR.FINALIZE's digest of everything added so far (48 bytes).
    public var value: [UInt8] { Array(hash.finalize()) }

    /// `sha384:` + 96 lower-case hex digits.
    public var text: String { "sha384:" + HexBytes.encode(value) }
}
