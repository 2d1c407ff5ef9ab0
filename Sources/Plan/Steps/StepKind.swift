import Diagnostics

/// Everything kvmplan knows about one kind of plan step, in one type: one file under `Plan/Steps/`
/// (`CreateVMStep.swift`). The type holds the step's typed arguments and declares its kernel spelling, the fds
/// it acts on and defines, its architectures and ioctls, its argument checks, its JSON fields, its text
/// arguments and its C reproducer form. Its execution through the kernel door lives beside the launcher
/// (`Launcher/Steps/`), because the compiler half never imports the kernel half (DESIGN §1).
///
/// `Operation` (one case per step kind) and `OperationKind` are generated from the files of this folder by
/// `python3 Scripts/generate-steps.py` into `Operation+Generated.swift`; nothing else switches over every kind.
protocol StepKind: Hashable, Sendable {
    /// The ioctl or syscall as the kernel spells it (`KVM_CREATE_VM`, `mmap`); `load`, `boot` … for the
    /// launcher's own work.
    static var op: String { get }
    /// The `KVM_MEMORY_ENCRYPT_OP` sub-command (`KVM_SEV_SNP_LAUNCH_START`), if any.
    static var command: String? { get }
    /// The fd kinds the step may act on (`fd`); empty when it acts on no fd.
    static var allowedKinds: Set<FdKind> { get }
    /// The architectures whose KVM has the step.
    static var architectures: Set<PlanArch> { get }
    /// The hardware a step of this kind needs beyond a plain KVM host, for comments in renderings.
    static var hardwareNote: String? { get }

    /// The step as a plan operation (generated).
    var operation: Operation { get }
    /// The fd or mapping the step acts on; nil for `open`, `memfd_create` and anonymous `mmap`.
    var actsOn: FdRef? { get }
    /// The fd or mapping the step creates, if any.
    var defines: FdRef? { get }
    /// Every fd and mapping the step uses, `actsOn` first (field `fd`), with the kinds allowed in each place.
    var fdUses: [FdUse] { get }
    /// `posted` when the step or one of its arguments exists only in a posted series.
    var uapiStatus: UAPIStatus { get }
    /// The ioctls the step issues, in order (empty for plain syscalls and the launcher's own work).
    func ioctls(arch: PlanArch) -> [Ioctl]
    /// Argument combinations the types allow but the step cannot mean (`Plan.validate()`), by `args` field.
    func argumentProblems(arch: PlanArch) -> [(field: String, message: String)]

    /// The step's JSON `args` object.
    var jsonArgs: [String: JSONValue] { get }
    /// The step from its JSON `fd`, `defines` and `args`: every arg present, of its type, nothing else.
    static func decode(_ d: inout StepDecoder) throws(PlanDecodingError) -> Self

    /// The text rendering's fd column (the fd acted on; `open` shows its path).
    var textFd: String { get }
    /// The text rendering's arguments (`size=512MiB`, `flags=MMAP`).
    var textArguments: [String] { get }

    /// Fds the step's C code uses beyond `fdUses` (`%kvm` for KVM_GET_VCPU_MMAP_SIZE).
    var cImplicitFds: [FdRef] { get }
    /// The C statements of the step in the reproducer (`kvmplan plan --format c`).
    func cStatements(_ c: CStatementContext) -> [String]
}

extension StepKind {
    static var command: String? { nil }
    static var architectures: Set<PlanArch> { [.x86_64, .arm64] }
    static var hardwareNote: String? { nil }
    var defines: FdRef? { nil }
    var fdUses: [FdUse] { actsOnUse }
    var uapiStatus: UAPIStatus { .merged }
    func argumentProblems(arch: PlanArch) -> [(field: String, message: String)] { [] }
    var textFd: String { actsOn?.description ?? "" }
    var cImplicitFds: [FdRef] { [] }

    /// The use of `actsOn` (field `fd`), with the step kind's allowed fd kinds; none when it acts on no fd.
    var actsOnUse: [FdUse] {
        actsOn.map { [FdUse(field: "fd", ref: $0, allowed: Self.allowedKinds)] } ?? []
    }
}

// MARK: - Decoding

/// What a step kind's `decode` reads: the step's `fd` and `defines`, its `args` object, the plan's
/// architecture, and where in the plan file the step is (for errors).
struct StepDecoder {
    var args: ObjectReader
    let fd: FdRef?
    let definesRef: FdRef?
    let arch: PlanArch
    let context: DecodingContext
    let op: String
    let allowedKinds: Set<FdKind>

    /// The fd the step acts on: present exactly when the step acts on one.
    func on() throws(PlanDecodingError) -> FdRef {
        guard let fd else { throw context.error("fd", "missing: \(op) acts on \(kindList(allowedKinds))") }
        return fd
    }

    /// The name the step defines, from `defines`.
    func definedName(_ expected: FdKind) throws(PlanDecodingError) -> String {
        guard let definesRef else { throw context.error("defines", "missing: the step defines a \(expected)") }
        guard definesRef.kind == expected else {
            throw context.error("defines", "wrong fd kind: expected \(expected), not \(definesRef)")
        }
        return definesRef.name
    }

    /// A catalogue capability by name.
    mutating func capability(_ key: String) throws(PlanDecodingError) -> Capability {
        let name = try args.string(key)
        guard let cap = Capability.named(name) else { throw args.error(key, "unknown capability '\(name)'") }
        return cap
    }

    /// `count` bytes from lower-case hex (the spelling `jsonArgs` writes).
    func hexBytes(_ key: String, _ text: String, count: Int) throws(PlanDecodingError) -> [UInt8] {
        guard let bytes = HexBytes.decode(text), bytes.count == count, HexBytes.encode(bytes) == text else {
            throw args.error(key, "expected \(count) bytes as \(count * 2) lower-case hex digits")
        }
        return bytes
    }
}

func kindList(_ kinds: Set<FdKind>) -> String {
    kinds.sorted { $0.rawValue < $1.rawValue }.map(\.description).joined(separator: " or ")
}

// MARK: - C reproducer

/// What a step kind's `cStatements` writes with: the step's id and op as C literals, the C variables of fds,
/// and the statement shapes several steps share.
struct CStatementContext {
    /// The step id as a C string literal.
    let id: String
    /// The step's op (or sub-command) as a C string literal.
    let op: String

    /// The C variable of a reference (`fd_vm`, `map_ram`).
    func v(_ ref: FdRef) -> String { PlanCRenderer.identifier(ref) }

    /// `0x1000ULL`.
    func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) + "ULL" }

    /// The host address of `%map.NAME+offset` as a `uint64_t`.
    func address(_ a: Address) -> String { "(uint64_t)(uintptr_t)\(v(a.map)) + \(hex(a.offset))" }

    /// `if (CALL < 0) kp_fail(id, NAME);`, NAME defaulting to the step's op.
    func check(_ call: String, _ name: String? = nil) -> String {
        "if (\(call) < 0) kp_fail(\(id), \(name.map(PlanCRenderer.literal) ?? op));"
    }

    /// A `KVM_MEMORY_ENCRYPT_OP` with `struct kp_sev_cmd` whose data is a zeroed `struct structName` with `fields`.
    func sevCommand(on: String, sev: String, commandID: UInt32, structName: String, fields: [String]) -> [String] {
        var lines = [
            "{", "    struct \(structName) d;", "    struct kp_sev_cmd cmd;", "    memset(&d, 0, sizeof d);",
            "    memset(&cmd, 0, sizeof cmd);",
        ]
        lines += fields.map { "    d.\($0);" }
        lines += [
            "    cmd.id = \(commandID);", "    cmd.data = (uint64_t)(uintptr_t)&d;", "    cmd.sev_fd = (uint32_t)\(sev);",
            "    if (kp_ioctl(\(on), KP_KVM_MEMORY_ENCRYPT_OP, &cmd) < 0)",
            "        kp_failf(\(id), \(op), \"%s (firmware error %u)\", strerror(errno), cmd.error);", "}",
        ]
        return lines
    }

    /// A `KVM_MEMORY_ENCRYPT_OP` with `struct kp_tdx_cmd`.
    func tdxCommand(on: String, commandID: UInt32, flags: String, data: String) -> [String] {
        [
            "{", "    struct kp_tdx_cmd cmd;", "    memset(&cmd, 0, sizeof cmd);", "    cmd.id = \(commandID);",
            "    cmd.flags = \(flags);", "    cmd.data = \(data);", "    if (kp_ioctl(\(on), KP_KVM_MEMORY_ENCRYPT_OP, &cmd) < 0)",
            "        kp_failf(\(id), \(op), \"%s (hw_error 0x%llx)\", strerror(errno), (unsigned long long)cmd.hw_error);",
            "}",
        ]
    }
}
