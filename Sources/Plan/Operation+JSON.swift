import Diagnostics

// The `args` object of each step: integers as numbers, flags as arrays of names, fd references as strings
// (`"%gmem.ram"`), addresses as `{"map": "%map.ram", "offset": 0}`. The fd a step acts on and the fd it
// defines are the step's `fd` and `defines`, not args.

// MARK: - Encoding

extension Address {
    var json: JSONValue { .object(["map": .string(map.description), "offset": .number(offset)]) }
}

extension NamedFlags {
    var json: JSONValue { .array(names.map { .string($0) }) }
}

extension CapabilityExpectation {
    /// `{"at-least": 1}` or `{"bits": 16}` members.
    var jsonMembers: [String: JSONValue] {
        switch self {
        case .atLeast(let v): ["at-least": .number(v)]
        case .bits(let v): ["bits": .number(v)]
        }
    }
}

extension MappingSource {
    /// The `backing` spelling.
    var backingName: String {
        switch self {
        case .anonymous: "anonymous"
        case .hugetlbAnonymous(.size2M): "anonymous-hugetlb-2M"
        case .hugetlbAnonymous(.size1G): "anonymous-hugetlb-1G"
        case .memfd: "memfd"
        case .guestMemfd: "guest-memfd"
        }
    }

    static let backingNames = ["anonymous", "anonymous-hugetlb-2M", "anonymous-hugetlb-1G", "memfd", "guest-memfd"]
}

extension Operation {
    /// The step's `args` object.
    var jsonArgs: [String: JSONValue] { step.jsonArgs }
}

// MARK: - Decoding

extension Operation {
    /// Decodes the operation of kind `kind` from the step's `fd`, `defines` and `args`. Accepts only what
    /// `jsonArgs` produces: every arg present, of its type, nothing else; fds of the kinds the operation accepts.
    static func decode(
        kind: OperationKind, fd: FdRef?, defines: FdRef?, args: inout ObjectReader, arch: PlanArch,
        context: DecodingContext
    ) throws(PlanDecodingError) -> Operation {
        var decoder = StepDecoder(
            args: args, fd: fd, definesRef: defines, arch: arch, context: context, op: kind.op, allowedKinds: kind.allowedKinds)
        let operation = try kind.stepType.decode(&decoder).operation
        args = decoder.args
        try args.finish()

        // The step's fd and defines must be exactly those of the operation, of kinds it accepts.
        if operation.on == nil, let fd {
            throw context.error("fd", "\(kind.op) acts on no fd, but the step names \(fd)")
        }
        if operation.defines != defines {
            if let expected = operation.defines {
                throw context.error("defines", "must be \(expected), not \(defines.map(\.description) ?? "absent")")
            }
            throw context.error("defines", "\(kind.op) defines no fd")
        }
        for use in operation.fdUses where !use.allowed.contains(use.ref.kind) {
            let field = use.field == "fd" ? "fd" : "args." + use.field
            throw context.error(field, "wrong fd kind: \(operation.command ?? operation.op) needs \(kindList(use.allowed)), not \(use.ref)")
        }
        return operation
    }
}
