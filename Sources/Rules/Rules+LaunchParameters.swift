import Diagnostics
import Manifest

// Launch parameters: the `sev-snp:` and `tdx:` blocks (DESIGN §10), checked bit by bit and byte by byte before
// KVM_SEV_SNP_LAUNCH_START / _FINISH or KVM_TDX_INIT_VM refuse them.

// MARK: - Bit tables

/// The SEV-SNP guest policy (SEV-SNP firmware ABI, "Guest Policy"; KVM_SEV_SNP_LAUNCH_START.policy).
public enum SNPPolicy {
    /// Bit 17 is reserved and must be one (KVM refuses a policy without it).
    public static let reservedMustBeOne: UInt64 = 1 << 17
    public static let debug: UInt64 = 1 << 19
    /// Named single bits (ABI_MINOR 7:0 and ABI_MAJOR 15:8 are fields).
    public static let bits: [(bit: Int, name: String, meaning: String)] = [
        (16, "SMT", "SMT allowed"), (17, "RESERVED_MBO", "reserved, must be one"),
        (18, "MIGRATE_MA", "a migration agent may be associated"), (19, "DEBUG", "the host may debug (decrypt) the guest"),
        (20, "SINGLE_SOCKET", "runs on one socket only"), (21, "CXL_ALLOW", "CXL memory allowed"),
        (22, "MEM_AES_256_XTS", "AES-256-XTS memory encryption required"), (23, "RAPL_DIS", "RAPL must be disabled"),
        (24, "CIPHERTEXT_HIDING_DRAM", "ciphertext hiding for DRAM required"), (25, "PAGE_SWAP_DISABLE", "page swap disabled"),
    ]
    /// Bits 63:26 are reserved and must be zero.
    public static let known: UInt64 = (1 << 26) - 1
    public static let defaultPolicy: UInt64 = 0x30000

    public static func describe(_ policy: UInt64) -> String {
        var parts = ["ABI \(policy >> 8 & 0xff).\(policy & 0xff)"]
        parts += bits.filter { policy & (1 << UInt64($0.bit)) != 0 && $0.bit != 17 }.map(\.name)
        return parts.joined(separator: ", ")
    }
}

/// TD attributes (TDX module ABI, TD_PARAMS.ATTRIBUTES; Linux arch/x86/include/asm/shared/tdx.h).
public enum TDXAttributes {
    public static let debug: UInt64 = 1 << 0
    public static let bits: [(bit: Int, name: String)] = [
        (0, "DEBUG"), (4, "HGS_PLUS"), (16, "ICSSD"), (27, "LASS"), (28, "SEPT_VE_DISABLE"), (29, "MIGRATABLE"), (30, "PKS"),
        (31, "KL"), (62, "TPA"), (63, "PERFMON"),
    ]
    public static var known: UInt64 { bits.reduce(0) { $0 | 1 << UInt64($1.bit) } }
}

/// XFAM: the extended features a TD may use, as XCR0/IA32_XSS bits.
public enum TDXXFAM {
    public static let bits: [(bit: Int, name: String)] = [
        (0, "X87"), (1, "SSE"), (2, "AVX"), (3, "MPX_BNDREGS"), (4, "MPX_BNDCSR"), (5, "AVX512_OPMASK"), (6, "AVX512_ZMM_HI256"),
        (7, "AVX512_HI16_ZMM"), (8, "PT"), (9, "PKRU"), (10, "PASID"), (11, "CET_U"), (12, "CET_S"), (13, "HDC"), (14, "UINTR"),
        (15, "LBR"), (16, "HWP"), (17, "AMX_XTILECFG"), (18, "AMX_XTILEDATA"), (19, "APX"),
    ]
    public static var known: UInt64 { bits.reduce(0) { $0 | 1 << UInt64($1.bit) } }
    /// x87 and SSE state are always part of a TD (fixed-1 bits).
    public static let required: UInt64 = 0x3
    public static let defaultXFAM: UInt64 = 0x3
}

func bitList(_ mask: UInt64) -> String {
    (0..<64).filter { mask & (1 << UInt64($0)) != 0 }.map(String.init).joined(separator: ", ")
}

/// `count` bytes spelled as `2 * count` hex digits, or nil.
func hexBytes(_ text: String, count: Int) -> [UInt8]? {
    let u = Array(text.utf8)
    guard u.count == 2 * count else { return nil }
    var out: [UInt8] = []
    var i = 0
    while i < u.count {
        guard let hi = hexDigit(u[i]), let lo = hexDigit(u[i + 1]) else { return nil }
        out.append(hi << 4 | lo)
        i += 2
    }
    return out
}

private func hexDigit(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
    default: nil
    }
}

private func platformNote(_ context: RuleContext) -> DiagnosticNote {
    DiagnosticNote("platform declared here", at: context.manifest.platform.location)
}

// MARK: - Platform

/// `sev-snp:` only on platform sev-snp.
public enum SNPBlockPlatform: Rule {
    public static let documentation = RuleDocumentation(
        id: "snp.platform", severity: .error, summary: "A `sev-snp` block on a platform other than sev-snp.",
        rationale: "The guest policy, host data and ID block are arguments of KVM_SEV_SNP_LAUNCH_START and KVM_SEV_SNP_LAUNCH_FINISH, which only SEV-SNP VMs have.",
        kernel: "Nothing would use them: the platform's plan has no SNP launch commands.",
        fix: "Remove `sev-snp`, or set `platform: sev-snp`.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let block = context.manifest.sevSnp, !context.isDamaged(.platform), context.manifest.platform.value != .sevSnp
        else { return }
        diagnostics.append(
            error(
                "'sev-snp' launch parameters on platform '\(context.manifest.platform.value.rawValue)'; they belong to platform sev-snp only",
                at: block.keyLocation, path: DataPath([.key("sev-snp")]), notes: [platformNote(context)]))
    }
}

/// `tdx:` only on platform tdx.
public enum TDXBlockPlatform: Rule {
    public static let documentation = RuleDocumentation(
        id: "tdx.platform", severity: .error, summary: "A `tdx` block on a platform other than tdx.",
        rationale: "TD attributes, XFAM and the measurement registers are arguments of KVM_TDX_INIT_VM, which only TDX VMs have.",
        kernel: "Nothing would use them: the platform's plan has no TDX launch commands.",
        fix: "Remove `tdx`, or set `platform: tdx`.")

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let block = context.manifest.tdx, !context.isDamaged(.platform), context.manifest.platform.value != .tdx else { return }
        diagnostics.append(
            error(
                "'tdx' launch parameters on platform '\(context.manifest.platform.value.rawValue)'; they belong to platform tdx only",
                at: block.keyLocation, path: DataPath([.key("tdx")]), notes: [platformNote(context)]))
    }
}

// MARK: - SEV-SNP

/// The guest policy, bit by bit.
public enum SNPPolicyBits: Rule {
    public static let documentation = RuleDocumentation(
        id: "snp.policy", severity: .error, summary: "The SEV-SNP guest policy sets a reserved bit or clears bit 17.",
        rationale: "The policy (SEV-SNP firmware ABI) holds ABI_MINOR (7:0), ABI_MAJOR (15:8), SMT (16), a reserved bit 17 that must be one, MIGRATE_MA (18), DEBUG (19), SINGLE_SOCKET (20), CXL_ALLOW (21), MEM_AES_256_XTS (22), RAPL_DIS (23), CIPHERTEXT_HIDING_DRAM (24) and PAGE_SWAP_DISABLE (25); bits 63:26 are reserved and must be zero. The default is 0x30000 (SMT allowed, bit 17).",
        kernel: "KVM_SEV_SNP_LAUNCH_START fails with EINVAL for a policy with unsupported bits or without bit 17 (sev.c:2266-2308 in Linux 7.1.5); bits 21–25 need firmware that supports them.",
        fix: "Set bit 17 (0x20000) and clear bits 26 and above.")

    public static let appliesTo: Set<Architecture> = [.x86_64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let policy = context.manifest.sevSnp?.policy else { return }
        let value = policy.value
        if value & SNPPolicy.reservedMustBeOne == 0 {
            diagnostics.append(
                emit(
                    "policy \(ManifestInteger.formatHex(value)) clears bit 17, which is reserved and must be one (use \(ManifestInteger.formatHex(value | SNPPolicy.reservedMustBeOne)))",
                    at: policy))
        }
        let reserved = value & ~SNPPolicy.known
        if reserved != 0 {
            diagnostics.append(
                emit(
                    "policy \(ManifestInteger.formatHex(value)) sets reserved bit(s) \(bitList(reserved)); bits 63:26 must be zero",
                    at: policy, notes: [DiagnosticNote("known bits set: \(SNPPolicy.describe(value & SNPPolicy.known))")]))
        }
    }
}

/// A debuggable SNP guest is not confidential.
public enum SNPPolicyDebug: Rule {
    public static let documentation = RuleDocumentation(
        id: "snp.debug", severity: .warning, summary: "The SEV-SNP guest policy allows debugging.",
        rationale: "Policy bit 19 (DEBUG) lets the host decrypt and modify the guest's memory with the firmware's debug commands; the attestation report shows it, but the guest is no longer confidential.",
        kernel: "Accepted; the guest's memory is open to the host.",
        fix: "Clear bit 19 (0x80000) outside development.")

    public static let appliesTo: Set<Architecture> = [.x86_64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let policy = context.manifest.sevSnp?.policy, policy.value & SNPPolicy.debug != 0 else { return }
        diagnostics.append(emit("policy sets DEBUG (bit 19): the host can decrypt this guest's memory", at: policy))
    }
}

/// 32 bytes of host data.
public enum SNPHostData: Rule {
    public static let documentation = RuleDocumentation(
        id: "snp.host-data", severity: .error, summary: "`sev-snp.host-data` is not 32 bytes of hex.",
        rationale: "HOST_DATA is 32 bytes that KVM_SEV_SNP_LAUNCH_FINISH hands to the firmware and every attestation report repeats (struct kvm_sev_snp_launch_finish.host_data[32]); write it as 64 hex digits.",
        kernel: "A VMM that copies a shorter or longer value truncates it or reads past it: the report carries other bytes than intended.",
        fix: "Write exactly 64 hex digits (0-9, a-f), e.g. a SHA-256 of the host's configuration.")

    public static let appliesTo: Set<Architecture> = [.x86_64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let hostData = context.manifest.sevSnp?.hostData, hexBytes(hostData.value, count: 32) == nil else { return }
        diagnostics.append(
            emit("host-data must be 32 bytes as 64 hex digits; found \(hostData.value.utf8.count) characters", at: hostData))
    }
}

/// The ID block and its authentication structure: both, of their sizes, and with the launch policy.
public enum SNPIDBlock: Rule {
    public static let documentation = RuleDocumentation(
        id: "snp.id-block", severity: .error,
        summary: "`sev-snp.id-block` / `id-auth` are missing one another, unreadable, of the wrong size or disagree with the policy.",
        rationale: "KVM_SEV_SNP_LAUNCH_FINISH takes an ID block (96 bytes: expected launch digest, family and image ids, version, guest SVN, policy) together with its ID authentication structure (4096 bytes: the signatures). The firmware checks the ID block's policy against the launch policy.",
        kernel: "The firmware fails LAUNCH_FINISH (EIO with a firmware error) for a bad size, a bad signature or a policy mismatch — after the whole guest was built.",
        fix: "Give both files, produced by the same signing tool run for this guest's policy.")

    public static let appliesTo: Set<Architecture> = [.x86_64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let block = context.manifest.sevSnp else { return }
        let sizes = ["id-block": 96, "id-auth": 4096]
        let given = [("id-block", block.idBlock), ("id-auth", block.idAuth)]
        for (key, value) in given {
            guard let value else { continue }
            let other = key == "id-block" ? "id-auth" : "id-block"
            if (key == "id-block" ? block.idAuth : block.idBlock) == nil {
                diagnostics.append(emit("'\(key)' needs '\(other)': KVM_SEV_SNP_LAUNCH_FINISH takes both", at: value))
            }
            let shown = context.launchFiles[key]?.path ?? value.value
            guard let file = context.launchFiles[key]?.file, file.kind == .regular, let bytes = file.bytes else {
                diagnostics.append(emit("\(key) file '\(shown)' does not exist or cannot be read", at: value))
                continue
            }
            if let size = sizes[key], bytes.count != size {
                diagnostics.append(emit("\(key) file '\(shown)' is \(bytes.count) bytes; an \(key == "id-block" ? "ID block" : "ID authentication structure") is \(size)", at: value))
                continue
            }
            if key == "id-block" {
                // struct sev_snp_id_block: ld[48], family_id[16], image_id[16], version u32, guest_svn u32, policy u64 @88.
                let policy = bytes[88..<96].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
                let launch = block.policy?.value ?? SNPPolicy.defaultPolicy
                if policy != launch {
                    diagnostics.append(
                        emit(
                            "the ID block's policy \(ManifestInteger.formatHex(policy)) differs from the launch policy \(ManifestInteger.formatHex(launch)); the firmware refuses LAUNCH_FINISH",
                            at: value))
                }
            }
        }
    }
}

// MARK: - TDX

/// TD attributes, bit by bit.
public enum TDXAttributeBits: Rule {
    public static let documentation = RuleDocumentation(
        id: "tdx.attributes", severity: .error, summary: "`tdx.attributes` sets a bit that is not a TD attribute.",
        rationale: "TD attributes (TDX module ABI) are DEBUG (0), HGS_PLUS (4), ICSSD (16), LASS (27), SEPT_VE_DISABLE (28), MIGRATABLE (29), PKS (30), KL (31), TPA (62) and PERFMON (63); every other bit is reserved.",
        kernel: "KVM_TDX_INIT_VM fails with EINVAL for attributes outside KVM_TDX_CAPABILITIES' supported_attrs (and the TDX module for reserved ones).",
        fix: "Clear the bits the message lists.")

    public static let appliesTo: Set<Architecture> = [.x86_64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let attributes = context.manifest.tdx?.attributes else { return }
        let reserved = attributes.value & ~TDXAttributes.known
        if reserved != 0 {
            diagnostics.append(emit("attributes \(ManifestInteger.formatHex(attributes.value)) set reserved bit(s) \(bitList(reserved))", at: attributes))
        }
    }
}

/// A debuggable TD is not confidential.
public enum TDXDebug: Rule {
    public static let documentation = RuleDocumentation(
        id: "tdx.debug", severity: .warning, summary: "The TD attributes allow debugging.",
        rationale: "TD attribute DEBUG (bit 0) lets the host read and write the TD's private memory and registers through the TDX module's debug interface; attestation shows it.",
        kernel: "Accepted; the TD is no longer confidential.",
        fix: "Clear bit 0 outside development.")

    public static let appliesTo: Set<Architecture> = [.x86_64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let attributes = context.manifest.tdx?.attributes, attributes.value & TDXAttributes.debug != 0 else { return }
        diagnostics.append(emit("attributes set DEBUG (bit 0): the host can read this TD's memory", at: attributes))
    }
}

/// XFAM: known bits, x87 and SSE, whole AVX-512 and AMX groups.
public enum TDXXFAMBits: Rule {
    public static let documentation = RuleDocumentation(
        id: "tdx.xfam", severity: .error, summary: "`tdx.xfam` is not a valid set of extended features.",
        rationale: "XFAM uses the XCR0/IA32_XSS bit layout: x87 (0) and SSE (1) are always on; AVX (2) needs SSE; the AVX-512 components (5–7) come together and need AVX; AMX XTILECFG (17) and XTILEDATA (18) come together; bits 20 and above are not defined.",
        kernel: "KVM_TDX_INIT_VM fails with EINVAL for XFAM outside KVM_TDX_CAPABILITIES' supported_xfam; the TDX module refuses inconsistent component sets.",
        fix: "Start from 0x3 (x87, SSE) and add whole feature groups, e.g. 0xe7 for AVX-512.")

    public static let appliesTo: Set<Architecture> = [.x86_64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let xfam = context.manifest.tdx?.xfam else { return }
        let v = xfam.value
        var problems: [String] = []
        if v & TDXXFAM.required != TDXXFAM.required { problems.append("x87 and SSE (bits 0 and 1) must be set") }
        if v & ~TDXXFAM.known != 0 { problems.append("bit(s) \(bitList(v & ~TDXXFAM.known)) are not defined") }
        let avx512: UInt64 = 0xe0
        if v & avx512 != 0 && v & avx512 != avx512 { problems.append("the AVX-512 components (bits 5, 6, 7) come together") }
        if v & avx512 != 0 && v & 0x4 == 0 { problems.append("AVX-512 needs AVX (bit 2)") }
        let amx: UInt64 = 0x6_0000
        if v & amx != 0 && v & amx != amx { problems.append("AMX XTILECFG and XTILEDATA (bits 17, 18) come together") }
        for problem in problems {
            diagnostics.append(emit("xfam \(ManifestInteger.formatHex(v)): \(problem)", at: xfam))
        }
    }
}

/// mrconfigid, mrowner, mrownerconfig: 48 bytes each.
public enum TDXMeasurementRegisterBytes: Rule {
    public static let documentation = RuleDocumentation(
        id: "tdx.measurement-register", severity: .error,
        summary: "`tdx.mrconfigid`, `mrowner` or `mrownerconfig` is not 48 bytes of hex.",
        rationale: "The TD's software-defined measurement registers are 48 bytes each (struct kvm_tdx_init_vm mrconfigid[6], mrowner[6], mrownerconfig[6] as u64); TD quotes repeat them. Write each as 96 hex digits.",
        kernel: "A VMM that copies a shorter or longer value truncates it or reads past it: quotes carry other bytes than intended.",
        fix: "Write exactly 96 hex digits (0-9, a-f), e.g. a SHA-384.")

    public static let appliesTo: Set<Architecture> = [.x86_64]

    public static func check(_ context: RuleContext, into diagnostics: inout Diagnostics) {
        guard let block = context.manifest.tdx else { return }
        for (key, value) in block.measurementRegisters where hexBytes(value.value, count: 48) == nil {
            diagnostics.append(emit("\(key) must be 48 bytes as 96 hex digits; found \(value.value.utf8.count) characters", at: value))
        }
    }
}
