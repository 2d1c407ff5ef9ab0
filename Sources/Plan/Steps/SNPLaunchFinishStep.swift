import Diagnostics

/// `KVM_SEV_SNP_LAUNCH_FINISH` (102), with the manifest's `sev-snp` host data and ID block.
public struct SNPLaunchFinishStep: StepKind, SEVCommandStep {
    public var on: FdRef
    public var sev: FdRef
    public var finish: SNPLaunchFinish

    public init(on: FdRef = .vm, sev: FdRef = .sev, finish: SNPLaunchFinish = SNPLaunchFinish()) {
        self.on = on
        self.sev = sev
        self.finish = finish
    }

    // MARK: What it is

    static let command: String? = "KVM_SEV_SNP_LAUNCH_FINISH"

    // MARK: JSON

    var jsonArgs: [String: JSONValue] {
        // Launch parameters appear only when the manifest gives them, so plans without them keep their bytes.
        var args: [String: JSONValue] = ["sev": .string(sev.description)]
        if !finish.isDefault {
            args["host-data"] = .string(HexBytes.encode(finish.hostData))
            if let idBlock = finish.idBlock { args["id-block"] = .string(HexBytes.encode(idBlock)) }
            if let idAuth = finish.idAuth { args["id-auth"] = .string(HexBytes.encode(idAuth)) }
        }
        return args
    }

    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self {
        let sev = try d.args.fd("sev", kinds: [.sev])
        var finish = SNPLaunchFinish()
        if let hostData = try d.args.optionalString("host-data") {
            finish.hostData = try d.hexBytes("host-data", hostData, count: SNPLaunchFinish.hostDataSize)
            if let idBlock = try d.args.optionalString("id-block") {
                finish.idBlock = try d.hexBytes("id-block", idBlock, count: SNPLaunchFinish.idBlockSize)
            }
            if let idAuth = try d.args.optionalString("id-auth") {
                finish.idAuth = try d.hexBytes("id-auth", idAuth, count: SNPLaunchFinish.idAuthSize)
            }
            if (finish.idBlock == nil) != (finish.idAuth == nil) { throw d.args.error("id-auth", "id-block and id-auth come together") }
            if finish.isDefault { throw d.args.error("host-data", "default launch parameters are omitted, not written") }
        }
        return Self(on: try d.on(), sev: sev, finish: finish)
    }

    // MARK: Text

    var textArguments: [String] {
        var out: [String] = []
        if finish.hostData.contains(where: { $0 != 0 }) { out.append("host-data=\(HexBytes.encode(finish.hostData))") }
        if let idBlock = finish.idBlock { out.append("id-block=\(PlanFormatting.shortDigest(PayloadDigest.sha256(idBlock)))") }
        if let idAuth = finish.idAuth { out.append("id-auth=\(PlanFormatting.shortDigest(PayloadDigest.sha256(idAuth)))") }
        return out + ["sev=\(sev)"]
    }

    // MARK: C reproducer

    func cStatements(_ c: CStatementContext) -> [String] {
        var fields: [String] = []
        var arrays: [String] = []
        if finish.hostData.contains(where: { $0 != 0 }) {
            arrays.append("static const uint8_t host_data[32] = { \(PlanCRenderer.byteList(finish.hostData)) };")
            fields.append("d.host_data, host_data, sizeof host_data)")
        }
        if let idBlock = finish.idBlock, let idAuth = finish.idAuth {
            arrays.append("static const uint8_t id_block[\(idBlock.count)] = { \(PlanCRenderer.byteList(idBlock)) };")
            arrays.append("static const uint8_t id_auth[\(idAuth.count)] = { \(PlanCRenderer.byteList(idAuth)) };")
        }
        var lines = c.sevCommand(
            on: c.v(on), sev: c.v(sev), commandID: EncryptOpCommand.snpLaunchFinish, structName: "kp_sev_snp_launch_finish",
            fields: finish.idBlock == nil
                ? []
                : ["id_block_uaddr = (uint64_t)(uintptr_t)id_block", "id_auth_uaddr = (uint64_t)(uintptr_t)id_auth", "id_block_en = 1"])
        // Arrays open the block; host data is copied in after the memset.
        lines.insert(contentsOf: arrays.map { "    " + $0 }, at: 1)
        if !fields.isEmpty, let memset = lines.firstIndex(where: { $0.contains("memset(&cmd") }) {
            lines.insert(contentsOf: fields.map { "    memcpy(" + $0 + ";" }, at: memset + 1)
        }
        return lines
    }
}

extension Operation {
    /// `KVM_SEV_SNP_LAUNCH_FINISH` (102), with the manifest's `sev-snp` host data and ID block.
    public static func snpLaunchFinish(
        on: FdRef = .vm, sev: FdRef = .sev, finish: SNPLaunchFinish = SNPLaunchFinish()
    ) -> Operation {
        .snpLaunchFinish(SNPLaunchFinishStep(on: on, sev: sev, finish: finish))
    }
}
