import Diagnostics

// The canonical JSON form of a plan (DESIGN §4): sorted keys (JSONValue), integers exact, and a `sha256`
// over the compact serialisation of what executes (`digestBody`: everything but sources, comments, the
// manifest digest and the payload path). Same plan, same bytes.
//
// {
//   "kvmplan-plan": 1, "name": …, "arch": "x86_64", "platform": "sev-snp", "manifest": "sha256:…",
//   "requires": {"api-version": 12, "vm-type": {…}, "capabilities": {…}, "guest-memfd-flags": {…} | null},
//   "steps": [{"id", "op", "command"?, "fd"?, "defines"?, "args": {…}, "source"?, "uapi", "comment"?}],
//   "handlers": [{"kind": "serial", "port": 1016, "source"?}, …],
//   "payload": {…} | null,
//   "sha256": "sha256:…"
// }

// MARK: - Encoding

extension Plan {
    /// The canonical JSON value, with `sha256`.
    public var jsonValue: JSONValue {
        var members = jsonBodyMembers
        members["sha256"] = .string(digest)
        return .object(members)
    }

    /// The canonical JSON text; `pretty` indents by two spaces (both forms have the same digest).
    public func jsonString(pretty: Bool = true) -> String { jsonValue.serialized(pretty: pretty) }

    /// The canonical JSON value without `sha256`.
    var jsonBody: JSONValue { .object(jsonBodyMembers) }

    /// What the digest covers: what executes — the requirements, steps and their arguments, handlers, and
    /// the payload with its sha256 — and not where the manifest was or how it was spelt. Left out: every
    /// `source` (manifest locations), step `comment`s, the `manifest` digest (comments and layout of the
    /// YAML) and the payload's (and initrd's) `path`. So two copies of one manifest, or one manifest named as `x.yaml`,
    /// `./x.yaml` or an absolute path, give one digest.
    var digestBody: JSONValue { Plan.executablePart(of: jsonBody) }

    /// The digest of a plan's canonical JSON (with or without its `sha256` key): what `sha256` must say.
    public static func digest(ofJSON value: JSONValue) -> String {
        PlanFormatting.sha256(of: executablePart(of: value).serialized(pretty: false))
    }

    /// The canonical JSON without `sha256` and without what does not execute (see `digestBody`). Step
    /// arguments are kept whole: an argument may itself be called `source` (a launch update's source map).
    static func executablePart(of value: JSONValue) -> JSONValue {
        guard var members = value.objectValue else { return value }
        members["sha256"] = nil
        members["manifest"] = nil
        func dropping(_ keys: [String], _ value: JSONValue) -> JSONValue {
            guard var object = value.objectValue else { return value }
            for key in keys { object[key] = nil }
            return .object(object)
        }
        if var requires = members["requires"]?.objectValue {
            if let vmType = requires["vm-type"] { requires["vm-type"] = dropping(["source"], vmType) }
            if let flags = requires["guest-memfd-flags"] { requires["guest-memfd-flags"] = dropping(["source"], flags) }
            if let caps = requires["capabilities"]?.objectValue {
                requires["capabilities"] = .object(caps.mapValues { dropping(["source"], $0) })
            }
            members["requires"] = .object(requires)
        }
        if let steps = members["steps"]?.arrayValue { members["steps"] = .array(steps.map { dropping(["source", "comment"], $0) }) }
        if let handlers = members["handlers"]?.arrayValue { members["handlers"] = .array(handlers.map { dropping(["source"], $0) }) }
        if let payload = members["payload"], payload != .null {
            var kept = dropping(["source", "path"], payload).objectValue ?? [:]
            // A Linux plan's initrd: its digest and size execute (load-initrd), its path does not.
            if let initrd = kept["initrd"], initrd != .null { kept["initrd"] = dropping(["path"], initrd) }
            members["payload"] = .object(kept)
        }
        return .object(members)
    }

    private var jsonBodyMembers: [String: JSONValue] {
        var members = jsonCoreMembers
        // Present only when computed, so plans without a measurement keep their bytes.
        if let measurement, measurement != PlanMeasurement() {
            var object: [String: JSONValue] = [:]
            for (key, path) in PlanMeasurement.members {
                if let value = measurement[keyPath: path] { object[key] = .string(value) }
            }
            members["measurement"] = .object(object)
        }
        return members
    }

    private var jsonCoreMembers: [String: JSONValue] {
        [
            "kvmplan-plan": .int(Int64(formatVersion)),
            "name": .string(name),
            "arch": .string(arch.rawValue),
            "platform": .string(platform.rawValue),
            "manifest": .string(manifestDigest),
            "requires": requires.json,
            "steps": .array(steps.map(\.json)),
            "handlers": .array(handlers.map(\.json)),
            "payload": payload?.json ?? .null,
        ]
    }
}

extension SourceLocation {
    var json: JSONValue { .string(description) }
}

extension Requirements {
    var json: JSONValue {
        var vmType: [String: JSONValue] = [
            "name": .string(self.vmType.type.name), "value": .number(self.vmType.type.value),
        ]
        vmType["source"] = self.vmType.source?.json
        var caps: [String: JSONValue] = [:]
        for (name, requirement) in capabilities {
            var members = requirement.expect.jsonMembers
            members["scope"] = .string(requirement.scope.rawValue)
            members["source"] = requirement.source?.json
            caps[name] = .object(members)
        }
        var gmem: JSONValue = .null
        if let guestMemfdFlags {
            var members: [String: JSONValue] = ["flags": guestMemfdFlags.flags.json]
            members["source"] = guestMemfdFlags.source?.json
            gmem = .object(members)
        }
        return .object([
            "api-version": .number(apiVersion), "vm-type": .object(vmType), "capabilities": .object(caps),
            "guest-memfd-flags": gmem,
        ])
    }
}

extension Step {
    var json: JSONValue {
        var members: [String: JSONValue] = [
            "id": .string(id),
            "op": .string(operation.op),
            "args": .object(operation.jsonArgs),
            "uapi": .string(uapiStatus.rawValue),
        ]
        members["command"] = operation.command.map { .string($0) }
        members["fd"] = operation.on.map { .string($0.description) }
        members["defines"] = operation.defines.map { .string($0.description) }
        members["source"] = source?.json
        members["comment"] = comment.map { .string($0) }
        return .object(members)
    }
}

extension ConvertibleRange {
    var json: JSONValue {
        .object(["region": .string(region), "gpa": .number(range.gpa), "size": .number(range.size)])
    }
}

extension Handler.Kind {
    /// The `kind` spelling.
    var name: String {
        switch self {
        case .serial: "serial"
        case .exitPort: "exit-port"
        case .mmio: "mmio"
        case .hypercallMapGPARange: "hypercall-map-gpa-range"
        case .memoryFault: "memory-fault"
        case .halt: "halt"
        case .i8042: "i8042"
        }
    }

    static let names = ["serial", "exit-port", "mmio", "hypercall-map-gpa-range", "memory-fault", "halt", "i8042"]
}

extension Handler {
    var json: JSONValue {
        var members: [String: JSONValue] = ["kind": .string(kind.name)]
        switch kind {
        case .serial(let port), .exitPort(let port), .i8042(let port):
            members["port"] = .number(UInt64(port))
        case .mmio(let region, let range, let readonly):
            members["region"] = .string(region)
            members["gpa"] = .number(range.gpa)
            members["size"] = .number(range.size)
            members["readonly"] = .bool(readonly)
        case .hypercallMapGPARange(let ranges, let onShare, let onUnshare),
            .memoryFault(let ranges, let onShare, let onUnshare):
            members["convertible"] = .array(ranges.map(\.json))
            members["on-share"] = .string(onShare.rawValue)
            members["on-unshare"] = .string(onUnshare.rawValue)
        case .halt:
            break
        }
        members["source"] = source?.json
        return .object(members)
    }
}

extension PayloadInfo {
    var json: JSONValue {
        var members: [String: JSONValue] = [
            "path": .string(path), "format": .string(format.rawValue), "sha256": .string(sha256),
            "size": .number(size), "load": .number(loadGPA), "entry": .number(entry), "mode": .string(mode.rawValue),
            "measured": .bool(measured),
        ]
        members["source"] = source?.json
        if let initrd {
            members["initrd"] = .object(["path": .string(initrd.path), "sha256": .string(initrd.sha256), "size": .number(initrd.size)])
        }
        return .object(members)
    }
}

// MARK: - Decoding

extension Plan {
    /// Reads a plan from its JSON text. Accepts only what `jsonString` produces: unknown ops or commands,
    /// missing, extra or mistyped fields, fds of the wrong kind, a `sha256` that does not match and (with
    /// `validating`, the default) any `validate()` issue are errors naming the step and field.
    public init(json text: String, validating: Bool = true) throws(PlanDecodingError) {
        let value: JSONValue
        do {
            value = try JSONValue.parse(text)
        } catch {
            throw PlanDecodingError("not JSON: \(error)")
        }
        try self.init(jsonValue: value, validating: validating)
    }

    /// Reads a plan from its parsed JSON value; see `init(json:validating:)`.
    public init(jsonValue value: JSONValue, validating: Bool = true) throws(PlanDecodingError) {
        let top = DecodingContext()
        var root = try ObjectReader(value, path: "", context: top)
        let version = try root.value("kvmplan-plan")
        guard version.uint64Value == UInt64(Plan.currentFormatVersion) else {
            throw top.error("kvmplan-plan", "unsupported plan format \(version.serialized()); this kvmplan reads format 1")
        }
        let name = try root.string("name")
        let arch = try root.choice("arch", PlanArch.self)
        let platform = try root.choice("platform", PlanPlatform.self)
        let manifest = try root.string("manifest")
        var requiresReader = try root.object("requires")
        let requires = try Requirements.decode(&requiresReader, arch: arch)

        guard let stepValues = try root.value("steps").arrayValue else { throw top.error("steps", "expected an array") }
        var steps: [Step] = []
        for (index, stepValue) in stepValues.enumerated() {
            steps.append(try Step.decode(stepValue, index: index, arch: arch))
        }
        guard let handlerValues = try root.value("handlers").arrayValue else {
            throw top.error("handlers", "expected an array")
        }
        var handlers: [Handler] = []
        for (index, handlerValue) in handlerValues.enumerated() {
            var reader = try ObjectReader(handlerValue, path: "handlers[\(index)]", context: top)
            handlers.append(try Handler.decode(&reader))
        }
        var payload: PayloadInfo?
        if var reader = try root.optionalObject("payload") {
            payload = try PayloadInfo.decode(&reader)
        }
        var measurement: PlanMeasurement?
        if let value = root.optional("measurement") {
            var reader = try ObjectReader(value, path: "measurement", context: top)
            var decoded = PlanMeasurement()
            for (key, path) in PlanMeasurement.members {
                guard let text = try reader.optionalString(key) else { continue }
                guard text.hasPrefix("sha384:"), let bytes = HexBytes.decode(String(text.dropFirst(7))), bytes.count == 48,
                    HexBytes.encode(bytes) == text.dropFirst(7)
                else { throw reader.error(key, "expected sha384: and 96 lower-case hex digits") }
                decoded[keyPath: path] = text
            }
            try reader.finish()
            guard decoded != PlanMeasurement() else {
                throw top.error("measurement", "expected at least one of \(PlanMeasurement.members.map(\.key).joined(separator: ", "))")
            }
            measurement = decoded
        }
        let digest = try root.string("sha256")
        try root.finish()

        self.init(
            name: name, arch: arch, platform: platform, manifestDigest: manifest, requires: requires, steps: steps,
            handlers: handlers, payload: payload, measurement: measurement)

        // Belt and braces: whatever the field readers let through must re-encode to the very same value.
        var stated = value.objectValue ?? [:]
        stated.removeValue(forKey: "sha256")
        let canonical = jsonBody
        if canonical != .object(stated) {
            throw top.error(Plan.firstDifference(canonical, .object(stated), path: "") ?? "", "not in canonical form")
        }
        guard digest == self.digest else {
            throw top.error("sha256", "digest mismatch: the plan says \(digest) but its content hashes to \(self.digest)")
        }
        if validating {
            let issues = validate()
            if !issues.isEmpty {
                let first = issues[0]
                throw PlanDecodingError(
                    "invalid plan: \(first.message)", field: first.field, stepIndex: first.stepIndex, stepID: first.stepID,
                    issues: issues)
            }
        }
    }

    /// The path of the first difference between two JSON values, for the canonical-form error.
    private static func firstDifference(_ a: JSONValue, _ b: JSONValue, path: String) -> String? {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            for key in Set(x.keys).union(y.keys).sorted() where x[key] != y[key] {
                let sub = path.isEmpty ? key : path + "." + key
                guard let xv = x[key], let yv = y[key] else { return sub }
                return firstDifference(xv, yv, path: sub) ?? sub
            }
            return nil
        case (.array(let x), .array(let y)):
            for i in 0..<min(x.count, y.count) where x[i] != y[i] {
                return firstDifference(x[i], y[i], path: path + "[\(i)]") ?? path + "[\(i)]"
            }
            return x.count == y.count ? nil : path
        default:
            return a == b ? nil : path
        }
    }
}

extension Requirements {
    static func decode(_ r: inout ObjectReader, arch: PlanArch) throws(PlanDecodingError) -> Requirements {
        let apiVersion = try r.uint64("api-version")
        var vm = try r.object("vm-type")
        let typeName = try vm.string("name")
        let typeValue = try vm.uint64("value")
        guard let type = VMType.named(typeName, arch: arch) else {
            throw vm.error("name", "'\(typeName)' is not a \(arch.rawValue) VM type")
        }
        guard type.value == typeValue else { throw vm.error("value", "\(typeName) is \(type.value), not \(typeValue)") }
        let vmSource = try vm.source()
        try vm.finish()

        var capsReader = try r.object("capabilities")
        var caps: [String: CapabilityRequirement] = [:]
        for key in capsReader.members.keys.sorted() {
            guard let cap = Capability.named(key) else { throw capsReader.error(key, "unknown capability '\(key)'") }
            var c = try capsReader.object(key)
            let expect: CapabilityExpectation =
                c.members.keys.contains("bits") ? .bits(try c.uint64("bits")) : .atLeast(try c.uint64("at-least"))
            let scope = try c.choice("scope", CapabilityScope.self)
            let source = try c.source()
            try c.finish()
            caps[key] = CapabilityRequirement(cap, expect, scope: scope, source: source)
        }
        try capsReader.finish()

        var flags: GuestMemfdFlagsRequirement?
        if var g = try r.optionalObject("guest-memfd-flags") {
            flags = GuestMemfdFlagsRequirement(try g.flags("flags", GuestMemfdFlags.self), source: try g.source())
            try g.finish()
        }
        try r.finish()
        return Requirements(
            apiVersion: apiVersion, vmType: VMTypeRequirement(type, source: vmSource), capabilities: caps,
            guestMemfdFlags: flags)
    }
}

extension Step {
    static func decode(_ value: JSONValue, index: Int, arch: PlanArch) throws(PlanDecodingError) -> Step {
        var context = DecodingContext(stepIndex: index)
        context.stepID = value["id"]?.stringValue
        var r = try ObjectReader(value, path: "", context: context)
        let id = try r.string("id")

        let op = try r.string("op")
        let command = try r.optionalString("command")
        var fd: FdRef?
        if let text = try r.optionalString("fd") {
            guard let ref = FdRef(parsing: text) else { throw r.error("fd", "'\(text)' is not an fd reference such as %vm") }
            fd = ref
        }
        var defines: FdRef?
        if let text = try r.optionalString("defines") {
            guard let ref = FdRef(parsing: text) else {
                throw r.error("defines", "'\(text)' is not an fd reference such as %gmem.ram")
            }
            defines = ref
        }

        let candidates = OperationKind.allCases.filter { $0.op == op }
        guard !candidates.isEmpty else { throw r.error("op", "unknown op '\(op)'") }
        let withCommand = candidates.filter { $0.command == command }
        guard !withCommand.isEmpty else {
            if let command { throw r.error("command", "unknown command '\(command)' for \(op)") }
            throw r.error("command", "missing: \(op) needs a command")
        }
        // `mmap` of a vCPU fd maps its kvm_run; any other `mmap` maps memory.
        let kind: OperationKind =
            withCommand.count == 1 ? withCommand[0] : (fd?.kind == .vcpu ? .mmapRun : .mmap)

        var args = try r.object("args")
        let operation = try Operation.decode(
            kind: kind, fd: fd, defines: defines, args: &args, arch: arch, context: context)
        let source = try r.source()
        let uapi = try r.choice("uapi", UAPIStatus.self)
        let comment = try r.optionalString("comment")
        try r.finish()
        return Step(id, operation, source: source, uapiStatus: uapi, comment: comment)
    }
}

extension Handler {
    static func decode(_ r: inout ObjectReader) throws(PlanDecodingError) -> Handler {
        let name = try r.string("kind")
        let kind: Kind
        switch name {
        case "serial": kind = .serial(port: try r.uint16("port"))
        case "exit-port": kind = .exitPort(port: try r.uint16("port"))
        case "mmio":
            kind = .mmio(
                region: try r.string("region"), range: GPARange(gpa: try r.uint64("gpa"), size: try r.uint64("size")),
                readonly: try r.bool("readonly"))
        case "hypercall-map-gpa-range", "memory-fault":
            guard let items = try r.value("convertible").arrayValue else {
                throw r.error("convertible", "expected an array of ranges")
            }
            var ranges: [ConvertibleRange] = []
            for (i, item) in items.enumerated() {
                var c = try ObjectReader(item, path: r.field("convertible[\(i)]"), context: r.context)
                ranges.append(ConvertibleRange(region: try c.string("region"), gpa: try c.uint64("gpa"), size: try c.uint64("size")))
                try c.finish()
            }
            let onShare = try r.choice("on-share", OnShare.self)
            let onUnshare = try r.choice("on-unshare", OnUnshare.self)
            kind =
                name == "memory-fault"
                ? .memoryFault(convertible: ranges, onShare: onShare, onUnshare: onUnshare)
                : .hypercallMapGPARange(convertible: ranges, onShare: onShare, onUnshare: onUnshare)
        case "halt": kind = .halt
        case "i8042": kind = .i8042(port: try r.uint16("port"))
        default:
            throw r.error("kind", "unknown handler '\(name)'; one of \(Kind.names.joined(separator: ", "))")
        }
        let source = try r.source()
        try r.finish()
        return Handler(kind, source: source)
    }
}

extension PayloadInfo {
    static func decode(_ r: inout ObjectReader) throws(PlanDecodingError) -> PayloadInfo {
        var info = PayloadInfo(
            path: try r.string("path"), format: try r.choice("format", Format.self), sha256: try r.string("sha256"),
            size: try r.uint64("size"), loadGPA: try r.uint64("load"), entry: try r.uint64("entry"),
            mode: try r.choice("mode", BootMode.self), measured: try r.bool("measured"), source: try r.source())
        if let value = r.optional("initrd") {
            var i = try ObjectReader(value, path: r.field("initrd"), context: r.context)
            info.initrd = Initrd(path: try i.string("path"), sha256: try i.string("sha256"), size: try i.uint64("size"))
            try i.finish()
        }
        try r.finish()
        return info
    }
}
