import Crypto

/// The SEV-SNP launch digest as the firmware extends it (SEV-SNP firmware ABI §8.17.2, PAGE_INFO, Table 67):
/// for every page added to the guest, `LD = SHA-384(LD ‖ CONTENTS ‖ LENGTH=0x70 ‖ PAGE_TYPE ‖ IS_IMI ‖ VMPL3..1
/// PERMS ‖ 0 ‖ GPA)`, starting from 48 zero bytes. CONTENTS is SHA-384 of the page for NORMAL and VMSA pages and
/// 48 zero bytes for ZERO, UNMEASURED, SECRETS and CPUID pages. The same chain as sev-snp-measure's `GCTX`.
public struct SNPLaunchDigest: Hashable, Sendable {
    public static let size = 48
    public static let pageSize = 4096

    public private(set) var bytes: [UInt8]

    public init(seed: [UInt8] = [UInt8](repeating: 0, count: 48)) { bytes = seed }

    /// `sha384:` + 96 lower-case hex digits.
    public var text: String { "sha384:" + HexBytes.encode(bytes) }

    public static func sha384(_ data: [UInt8]) -> [UInt8] { Array(SHA384.hash(data: data)) }

    /// Extends the digest with one page of firmware page type `pageType` at `gpa` whose CONTENTS field is `contents`.
    public mutating func update(pageType: UInt8, gpa: UInt64, contents: [UInt8]) {
        precondition(contents.count == Self.size, "PAGE_INFO.CONTENTS is 48 bytes")
        var info = bytes + contents
        info += [0x70, 0x00, pageType, 0, 0, 0, 0, 0]  // length 0x70 (LE16), page type, IS_IMI, VMPL3/2/1 perms, reserved
        for i in 0..<8 { info.append(UInt8(truncatingIfNeeded: gpa >> (8 * UInt64(i)))) }
        bytes = Self.sha384(info)
    }

    /// NORMAL pages: `data` (a whole number of pages) at `gpa`, each page measured by its SHA-384.
    public mutating func updateNormalPages(gpa: UInt64, data: [UInt8]) {
        precondition(data.count % Self.pageSize == 0, "whole pages")
        var offset = 0
        while offset < data.count {
            update(pageType: 1, gpa: gpa + UInt64(offset), contents: Self.sha384(Array(data[offset..<offset + Self.pageSize])))
            offset += Self.pageSize
        }
    }

    /// Pages whose CONTENTS is zero: ZERO (3), UNMEASURED (4), SECRETS (5), CPUID (6).
    public mutating func updateUnhashedPages(pageType: UInt8, gpa: UInt64, size: UInt64) {
        var offset: UInt64 = 0
        while offset < size {
            update(pageType: pageType, gpa: gpa + offset, contents: [UInt8](repeating: 0, count: Self.size))
            offset += UInt64(Self.pageSize)
        }
    }

    /// Extends the digest as `KVM_SEV_SNP_LAUNCH_UPDATE` of `pageType` does for `data` at `gpa`.
    public mutating func launchUpdate(_ pageType: SNPPageType, gpa: UInt64, data: [UInt8]) {
        switch pageType {
        case .normal: updateNormalPages(gpa: gpa, data: data)
        case .zero, .unmeasured, .secrets, .cpuid: updateUnhashedPages(pageType: pageType.value, gpa: gpa, size: UInt64(data.count))
        }
    }

    /// Extends the digest as `KVM_SEV_SNP_LAUNCH_FINISH` does with each vCPU's VMSA page (page type VMSA, at
    /// `SNPVMSA.gpa`), in vCPU creation order.
    public mutating func launchFinish(vmsaPages: [[UInt8]]) {
        for page in vmsaPages { update(pageType: 2, gpa: SNPVMSA.gpa, contents: Self.sha384(page)) }
    }
}
