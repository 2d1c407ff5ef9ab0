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
    var jsonArgs: [String: JSONValue] {
        switch self {
        case .openDevice(let path):
            return ["path": .string(path.rawValue)]
        case .getAPIVersion(_, let expect):
            return ["expect": .number(expect)]
        case .checkExtension(_, let cap, let expect):
            return ["cap": .string(cap.name), "expect": .object(expect.jsonMembers)]
        case .createVM(_, let type):
            return ["type": .string(type.name), "value": .number(type.value)]
        case .enableCap(_, let cap, let args):
            return ["cap": .string(cap.name), "args": .array(args.map { .number($0) })]
        case .createGuestMemfd(_, _, let size, let flags):
            return ["size": .number(size), "flags": flags.json]
        case .memfdCreate(_, let hugetlb):
            return ["hugetlb": .string(hugetlb?.rawValue ?? "none")]
        case .ftruncate(_, let size):
            return ["size": .number(size)]
        case .fallocate(_, let mode, let offset, let size):
            return ["mode": .string(mode.rawValue), "offset": .number(offset), "size": .number(size)]
        case .mmap(_, let source, let size, let offset, let shared, let noreserve):
            return [
                "backing": .string(source.backingName), "size": .number(size), "offset": .number(offset),
                "shared": .bool(shared), "noreserve": .bool(noreserve),
            ]
        case .setUserMemoryRegion(_, let region, let slot, let flags, let gpa, let size, let userspace):
            return [
                "region": .string(region), "slot": .number(UInt64(slot)), "flags": flags.json, "gpa": .number(gpa),
                "size": .number(size), "userspace": userspace.json,
            ]
        case .setUserMemoryRegion2(_, let region, let slot, let flags, let gpa, let size, let userspace, let gmem):
            return [
                "region": .string(region), "slot": .number(UInt64(slot)), "flags": flags.json, "gpa": .number(gpa),
                "size": .number(size), "userspace": userspace?.json ?? .null,
                "guest-memfd": gmem.map { .object(["fd": .string($0.fd.description), "offset": .number($0.offset)]) }
                    ?? .null,
            ]
        case .setMemoryAttributes(_, let gpa, let size, let attributes):
            return ["gpa": .number(gpa), "size": .number(size), "attributes": attributes.json]
        case .createVCPU(_, let index):
            return ["index": .number(UInt64(index))]
        case .mmapRun, .tdxInitVCPU, .tdxCapabilities, .tdxFinalizeVM, .run:
            return [:]
        case .setCPUID2(_, let from):
            return ["from": .string(from.rawValue)]
        case .loadPayload(let into, let gpa, let size, let fileOffset, let sha256):
            return [
                "offset": .number(into.offset), "gpa": .number(gpa), "size": .number(size),
                "file-offset": .number(fileOffset), "sha256": .string(sha256),
            ]
        case .setBootState(_, let mode, let entry, let count):
            return ["mode": .string(mode.rawValue), "entry": .number(entry), "vcpus": .number(UInt64(count))]
        case .sevInit2(_, let sev, let vmsaFeatures, let ghcbVersion):
            return [
                "sev": .string(sev.description), "vmsa-features": .number(vmsaFeatures),
                "ghcb-version": .number(UInt64(ghcbVersion)),
            ]
        case .snpLaunchStart(_, let sev, let policy):
            return ["sev": .string(sev.description), "policy": .number(policy)]
        case .snpLaunchUpdate(_, let sev, let gpa, let size, let pageType, let source):
            return [
                "sev": .string(sev.description), "gpa": .number(gpa), "size": .number(size),
                "page-type": .string(pageType.rawValue), "source": source.json,
            ]
        case .snpLaunchFinish(_, let sev, let finish):
            // Launch parameters appear only when the manifest gives them, so plans without them keep their bytes.
            var args: [String: JSONValue] = ["sev": .string(sev.description)]
            if !finish.isDefault {
                args["host-data"] = .string(HexBytes.encode(finish.hostData))
                if let idBlock = finish.idBlock { args["id-block"] = .string(HexBytes.encode(idBlock)) }
                if let idAuth = finish.idAuth { args["id-auth"] = .string(HexBytes.encode(idAuth)) }
            }
            return args
        case .tdxInitVM(_, let attributes, let xfam, let gpaw, let measurements):
            var args: [String: JSONValue] = ["attributes": .number(attributes), "xfam": .number(xfam), "gpaw": .number(UInt64(gpaw))]
            if !measurements.isDefault {
                for (name, bytes) in measurements.named { args[name] = .string(HexBytes.encode(bytes)) }
            }
            return args
        case .tdxInitMemRegion(_, let gpa, let nrPages, let source, let measure):
            return ["gpa": .number(gpa), "nr-pages": .number(nrPages), "source": source.json, "measure": .bool(measure)]
        case .armVCPUInit(_, let features):
            return ["features": features.json]
        case .armRMIPopulate(_, let base, let size, let source, let measure):
            return ["base": .number(base), "size": .number(size), "source": source.json, "measure": .bool(measure)]
        case .setTSSAddr(_, let address), .setIdentityMapAddr(_, let address):
            return ["address": .number(address)]
        case .createIRQChip:
            return [:]
        case .linuxMPTable(let into, let gpa, let cpus):
            return ["offset": .number(into.offset), "gpa": .number(gpa), "cpus": .number(UInt64(cpus))]
        case .createPIT2(_, let flags):
            return ["flags": flags.json]
        case .loadInitrd(let into, let gpa, let size, let sha256):
            return ["offset": .number(into.offset), "gpa": .number(gpa), "size": .number(size), "sha256": .string(sha256)]
        case .linuxBootParams(let into, let zeroPage, let cmdlineGPA, let cmdline, let initrd, let e820):
            return [
                "offset": .number(into.offset), "zero-page": .number(zeroPage), "cmdline-gpa": .number(cmdlineGPA),
                "cmdline": .string(cmdline),
                "initrd": initrd.map { .object(["gpa": .number($0.gpa), "size": .number($0.size)]) } ?? .null,
                "e820": .array(
                    e820.map { .object(["address": .number($0.address), "size": .number($0.size), "type": .string($0.kind.rawValue)]) }),
            ]
        }
    }
}

// MARK: - Decoding

extension Operation {
    /// Decodes the operation of kind `kind` from the step's `fd`, `defines` and `args`. Accepts only what
    /// `jsonArgs` produces: every arg present, of its type, nothing else; fds of the kinds the operation accepts.
    static func decode(
        kind: OperationKind, fd: FdRef?, defines: FdRef?, args: inout ObjectReader, arch: PlanArch,
        context: DecodingContext
    ) throws(PlanDecodingError) -> Operation {
        // The fd the step acts on: present exactly when the operation acts on one, and of an allowed kind.
        func on() throws(PlanDecodingError) -> FdRef {
            guard let fd else { throw context.error("fd", "missing: \(kind.op) acts on \(kindList(kind.allowedKinds))") }
            return fd
        }
        // The name the step defines, from `defines`.
        func definedName(_ expected: FdKind) throws(PlanDecodingError) -> String {
            guard let defines else { throw context.error("defines", "missing: the step defines a \(expected)") }
            guard defines.kind == expected else {
                throw context.error("defines", "wrong fd kind: expected \(expected), not \(defines)")
            }
            return defines.name
        }

        let operation: Operation
        switch kind {
        case .openDevice:
            operation = .openDevice(try args.choice("path", DevicePath.self))
        case .getAPIVersion:
            operation = .getAPIVersion(on: try on(), expect: try args.uint64("expect"))
        case .checkExtension:
            let cap = try capability(&args, "cap")
            var expect = try args.object("expect")
            let expectation: CapabilityExpectation
            if expect.members.keys.contains("bits") {
                expectation = .bits(try expect.uint64("bits"))
            } else {
                expectation = .atLeast(try expect.uint64("at-least"))
            }
            try expect.finish()
            operation = .checkExtension(on: try on(), cap: cap, expect: expectation)
        case .createVM:
            let name = try args.string("type")
            let value = try args.uint64("value")
            guard let type = VMType.named(name, arch: arch) else {
                throw args.error("type", "'\(name)' is not a \(arch.rawValue) VM type")
            }
            guard type.value == value else {
                throw args.error("value", "\(name) is \(type.value), not \(value)")
            }
            operation = .createVM(on: try on(), type: type)
        case .enableCap:
            let cap = try capability(&args, "cap")
            guard let items = try args.value("args").arrayValue, items.count == 4 else {
                throw args.error("args", "expected an array of 4 unsigned integers")
            }
            var values: [UInt64] = []
            for item in items {
                guard let v = item.uint64Value else { throw args.error("args", "expected an array of 4 unsigned integers") }
                values.append(v)
            }
            operation = .enableCap(on: try on(), cap: cap, args: values)
        case .createGuestMemfd:
            operation = .createGuestMemfd(
                on: try on(), name: try definedName(.guestMemfd), size: try args.uint64("size"),
                flags: try args.flags("flags", GuestMemfdFlags.self))
        case .memfdCreate:
            let text = try args.string("hugetlb")
            let hugetlb: HugePageSize?
            if text == "none" {
                hugetlb = nil
            } else if let size = HugePageSize(rawValue: text) {
                hugetlb = size
            } else {
                throw args.error("hugetlb", "'\(text)' is not one of 'none', '2M', '1G'")
            }
            operation = .memfdCreate(name: try definedName(.memfd), hugetlb: hugetlb)
        case .ftruncate:
            operation = .ftruncate(fd: try on(), size: try args.uint64("size"))
        case .fallocate:
            operation = .fallocate(
                fd: try on(), mode: try args.choice("mode", FallocateMode.self), offset: try args.uint64("offset"),
                size: try args.uint64("size"))
        case .mmap:
            let backing = try args.string("backing")
            let source: MappingSource
            switch backing {
            case "anonymous": source = .anonymous
            case "anonymous-hugetlb-2M": source = .hugetlbAnonymous(.size2M)
            case "anonymous-hugetlb-1G": source = .hugetlbAnonymous(.size1G)
            case "memfd": source = .memfd(try on())
            case "guest-memfd": source = .guestMemfd(try on())
            default:
                let allowed = MappingSource.backingNames.map { "'\($0)'" }.joined(separator: ", ")
                throw args.error("backing", "'\(backing)' is not one of \(allowed)")
            }
            operation = .mmap(
                name: try definedName(.mapping), source: source, size: try args.uint64("size"),
                offset: try args.uint64("offset"), shared: try args.bool("shared"), noreserve: try args.bool("noreserve"))
        case .setUserMemoryRegion:
            operation = .setUserMemoryRegion(
                on: try on(), region: try args.string("region"), slot: try args.uint32("slot"),
                flags: try args.flags("flags", MemoryRegionFlags.self), gpa: try args.uint64("gpa"),
                size: try args.uint64("size"), userspace: try args.address("userspace"))
        case .setUserMemoryRegion2:
            let region = try args.string("region")
            let slot = try args.uint32("slot")
            let flags = try args.flags("flags", MemoryRegionFlags.self)
            let gpa = try args.uint64("gpa")
            let size = try args.uint64("size")
            let userspace = try args.optionalAddress("userspace")
            var binding: GuestMemfdBinding?
            if var gmem = try args.optionalObject("guest-memfd") {
                binding = GuestMemfdBinding(try gmem.fd("fd", kinds: [.guestMemfd]), offset: try gmem.uint64("offset"))
                try gmem.finish()
            }
            operation = .setUserMemoryRegion2(
                on: try on(), region: region, slot: slot, flags: flags, gpa: gpa, size: size, userspace: userspace,
                guestMemfd: binding)
        case .setMemoryAttributes:
            operation = .setMemoryAttributes(
                on: try on(), gpa: try args.uint64("gpa"), size: try args.uint64("size"),
                attributes: try args.flags("attributes", MemoryAttributes.self))
        case .createVCPU:
            let index = try args.uint32("index")
            let name = try definedName(.vcpu)
            guard name == String(index) else { throw context.error("defines", "must be %vcpu.\(index), not %vcpu.\(name)") }
            operation = .createVCPU(on: try on(), index: index)
        case .mmapRun:
            let vcpu = try on()
            let name = try definedName(.runMapping)
            guard name == vcpu.name else { throw context.error("defines", "must be %run.\(vcpu.name), not %run.\(name)") }
            operation = .mmapRun(vcpu: vcpu)
        case .setCPUID2:
            operation = .setCPUID2(vcpu: try on(), from: try args.choice("from", CPUIDSource.self))
        case .loadPayload:
            let map = try on()
            operation = .loadPayload(
                into: Address(map, offset: try args.uint64("offset")), gpa: try args.uint64("gpa"),
                size: try args.uint64("size"), fileOffset: try args.uint64("file-offset"), sha256: try args.string("sha256"))
        case .setBootState:
            operation = .setBootState(
                vcpu: try on(), mode: try args.choice("mode", BootMode.self), entry: try args.uint64("entry"),
                vcpuCount: try args.uint32("vcpus"))
        case .sevInit2:
            operation = .sevInit2(
                on: try on(), sev: try args.fd("sev", kinds: [.sev]), vmsaFeatures: try args.uint64("vmsa-features"),
                ghcbVersion: try args.uint16("ghcb-version"))
        case .snpLaunchStart:
            operation = .snpLaunchStart(on: try on(), sev: try args.fd("sev", kinds: [.sev]), policy: try args.uint64("policy"))
        case .snpLaunchUpdate:
            operation = .snpLaunchUpdate(
                on: try on(), sev: try args.fd("sev", kinds: [.sev]), gpa: try args.uint64("gpa"),
                size: try args.uint64("size"), pageType: try args.choice("page-type", SNPPageType.self),
                source: try args.address("source"))
        case .snpLaunchFinish:
            let sev = try args.fd("sev", kinds: [.sev])
            var finish = SNPLaunchFinish()
            if let hostData = try args.optionalString("host-data") {
                finish.hostData = try hexBytes(&args, "host-data", hostData, count: SNPLaunchFinish.hostDataSize)
                if let idBlock = try args.optionalString("id-block") {
                    finish.idBlock = try hexBytes(&args, "id-block", idBlock, count: SNPLaunchFinish.idBlockSize)
                }
                if let idAuth = try args.optionalString("id-auth") {
                    finish.idAuth = try hexBytes(&args, "id-auth", idAuth, count: SNPLaunchFinish.idAuthSize)
                }
                if (finish.idBlock == nil) != (finish.idAuth == nil) { throw args.error("id-auth", "id-block and id-auth come together") }
                if finish.isDefault { throw args.error("host-data", "default launch parameters are omitted, not written") }
            }
            operation = .snpLaunchFinish(on: try on(), sev: sev, finish: finish)
        case .tdxCapabilities:
            operation = .tdxCapabilities(on: try on())
        case .tdxInitVM:
            let attributes = try args.uint64("attributes")
            let xfam = try args.uint64("xfam")
            let gpaw = try args.uint8("gpaw")
            var measurements = TDXMeasurementRegisters()
            if let text = try args.optionalString("mrconfigid") {
                measurements.mrconfigid = try hexBytes(&args, "mrconfigid", text, count: TDXMeasurementRegisters.size)
                measurements.mrowner = try hexBytes(&args, "mrowner", try args.string("mrowner"), count: TDXMeasurementRegisters.size)
                measurements.mrownerconfig = try hexBytes(
                    &args, "mrownerconfig", try args.string("mrownerconfig"), count: TDXMeasurementRegisters.size)
                if measurements.isDefault { throw args.error("mrconfigid", "default measurement registers are omitted, not written") }
            }
            operation = .tdxInitVM(on: try on(), attributes: attributes, xfam: xfam, gpaw: gpaw, measurements: measurements)
        case .tdxInitVCPU:
            operation = .tdxInitVCPU(vcpu: try on())
        case .tdxInitMemRegion:
            operation = .tdxInitMemRegion(
                vcpu: try on(), gpa: try args.uint64("gpa"), nrPages: try args.uint64("nr-pages"),
                source: try args.address("source"), measure: try args.bool("measure"))
        case .tdxFinalizeVM:
            operation = .tdxFinalizeVM(on: try on())
        case .armVCPUInit:
            operation = .armVCPUInit(vcpu: try on(), features: try args.flags("features", ArmVCPUFeatures.self))
        case .armRMIPopulate:
            operation = .armRMIPopulate(
                on: try on(), base: try args.uint64("base"), size: try args.uint64("size"),
                source: try args.address("source"), measure: try args.bool("measure"))
        case .setTSSAddr:
            operation = .setTSSAddr(on: try on(), address: try args.uint64("address"))
        case .setIdentityMapAddr:
            operation = .setIdentityMapAddr(on: try on(), address: try args.uint64("address"))
        case .createIRQChip:
            operation = .createIRQChip(on: try on())
        case .linuxMPTable:
            let map = try on()
            operation = .linuxMPTable(
                into: Address(map, offset: try args.uint64("offset")), gpa: try args.uint64("gpa"), cpus: try args.uint32("cpus"))
        case .createPIT2:
            operation = .createPIT2(on: try on(), flags: try args.flags("flags", PITFlags.self))
        case .loadInitrd:
            let map = try on()
            operation = .loadInitrd(
                into: Address(map, offset: try args.uint64("offset")), gpa: try args.uint64("gpa"), size: try args.uint64("size"),
                sha256: try args.string("sha256"))
        case .linuxBootParams:
            let map = try on()
            let offset = try args.uint64("offset")
            let zeroPage = try args.uint64("zero-page")
            let cmdlineGPA = try args.uint64("cmdline-gpa")
            let cmdline = try args.string("cmdline")
            var initrd: GPARange?
            if var r = try args.optionalObject("initrd") {
                initrd = GPARange(gpa: try r.uint64("gpa"), size: try r.uint64("size"))
                try r.finish()
            }
            guard let items = try args.value("e820").arrayValue else { throw args.error("e820", "expected an array") }
            var e820: [E820Entry] = []
            for (n, item) in items.enumerated() {
                var r = try ObjectReader(item, path: args.field("e820[\(n)]"), context: context)
                e820.append(
                    E820Entry(address: try r.uint64("address"), size: try r.uint64("size"), kind: try r.choice("type", E820Entry.Kind.self)))
                try r.finish()
            }
            operation = .linuxBootParams(
                into: Address(map, offset: offset), zeroPage: zeroPage, cmdlineGPA: cmdlineGPA, cmdline: cmdline, initrd: initrd,
                e820: e820)
        case .run:
            operation = .run(vcpu: try on())
        }
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

    /// `count` bytes from lower-case hex (the spelling `jsonArgs` writes).
    private static func hexBytes(_ args: inout ObjectReader, _ key: String, _ text: String, count: Int) throws(PlanDecodingError)
        -> [UInt8]
    {
        guard let bytes = HexBytes.decode(text), bytes.count == count, HexBytes.encode(bytes) == text else {
            throw args.error(key, "expected \(count) bytes as \(count * 2) lower-case hex digits")
        }
        return bytes
    }

    private static func capability(_ args: inout ObjectReader, _ key: String) throws(PlanDecodingError) -> Capability {
        let name = try args.string(key)
        guard let cap = Capability.named(name) else { throw args.error(key, "unknown capability '\(name)'") }
        return cap
    }
}

func kindList(_ kinds: Set<FdKind>) -> String {
    kinds.sorted { $0.rawValue < $1.rawValue }.map(\.description).joined(separator: " or ")
}
