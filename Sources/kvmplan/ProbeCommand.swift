import ArgumentParser
import Compiler
import KVM
import Rules

/// `kvmplan probe`: what this host's `/dev/kvm` supports (DESIGN §6), as a table or as the host
/// profile JSON that `kvmplan check --host FILE` reads.
struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Show what this host's /dev/kvm supports.",
        discussion: """
            Reads the KVM API version, the VM types, capabilities on /dev/kvm and on a VM of each \
            type, the host page size and the CPU's address width. Flag-valued capabilities are decoded \
            (KVM_CAP_GUEST_MEMFD_FLAGS 3 (MMAP|INIT_SHARED)); the table ends with a verdict: the platforms \
            whose minimal guest passes the host checks of 'kvmplan check --host' here ("this host can run: \
            default, sw-protected"), and why each other one does not. `--format json` prints a host \
            profile for `kvmplan check --host FILE`.
            Exit codes: 0 ok; 126 /dev/kvm is missing or not accessible; 125 a KVM call failed.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(help: "Output format: text (a table) or json (a host profile).")
    var format: Format = .text

    func run() throws {
        let info = try probeLocalHost()
        switch format {
        case .json: Console.outData(HostProfile(hostInfo: info).serialized())
        case .text: Console.out(ProbeCommand.table(info))
        }
    }

    // MARK: - Text

    /// The probe as aligned text: facts first, then one row per capability with a column for
    /// `/dev/kvm` and one per VM type.
    static func table(_ info: HostInfo) -> String {
        let types = info.vmTypes.filter { info.perVMType[$0] != nil }
        let vmTypes = info.vmTypes.map(\.name).joined(separator: ", ")
        var facts: [(String, String)] = [
            ("kernel", "\(info.kernelRelease) (\(info.architecture))"),
            ("KVM API version", "\(info.apiVersion)"),
            ("VM types", vmTypes + " (KVM_CAP_VM_TYPES = 0x\(String(info.vmTypesBitmap, radix: 16)))"),
            ("page size", "\(info.pageSize)"),
        ]
        if !info.cpuVendor.isEmpty { facts.append(("CPU vendor", info.cpuVendor)) }
        facts.append(("physical address bits", info.physAddrBits.map(String.init) ?? "unknown"))
        if info.cpuVendor == "AuthenticAMD" {
            facts.append(("SEV C-bit", info.sevCBit.map(String.init) ?? "none (no SME/SEV)"))
        }
        for (type, error) in info.vmTypeFailures.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            facts.append(("VM type \(type.name)", "announced, but \(error)"))
        }
        var out = alignedRows(facts.map { [$0.0, $0.1] })
        out += "\n"

        var capabilities = HostInfo.systemCapabilities
        for capability in HostInfo.perVMCapabilities where !capabilities.contains(capability) {
            capabilities.append(capability)
        }
        var rows: [[String]] = [["capability", "/dev/kvm"] + types.map { "VM \($0.name)" }]
        for capability in capabilities.sorted(by: { $0.rawValue < $1.rawValue }) {
            // Flag-valued capabilities are decoded: `3 (MMAP|INIT_SHARED)`.
            func cell(_ value: Int?) -> String {
                guard let value else { return "-" }
                let words = HostProfile.decode(capability: capability.name, value: UInt64(clamping: value))
                return words.map { "\(value) (\($0))" } ?? String(value)
            }
            var row = ["\(capability.name) (\(capability.rawValue))", cell(info.capabilities[capability])]
            for type in types {
                row.append(cell(info.perVMType[type]?[capability]))
            }
            rows.append(row)
        }
        out += alignedRows(rows)
        out += "\n" + verdict(HostProfile(hostInfo: info))
        return out
    }

    /// The closing verdict: which platforms this host can run, and why each other one cannot.
    static func verdict(_ profile: HostProfile) -> String {
        let entries = HostVerdict.platforms(on: profile)
        var out = HostVerdict.summary(entries) + "\n"
        for entry in entries where !entry.runs {
            out += "  not \(entry.platform.rawValue): \(entry.problems.first ?? "")\n"
        }
        return out
    }

    /// Left-aligned columns separated by two spaces; each row ends with a newline.
    static func alignedRows(_ rows: [[String]]) -> String {
        let columns = rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        var out = ""
        for row in rows {
            var line = ""
            for (i, cell) in row.enumerated() {
                line += i == row.count - 1 ? cell : cell.padding(toLength: widths[i] + 2)
            }
            out += line + "\n"
        }
        return out
    }
}

extension String {
    fileprivate func padding(toLength length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }
}

// MARK: - Probing

/// Probes this host's `/dev/kvm`. A missing or inaccessible device prints one clear message on
/// stderr and exits 126 ("host lacks a capability", DESIGN §3); any other KVM failure exits 125.
func probeLocalHost() throws -> HostInfo {
    do {
        return try HostInfo.probe()
    } catch {
        if case .open = error.operation, error.isDeviceMissing {
            Console.error(
                "kvmplan: \(KVMSystem.defaultPath) does not exist: this host has no KVM "
                    + "(load the kvm module or enable virtualization) [\(error)]")
            throw ExitCode(126)
        }
        if case .open = error.operation, error.isPermissionDenied {
            Console.error(
                "kvmplan: permission denied opening \(KVMSystem.defaultPath): run as root or join its group "
                    + "(usually 'kvm') [\(error)]")
            throw ExitCode(126)
        }
        Console.error("kvmplan: probe: \(error)")
        throw ExitCode(125)
    }
}

/// This host's profile, for `kvmplan check --host local`.
func localHostProfile() throws -> HostProfile {
    HostProfile(hostInfo: try probeLocalHost())
}

extension HostProfile {
    /// The host profile of a probe: capability and VM type names as the profile spells them.
    /// VM types that `KVM_CAP_VM_TYPES` announces but that could not be created are left out of
    /// `vmTypes` and explained in `notes`.
    init(hostInfo info: HostInfo) {
        func named(_ caps: [KVMCapability: Int]) -> [String: UInt64] {
            var out: [String: UInt64] = [:]
            for (capability, value) in caps { out[capability.name] = UInt64(clamping: value) }
            return out
        }
        var perVMType: [String: [String: UInt64]] = [:]
        for (type, caps) in info.perVMType { perVMType[type.name] = named(caps) }

        var notes = [
            "Captured by `kvmplan probe --format json` on this host.",
            "caps: KVM_CHECK_EXTENSION on /dev/kvm; perVMType: KVM_CHECK_EXTENSION on a VM fd of each type "
                + "(docs/kernel-facts.md, VM types).",
            "KVM_CAP_VM_TYPES bitmap = 0x\(String(info.vmTypesBitmap, radix: 16)).",
        ]
        for (type, error) in info.vmTypeFailures.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            notes.append("VM type \(type.name) is announced by KVM_CAP_VM_TYPES but could not be created: \(error).")
        }
        if info.physAddrBits == nil { notes.append("physAddrBits: unknown on this host (0).") }

        self.init(
            kernel: info.kernelRelease, arch: info.architecture, apiVersion: info.apiVersion,
            vmTypes: info.vmTypes.filter { info.vmTypeFailures[$0] == nil }.map(\.name),
            caps: named(info.capabilities), perVMType: perVMType, pageSize: info.pageSize,
            cpuVendor: info.cpuVendor, physAddrBits: info.physAddrBits ?? 0, sevCBit: info.sevCBit,
            maxMemslots: info.capabilities[.nrMemslots] ?? 0, maxVCPUs: info.capabilities[.maxVCPUs] ?? 0,
            notes: notes)
    }
}
