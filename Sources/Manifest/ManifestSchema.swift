import Diagnostics

/// A JSON Schema (draft 2020-12) of manifest format 1, generated from the same vocabularies the
/// parser uses, so editors (yaml-language-server) complete and check keys. `kvmplan schema` prints it.
public enum ManifestSchema {
    private static func words<E: RawRepresentable & CaseIterable>(_ e: E.Type, _ description: String, default value: E? = nil)
        -> JSONValue
    where E.RawValue == String {
        var o: [String: JSONValue] = ["enum": .array(E.allCases.map { .string($0.rawValue) }), "description": .string(description)]
        if let value { o["default"] = .string(value.rawValue) }
        return .object(o)
    }

    /// `schema` with a description, and `default` / `examples` when given.
    private static func described(_ schema: JSONValue, _ description: String, default value: JSONValue? = nil, examples: [JSONValue] = [])
        -> JSONValue
    {
        var o = schema.objectValue ?? [:]
        o["description"] = .string(description)
        if let value { o["default"] = value }
        if !examples.isEmpty { o["examples"] = .array(examples) }
        return .object(o)
    }

    /// The integer grammar of `ManifestInteger.parse`: decimal, 0x hex (with _ separators), or a size.
    static let integerPattern = "\\+?(0[xX][0-9a-fA-F](_?[0-9a-fA-F])*|[0-9](_?[0-9])*( ?(KiB|MiB|GiB|TiB))?)"

    private static func closed(_ properties: [String: JSONValue], required: [String] = [], description: String) -> JSONValue {
        var o: [String: JSONValue] = [
            "type": .string("object"), "properties": .object(properties), "additionalProperties": .bool(false),
            "description": .string(description),
        ]
        if !required.isEmpty { o["required"] = .array(required.map { .string($0) }) }
        return .object(o)
    }

    private static let integer: JSONValue = .object([
        "description": .string("An unsigned 64-bit integer: decimal, 0x hex (with optional _ separators), or a size such as 512MiB."),
        "anyOf": .array([
            .object(["type": .string("integer"), "minimum": .int(0), "maximum": .uint(UInt64.max)]),
            .object([
                "type": .string("string"),
                "pattern": .string("^\\s*" + integerPattern + "\\s*$"),
            ]),
        ]),
    ])

    private static let name: JSONValue = .object([
        "type": .string("string"), "pattern": .string("^[a-z0-9][a-z0-9-]{0,62}$"),
    ])

    private static func boolean(_ description: String, default value: Bool = false) -> JSONValue {
        .object(["type": .string("boolean"), "description": .string(description), "default": .bool(value)])
    }

    public static var json: JSONValue {
        let region = closed(
            [
                "name": described(name, "The region's name, unique in the manifest: it names the memslot and the guest_memfd.", examples: [.string("ram")]),
                "base": described(integer, "The first guest physical address; a multiple of the page size.", examples: [.string("0x0"), .string("0x100000000")]),
                "size": described(integer, "Size in bytes; a non-zero multiple of the page size.", examples: [.string("512MiB"), .string("0x200000")]),
                "access": words(
                    Access.self, "private: guest_memfd only; shared: host-readable; convertible: both, converted at run time.",
                    default: .shared),
                "initial": words(InitialState.self, "Initial state of a convertible region.", default: .private),
                "backing": words(
                    Backing.self,
                    "Memory behind the region; none = an MMIO hole. Default: guest-memfd for private and convertible regions (anonymous on pkvm), anonymous for shared ones."),
                "guest-memfd": closed(
                    [
                        "mmap": boolean("GUEST_MEMFD_FLAG_MMAP: the guest_memfd can be mmap'ed."),
                        "init-shared": boolean("GUEST_MEMFD_FLAG_INIT_SHARED: pages start shared (VMs without private memory only)."),
                    ], description: "KVM_CREATE_GUEST_MEMFD flags."),
                "readonly": boolean("KVM_MEM_READONLY (shared, non-guest_memfd memory only)."),
                "dirty-log": boolean("KVM_MEM_LOG_DIRTY_PAGES (not with guest_memfd)."),
            ], required: ["name", "base", "size"], description: "One guest physical address range.")
        let sharing = closed(
            [
                "access-type": words(AccessType.self, "How the guest marks an access shared (derived from the platform when omitted)."),
                "shared-bit": described(
                    .object(["type": .string("integer"), "minimum": .int(0), "maximum": .int(63)]),
                    "The address bit that marks an access shared (c-bit, gpa-bit, ipa-bit). Default: sev-snp 51; tdx 47 (gpa-bits 48) or 51 (52); cca gpa-bits - 1.",
                    examples: [.int(51), .int(47)]),
                "conversion": described(
                    .object(["type": .string("array"), "items": words(ConversionExit.self, "A conversion exit.")]),
                    "Exits that convert pages: hypercall = KVM_EXIT_HYPERCALL(KVM_HC_MAP_GPA_RANGE), fault = KVM_EXIT_MEMORY_FAULT; [] = none. Default: the platform's.",
                    examples: [.array([.string("hypercall"), .string("fault")])]),
                "convertible": described(
                    .object(["type": .string("array"), "items": name]),
                    "The only regions the guest may convert. Default: every convertible region.", examples: [.array([.string("ram")])]),
                "on-share": words(OnShare.self, "What happens to the private backing of a page that becomes shared.", default: .punchHole),
                "on-unshare": words(OnUnshare.self, "What happens to the shared backing of a page that becomes private.", default: .discard),
            ], description: "The sharing protocol; every key defaults from the platform.")
        let payload = closed(
            [
                "format": words(
                    PayloadFormat.self,
                    "flat binary, ELF64, firmware (x86: ends at 4 GiB, entered at the reset vector) or linux (an x86 bzImage booted through the Linux boot protocol).",
                    default: .flat),
                "path": .object([
                    "type": .string("string"), "minLength": .int(1), "description": .string("The image, relative to the manifest file."),
                    "examples": .array([.string("guests/hello.bin")]),
                ]),
                "load": .object([
                    "description": .string("REGION+OFFSET or an absolute GPA (flat only)."),
                    "examples": .array([.string("ram+0x100000"), .string("0x100000")]),
                    "anyOf": .array([
                        integer,
                        // Exactly what the parser reads: a region name, optionally + an integer offset.
                        .object([
                            "type": .string("string"),
                            "pattern": .string("^\\s*[a-z][a-z0-9-]{0,62}\\s*(\\+\\s*" + integerPattern + ")?\\s*$"),
                        ]),
                    ]),
                ]),
                "entry": described(integer, "The first instruction (flat only). Default: the load address.", examples: [.string("0x100000")]),
                "mode": words(BootMode.self, "x86 boot mode.", default: .long),
                "measured": .object([
                    "type": .string("boolean"),
                    "description": .string("Part of the launch measurement. Default: true on sev-snp, tdx and cca, else false."),
                ]),
                "initrd": .object([
                    "type": .string("string"), "minLength": .int(1),
                    "description": .string("format linux: the initial ramdisk, relative to the manifest file."),
                    "examples": .array([.string("initrd.cpio")]),
                ]),
                "cmdline": .object([
                    "type": .string("string"), "description": .string("format linux: the kernel command line."),
                    "examples": .array([.string("console=ttyS0 reboot=k panic=-1")]),
                ]),
            ], required: ["path"], description: "The guest image.")
        func hex(_ bytes: Int, _ description: String) -> JSONValue {
            .object([
                "type": .string("string"), "pattern": .string("^[0-9a-fA-F]{\(bytes * 2)}$"), "description": .string(description),
            ])
        }
        let file: JSONValue = .object(["type": .string("string"), "minLength": .int(1), "description": .string("Relative to the manifest file.")])
        let sevSnp = closed(
            [
                "policy": integer, "host-data": hex(32, "HOST_DATA of KVM_SEV_SNP_LAUNCH_FINISH: 32 bytes."),
                "id-block": file, "id-auth": file,
            ], description: "SEV-SNP launch parameters (platform sev-snp only).")
        let tdx = closed(
            [
                "attributes": integer, "xfam": integer, "mrconfigid": hex(48, "MRCONFIGID: 48 bytes."),
                "mrowner": hex(48, "MROWNER: 48 bytes."), "mrownerconfig": hex(48, "MROWNERCONFIG: 48 bytes."),
            ], description: "TDX launch parameters of KVM_TDX_INIT_VM (platform tdx only).")
        return .object([
            "$schema": .string("https://json-schema.org/draft/2020-12/schema"),
            "$id": .string("https://kvmplan.dev/schema/manifest-1.json"),
            "$comment": .string(
                "Generated by `kvmplan schema`; do not edit. Regenerate with `kvmplan schema > Manifests/kvmplan.schema.json`."),
            "title": .string("kvmplan manifest, format 1"),
            "description": .string("A guest for kvmplan: its platform, guest physical memory, sharing protocol and payload."),
            "type": .string("object"),
            "additionalProperties": .bool(false),
            "required": .array(["kvmplan", "name", "arch", "platform", "memory"].map { .string($0) }),
            "properties": .object([
                "kvmplan": .object(["const": .int(1), "description": .string("Manifest format version.")]),
                "name": described(name, "The guest's name: lower-case letters, digits and '-'.", examples: [.string("snp-demo")]),
                "arch": words(Architecture.self, "Guest architecture."),
                "platform": words(Platform.self, "x86_64: default, sw-protected, sev-snp, tdx; arm64: default, pkvm, cca."),
                "vcpus": described(
                    .object(["type": .string("integer"), "minimum": .int(1), "maximum": .int(4096)]), "Number of vCPUs.", default: .int(1)),
                "gpa-bits": described(
                    .object(["type": .string("integer"), "minimum": .int(32), "maximum": .int(64)]),
                    "Guest physical address width. Default: 48 on x86_64, 40 on arm64; TDX accepts 48 or 52; on CCA the IPA size.",
                    examples: [.int(48), .int(52)]),
                "memory": closed(
                    [
                        "regions": .object([
                            "type": .string("array"), "minItems": .int(1), "items": region,
                            "description": .string("The regions of guest physical memory, at least one."),
                        ])
                    ],
                    required: ["regions"], description: "The guest physical address space."),
                "sharing": sharing,
                "payload": payload,
                "sev-snp": sevSnp,
                "tdx": tdx,
            ]),
        ])
    }
}
