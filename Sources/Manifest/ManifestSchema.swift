import Diagnostics

/// A JSON Schema (draft 2020-12) of manifest format 1, generated from the same vocabularies the
/// parser uses, so editors (yaml-language-server) complete and check keys. `kvmplan schema` prints it.
public enum ManifestSchema {
    private static func words<E: RawRepresentable & CaseIterable>(_ e: E.Type, _ description: String) -> JSONValue
    where E.RawValue == String {
        .object(["enum": .array(E.allCases.map { .string($0.rawValue) }), "description": .string(description)])
    }

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
                "pattern": .string("^\\s*\\+?(0[xX][0-9a-fA-F](_?[0-9a-fA-F])*|[0-9](_?[0-9])*( ?(KiB|MiB|GiB|TiB))?)\\s*$"),
            ]),
        ]),
    ])

    private static let name: JSONValue = .object([
        "type": .string("string"), "pattern": .string("^[a-z0-9][a-z0-9-]{0,62}$"),
    ])

    private static func boolean(_ description: String) -> JSONValue {
        .object(["type": .string("boolean"), "description": .string(description)])
    }

    public static var json: JSONValue {
        let region = closed(
            [
                "name": name,
                "base": integer, "size": integer,
                "access": words(Access.self, "private: guest_memfd only; shared: host-readable; convertible: both, converted at run time."),
                "initial": words(InitialState.self, "Initial state of a convertible region."),
                "backing": words(Backing.self, "Memory behind the region; none = an MMIO hole."),
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
                "shared-bit": .object(["type": .string("integer"), "minimum": .int(0), "maximum": .int(63)]),
                "conversion": .object(["type": .string("array"), "items": words(ConversionExit.self, "A conversion exit.")]),
                "convertible": .object(["type": .string("array"), "items": name]),
                "on-share": words(OnShare.self, "What happens to the private backing of a page that becomes shared."),
                "on-unshare": words(OnUnshare.self, "What happens to the shared backing of a page that becomes private."),
            ], description: "The sharing protocol.")
        let payload = closed(
            [
                "format": words(PayloadFormat.self, "flat binary or ELF64."),
                "path": .object(["type": .string("string"), "minLength": .int(1), "description": .string("Relative to the manifest file.")]),
                "load": .object([
                    "description": .string("REGION+OFFSET or an absolute GPA (flat only)."),
                    "anyOf": .array([
                        integer,
                        .object(["type": .string("string"), "pattern": .string("^[a-z0-9][a-z0-9-]*(\\s*\\+\\s*.+)?$")]),
                    ]),
                ]),
                "entry": integer,
                "mode": words(BootMode.self, "x86 boot mode."),
                "measured": boolean("Part of the launch measurement (SNP/TDX/CCA)."),
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
            "title": .string("kvmplan manifest, format 1"),
            "type": .string("object"),
            "additionalProperties": .bool(false),
            "required": .array(["kvmplan", "name", "arch", "platform", "memory"].map { .string($0) }),
            "properties": .object([
                "kvmplan": .object(["const": .int(1), "description": .string("Manifest format version.")]),
                "name": name,
                "arch": words(Architecture.self, "Guest architecture."),
                "platform": words(Platform.self, "x86_64: default, sw-protected, sev-snp, tdx; arm64: default, pkvm, cca."),
                "vcpus": .object(["type": .string("integer"), "minimum": .int(1), "maximum": .int(4096)]),
                "gpa-bits": .object(["type": .string("integer"), "minimum": .int(32), "maximum": .int(64)]),
                "memory": closed(
                    ["regions": .object(["type": .string("array"), "minItems": .int(1), "items": region])],
                    required: ["regions"], description: "The guest physical address space."),
                "sharing": sharing,
                "payload": payload,
                "sev-snp": sevSnp,
                "tdx": tdx,
            ]),
        ])
    }
}
