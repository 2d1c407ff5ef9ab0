import Diagnostics

/// What a host's KVM offers, as `kvmplan probe --format json` prints it and `kvmplan check --host
/// FILE` reads it: the kernel, VM types, capabilities (system-wide and per VM type) and limits.
///
/// JSON shape (format 1; keys sorted when written; `sevCBit` omitted when absent):
///
/// ```json
/// {
///   "kvmplan-host-profile": 1,
///   "kernel": "6.18.44",
///   "arch": "x86_64",
///   "apiVersion": 12,
///   "vmTypes": ["default", "sw-protected"],
///   "caps": {"KVM_CAP_GUEST_MEMFD": 1, "KVM_CAP_USER_MEMORY2": 1, …},
///   "perVMType": {"default": {"KVM_CAP_GUEST_MEMFD_FLAGS": 3, …}, "sw-protected": {…}},
///   "pageSize": 4096,
///   "cpuVendor": "AuthenticAMD",
///   "physAddrBits": 48,
///   "sevCBit": 51,
///   "maxMemslots": 32764,
///   "maxVCPUs": 1024,
///   "notes": ["free text: provenance, sources of hand-written values"]
/// }
/// ```
///
/// VM type names are the manifest's platform names (`default`, `sw-protected`, `sev`, `sev-es`,
/// `sev-snp`, `tdx`, `pkvm`, `cca`); capability names are the kernel's (`KVM_CAP_USER_MEMORY2`).
/// This module never talks to KVM: the CLI converts the KVM module's probe into this type.
public struct HostProfile: Sendable, Hashable {
    /// The value of the `"kvmplan-host-profile"` key this version writes and reads.
    public static let formatVersion = 1
    /// The key that marks a host profile and carries its format version.
    public static let formatKey = "kvmplan-host-profile"

    /// Kernel release (`uname -r`), e.g. `6.18.44`.
    public var kernel: String
    /// `x86_64` or `arm64`.
    public var arch: String
    /// `KVM_GET_API_VERSION` (12).
    public var apiVersion: Int
    /// VM types the host's KVM accepts, by platform name.
    public var vmTypes: [String]
    /// `KVM_CHECK_EXTENSION` on `/dev/kvm`, by capability name.
    public var caps: [String: UInt64]
    /// `KVM_CHECK_EXTENSION` on a VM fd of each type (answers that depend on the VM type, e.g.
    /// `KVM_CAP_GUEST_MEMFD_FLAGS`, `KVM_CAP_MEMORY_ATTRIBUTES`), by platform name and capability name.
    public var perVMType: [String: [String: UInt64]]
    /// Host page size in bytes.
    public var pageSize: Int
    /// CPUID vendor string (`GenuineIntel`, `AuthenticAMD`), empty on arm64.
    public var cpuVendor: String
    /// x86: MAXPHYADDR (CPUID 0x80000008 EAX[7:0]); arm64: maximum IPA bits.
    public var physAddrBits: Int
    /// AMD SEV C-bit position (CPUID 0x8000001F EBX[5:0]), when the CPU has SME/SEV.
    public var sevCBit: Int?
    /// Usable memslots (`KVM_CAP_NR_MEMSLOTS`).
    public var maxMemslots: Int
    /// Maximum vCPUs per VM (`KVM_CAP_MAX_VCPUS`).
    public var maxVCPUs: Int
    /// Free text: where the values come from.
    public var notes: [String]
    /// TDX hosts: `KVM_TDX_CAPABILITIES.supported_attrs` and `supported_xfam`; nil when unknown.
    public var tdxSupportedAttributes: UInt64? = nil
    public var tdxSupportedXFAM: UInt64? = nil
    /// SEV-SNP hosts: the guest policy bits KVM accepts in KVM_SEV_SNP_LAUNCH_START; nil when unknown.
    public var snpSupportedPolicyBits: UInt64? = nil

    public init(
        kernel: String, arch: String, apiVersion: Int = 12, vmTypes: [String], caps: [String: UInt64],
        perVMType: [String: [String: UInt64]], pageSize: Int, cpuVendor: String, physAddrBits: Int,
        sevCBit: Int? = nil, maxMemslots: Int, maxVCPUs: Int, notes: [String] = []
    ) {
        (self.kernel, self.arch, self.apiVersion, self.vmTypes) = (kernel, arch, apiVersion, vmTypes)
        (self.caps, self.perVMType, self.pageSize, self.cpuVendor) = (caps, perVMType, pageSize, cpuVendor)
        (self.physAddrBits, self.sevCBit, self.maxMemslots, self.maxVCPUs) = (physAddrBits, sevCBit, maxMemslots, maxVCPUs)
        self.notes = notes
    }

    /// The value of capability `name` (`KVM_CAP_GUEST_MEMFD_FLAGS`) for VMs of `vmType`: the
    /// per-VM answer when the profile has one, else the system-wide one, else nil.
    public func capability(_ name: String, vmType: String? = nil) -> UInt64? {
        if let vmType, let value = perVMType[vmType]?[name] { return value }
        return caps[name]
    }

    /// Whether the host's KVM accepts VMs of `vmType` (a platform name).
    public func supportsVMType(_ vmType: String) -> Bool { vmTypes.contains(vmType) }
}

// MARK: - JSON

extension HostProfile {
    /// A host profile that could not be read: `field` is the data path of the offending value
    /// (`caps.KVM_CAP_GUEST_MEMFD`, `vmTypes[2]`, or `` for the document itself).
    public struct DecodingError: Error, Hashable, Sendable, CustomStringConvertible {
        public var field: String
        public var message: String

        public init(field: String, message: String) {
            self.field = field
            self.message = message
        }

        public var description: String {
            field.isEmpty ? "host profile: \(message)" : "host profile: field '\(field)': \(message)"
        }
    }

    private static let knownKeys: Set<String> = [
        formatKey, "kernel", "arch", "apiVersion", "vmTypes", "caps", "perVMType", "pageSize", "cpuVendor",
        "physAddrBits", "sevCBit", "maxMemslots", "maxVCPUs", "notes", "tdxSupportedAttributes", "tdxSupportedXFAM",
        "snpSupportedPolicyBits",
    ]

    /// Architectures a profile may name (the manifest's `arch` values).
    public static let architectures: Set<String> = ["x86_64", "arm64"]

    /// The profile as canonical JSON (serialise with `serialized(pretty:)`: sorted keys).
    public func toJSON() -> JSONValue {
        var object: [String: JSONValue] = [
            Self.formatKey: .int(Int64(Self.formatVersion)),
            "kernel": .string(kernel),
            "arch": .string(arch),
            "apiVersion": .int(Int64(apiVersion)),
            "vmTypes": .array(vmTypes.map(JSONValue.string)),
            "caps": Self.capsJSON(caps),
            "perVMType": .object(perVMType.mapValues(Self.capsJSON)),
            "pageSize": .int(Int64(pageSize)),
            "cpuVendor": .string(cpuVendor),
            "physAddrBits": .int(Int64(physAddrBits)),
            "maxMemslots": .int(Int64(maxMemslots)),
            "maxVCPUs": .int(Int64(maxVCPUs)),
            "notes": .array(notes.map(JSONValue.string)),
        ]
        if let sevCBit { object["sevCBit"] = .int(Int64(sevCBit)) }
        for (key, value) in [
            ("tdxSupportedAttributes", tdxSupportedAttributes), ("tdxSupportedXFAM", tdxSupportedXFAM),
            ("snpSupportedPolicyBits", snpSupportedPolicyBits),
        ] {
            if let value { object[key] = value <= UInt64(Int64.max) ? .int(Int64(value)) : .uint(value) }
        }
        return .object(object)
    }

    /// The profile as pretty-printed JSON text with a final newline: the file format of
    /// `Manifests/hosts/*.json`.
    public func serialized() -> String { toJSON().serialized(pretty: true) + "\n" }

    /// Reads a profile; every problem names the offending field. Unknown keys are errors, as in
    /// manifests: a misspelt capability table must not silently read as "no capabilities".
    public init(json: JSONValue) throws(DecodingError) {
        guard let object = json.objectValue else {
            throw DecodingError(field: "", message: "expected a JSON object")
        }
        if let unknown = object.keys.filter({ !Self.knownKeys.contains($0) }).sorted().first {
            throw DecodingError(field: unknown, message: "unknown field")
        }
        let version = try Self.integer(object, Self.formatKey)
        guard version == Self.formatVersion else {
            throw DecodingError(
                field: Self.formatKey,
                message: "unsupported format version \(version) (this kvmplan reads \(Self.formatVersion))")
        }
        kernel = try Self.string(object, "kernel")
        arch = try Self.string(object, "arch")
        guard Self.architectures.contains(arch) else {
            throw DecodingError(field: "arch", message: "expected \"x86_64\" or \"arm64\", found \"\(arch)\"")
        }
        apiVersion = try Self.integer(object, "apiVersion")
        vmTypes = try Self.strings(object, "vmTypes")
        caps = try Self.capabilities(try Self.member(object, "caps"), path: "caps")
        guard let perType = try Self.member(object, "perVMType").objectValue else {
            throw DecodingError(field: "perVMType", message: "expected an object of VM type → capabilities")
        }
        var perVMType: [String: [String: UInt64]] = [:]
        for (type, table) in perType.sorted(by: { $0.key < $1.key }) {
            perVMType[type] = try Self.capabilities(table, path: "perVMType.\(type)")
        }
        self.perVMType = perVMType
        pageSize = try Self.integer(object, "pageSize")
        cpuVendor = try Self.string(object, "cpuVendor")
        physAddrBits = try Self.integer(object, "physAddrBits")
        if let value = object["sevCBit"], value != .null {
            guard let bit = value.uint64Value, bit < 64 else {
                throw DecodingError(field: "sevCBit", message: "expected a bit position 0…63 or null")
            }
            sevCBit = Int(bit)
        } else {
            sevCBit = nil
        }
        maxMemslots = try Self.integer(object, "maxMemslots")
        maxVCPUs = try Self.integer(object, "maxVCPUs")
        notes = try Self.strings(object, "notes")
        func mask(_ key: String) throws(DecodingError) -> UInt64? {
            guard let value = object[key], value != .null else { return nil }
            guard let v = value.uint64Value else { throw DecodingError(field: key, message: "expected a non-negative integer or null") }
            return v
        }
        tdxSupportedAttributes = try mask("tdxSupportedAttributes")
        tdxSupportedXFAM = try mask("tdxSupportedXFAM")
        snpSupportedPolicyBits = try mask("snpSupportedPolicyBits")
    }

    /// Parses JSON text and reads the profile from it.
    public init(jsonText: String) throws(DecodingError) {
        let value: JSONValue
        do {
            value = try JSONValue.parse(jsonText)
        } catch {
            throw DecodingError(field: "", message: "invalid JSON at \(error.description)")
        }
        try self.init(json: value)
    }

    // MARK: Helpers

    private static func capsJSON(_ caps: [String: UInt64]) -> JSONValue {
        // Parsing gives .int for values that fit in Int64; write the same so profiles round-trip.
        .object(caps.mapValues { $0 <= UInt64(Int64.max) ? .int(Int64($0)) : .uint($0) })
    }

    private static func member(_ object: [String: JSONValue], _ key: String) throws(DecodingError) -> JSONValue {
        guard let value = object[key] else { throw DecodingError(field: key, message: "missing") }
        return value
    }

    private static func string(_ object: [String: JSONValue], _ key: String) throws(DecodingError) -> String {
        guard let value = try member(object, key).stringValue else {
            throw DecodingError(field: key, message: "expected a string")
        }
        return value
    }

    private static func integer(_ object: [String: JSONValue], _ key: String) throws(DecodingError) -> Int {
        guard let value = try member(object, key).uint64Value, value <= UInt64(Int.max) else {
            throw DecodingError(field: key, message: "expected a non-negative integer")
        }
        return Int(value)
    }

    private static func strings(_ object: [String: JSONValue], _ key: String) throws(DecodingError) -> [String] {
        guard let items = try member(object, key).arrayValue else {
            throw DecodingError(field: key, message: "expected an array of strings")
        }
        var out: [String] = []
        for (index, item) in items.enumerated() {
            guard let s = item.stringValue else {
                throw DecodingError(field: "\(key)[\(index)]", message: "expected a string")
            }
            out.append(s)
        }
        return out
    }

    private static func capabilities(_ value: JSONValue, path: String) throws(DecodingError) -> [String: UInt64] {
        guard let table = value.objectValue else {
            throw DecodingError(field: path, message: "expected an object of capability name → integer")
        }
        var out: [String: UInt64] = [:]
        for (name, entry) in table.sorted(by: { $0.key < $1.key }) {
            guard name.hasPrefix("KVM_CAP_") else {
                throw DecodingError(field: "\(path).\(name)", message: "capability names start with KVM_CAP_")
            }
            guard let number = entry.uint64Value else {
                throw DecodingError(field: "\(path).\(name)", message: "expected a non-negative integer")
            }
            out[name] = number
        }
        return out
    }
}
