import Diagnostics
import Testing

@testable import Plan

struct JSONCodecTests {
    // MARK: - Round trips

    @Test(arguments: Fixtures.all.map(\.name))
    func roundTripIsByteIdentical(_ name: String) throws {
        let plan = try #require(Fixtures.all.first { $0.name == name }?.plan)
        for pretty in [true, false] {
            let text = plan.jsonString(pretty: pretty)
            let decoded = try Plan(json: text)
            #expect(decoded == plan)
            #expect(decoded.jsonString(pretty: pretty) == text)
        }
    }

    @Test(arguments: OperationSamples.all.indices)
    func everyOperationRoundTrips(_ index: Int) throws {
        let operation = OperationSamples.all[index]
        let arch: PlanArch = operation.kind.architectures.contains(.x86_64) ? .x86_64 : .arm64
        var plan = arch == .x86_64 ? Fixtures.defaultX86 : Fixtures.pkvm
        plan.steps = [Step("sample", operation, source: Fixtures.at(2, 3), comment: "a sample")]
        let decoded = try Plan(json: plan.jsonString(), validating: false)
        #expect(decoded.steps == plan.steps)
        #expect(decoded.jsonString() == plan.jsonString())
    }

    @Test("a measurement with no member is left out of the JSON, which then decodes (never a '{}' the decoder refuses)")
    func emptyMeasurementIsOmitted() throws {
        var plan = Fixtures.sevSNP
        plan.measurement = PlanMeasurement()
        #expect(plan.jsonString() == Fixtures.sevSNP.jsonString())
        #expect(try Plan(json: plan.jsonString()).measurement == nil)
    }

    @Test func sameplanSameBytesAndDigest() {
        #expect(Fixtures.sevSNP.jsonString() == Fixtures.sevSNP.jsonString())
        #expect(Fixtures.sevSNP.digest == Fixtures.sevSNP.digest)
        #expect(Fixtures.sevSNP.digest != Fixtures.tdx.digest)
        #expect(PlanFormatting.isSHA256Digest(Fixtures.sevSNP.digest))
    }

    @Test func digestCoversWhatExecutes() throws {
        let plan = Fixtures.defaultX86
        var moved = plan
        moved.handlers.swapAt(0, 1)
        #expect(moved.digest != plan.digest)
        var unlocated = plan
        unlocated.steps[7].source = nil
        #expect(unlocated.digest == plan.digest, "a source is where, not what")
        var remarked = plan
        remarked.steps[7].comment = "a remark"
        #expect(remarked.digest == plan.digest, "a comment does not execute")
        var renamed = plan
        renamed.manifestDigest = "sha256:" + String(repeating: "0", count: 64)
        #expect(renamed.digest == plan.digest, "the manifest's comments and layout do not execute")
        if var payload = plan.payload {
            payload.path = "elsewhere/" + payload.path
            var relocated = plan
            relocated.payload = payload
            #expect(relocated.digest == plan.digest, "the payload's sha256 counts, not its path")
            payload.sha256 = "sha256:" + String(repeating: "1", count: 64)
            relocated.payload = payload
            #expect(relocated.digest != plan.digest)
        }
        // The stated digest is Plan.digest(ofJSON:) of the JSON, with or without the sha256 key.
        var body = try #require(plan.jsonValue.objectValue)
        let stated = body.removeValue(forKey: "sha256")
        #expect(stated == .string(plan.digest))
        #expect(Plan.digest(ofJSON: .object(body)) == plan.digest)
        #expect(Plan.digest(ofJSON: plan.jsonValue) == plan.digest)
    }

    @Test func digestIsPinned() {
        // Any change to the encoding changes this value; update it deliberately (and the goldens with it).
        #expect(Fixtures.defaultX86.digest == Self.pinnedDefaultDigest)
    }

    static let pinnedDefaultDigest = "sha256:da05a63c2b70a1378ab33395280120ff0c2cf482c92323b791204fde8595ab73"

    @Test func topLevelKeysAndStepShape() throws {
        let json = try #require(Fixtures.sevSNP.jsonValue.objectValue)
        #expect(
            Set(json.keys) == [
                "kvmplan-plan", "name", "arch", "platform", "manifest", "requires", "steps", "handlers", "payload", "sha256",
            ])
        #expect(json["kvmplan-plan"] == .int(1))
        let steps = try #require(json["steps"]?.arrayValue)
        let update = try #require(steps.first { $0["id"] == .string("snp.launch-update.payload") })
        #expect(update["op"] == .string("KVM_MEMORY_ENCRYPT_OP"))
        #expect(update["command"] == .string("KVM_SEV_SNP_LAUNCH_UPDATE"))
        #expect(update["fd"] == .string("%vm"))
        #expect(update["source"] == .string("guest.yaml:27:13"))
        #expect(update["uapi"] == .string("merged"))
        #expect(update["args"]?["source"] == .object(["map": .string("%map.ram"), "offset": .int(0x10_0000)]))
        let slot = try #require(steps.first { $0["id"] == .string("slot.ram") })
        #expect(slot["command"] == nil)
        #expect(slot["args"]?["flags"] == .array([.string("GUEST_MEMFD")]))
        #expect(slot["args"]?["guest-memfd"] == .object(["fd": .string("%gmem.ram"), "offset": .int(0)]))
        let gmem = try #require(steps.first { $0["id"] == .string("gmem.ram") })
        #expect(gmem["defines"] == .string("%gmem.ram"))
        let requires = try #require(json["requires"])
        #expect(requires["vm-type"] == .object(["name": .string("KVM_X86_SNP_VM"), "value": .int(4), "source": .string("guest.yaml:4:11")]))
        #expect(requires["capabilities"]?["KVM_CAP_VM_TYPES"] == .object(["bits": .int(16), "scope": .string("system"), "source": .string("guest.yaml:4:11")]))
    }

    // MARK: - Rejections

    /// A mutation of a valid plan's JSON and the error it must cause.
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var stepID: String?
        var field: String?
        var message: String
        /// Re-seal the mutated JSON with a correct `sha256`, so the error is about the mutation itself.
        var reseal = true
        var mutate: @Sendable (inout JSONValue) -> Void
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "unknown op", stepID: "vm", field: "op", message: "unknown op 'KVM_CREATE_VMX'") { json in
            json.setStep("vm", "op", .string("KVM_CREATE_VMX"))
        },
        Case(name: "unknown command", stepID: "snp.init", field: "command", message: "unknown command 'KVM_SEV_BOGUS'") { json in
            json.setStep("snp.init", "command", .string("KVM_SEV_BOGUS"))
        },
        Case(name: "encrypt op without command", stepID: "snp.init", field: "command", message: "missing") { json in
            json.setStep("snp.init", "command", nil)
        },
        Case(name: "command on a plain ioctl", stepID: "vm", field: "command", message: "unknown command") { json in
            json.setStep("vm", "command", .string("KVM_SEV_INIT2"))
        },
        Case(name: "missing arg", stepID: "slot.ram", field: "args.gpa", message: "missing") { json in
            json.setArg("slot.ram", "gpa", nil)
        },
        Case(name: "extra arg", stepID: "slot.ram", field: "args.bogus", message: "unknown field") { json in
            json.setArg("slot.ram", "bogus", .int(1))
        },
        Case(name: "string for an integer", stepID: "slot.ram", field: "args.gpa", message: "unsigned integer") { json in
            json.setArg("slot.ram", "gpa", .string("0x0"))
        },
        Case(name: "negative integer", stepID: "slot.ram", field: "args.slot", message: "unsigned integer") { json in
            json.setArg("slot.ram", "slot", .int(-1))
        },
        Case(name: "slot beyond 32 bits", stepID: "slot.ram", field: "args.slot", message: "32-bit") { json in
            json.setArg("slot.ram", "slot", .int(1 << 32))
        },
        Case(name: "flag name unknown", stepID: "slot.ram", field: "args.flags", message: "BOGUS") { json in
            json.setArg("slot.ram", "flags", .array([.string("GUEST_MEMFD"), .string("BOGUS")]))
        },
        Case(name: "flags as a number", stepID: "gmem.ram", field: "args.flags", message: "array of flag names") { json in
            json.setArg("gmem.ram", "flags", .int(0))
        },
        Case(name: "KVM_RUN on the VM fd", stepID: "run.0", field: "fd", message: "wrong fd kind") { json in
            json.setStep("run.0", "fd", .string("%vm"))
        },
        Case(name: "memslot userspace of the wrong kind", stepID: "slot.ram", field: "args.userspace.map", message: "wrong fd kind") { json in
            json.setArg("slot.ram", "userspace", .object(["map": .string("%gmem.ram"), "offset": .int(0)]))
        },
        Case(name: "guest_memfd binding of the wrong kind", stepID: "slot.ram", field: "args.guest-memfd.fd", message: "wrong fd kind") { json in
            json.setArg("slot.ram", "guest-memfd", .object(["fd": .string("%map.ram"), "offset": .int(0)]))
        },
        Case(name: "load into a guest_memfd", stepID: "load.payload", field: "fd", message: "wrong fd kind") { json in
            json.setStep("load.payload", "fd", .string("%gmem.ram"))
        },
        Case(name: "malformed fd", stepID: "vm", field: "fd", message: "not an fd reference") { json in
            json.setStep("vm", "fd", .string("kvm"))
        },
        Case(name: "missing fd", stepID: "vm", field: "fd", message: "missing") { json in
            json.setStep("vm", "fd", nil)
        },
        Case(name: "fd on an op without one", stepID: "kvm", field: "fd", message: "acts on no fd") { json in
            json.setStep("kvm", "fd", .string("%vm"))
        },
        Case(name: "defines of the wrong kind", stepID: "gmem.ram", field: "defines", message: "wrong fd kind") { json in
            json.setStep("gmem.ram", "defines", .string("%map.ram"))
        },
        Case(name: "vCPU defines another index", stepID: "vcpu.0", field: "defines", message: "%vcpu.0") { json in
            json.setStep("vcpu.0", "defines", .string("%vcpu.1"))
        },
        Case(name: "defines on an op that defines nothing", stepID: "slot.ram", field: "defines", message: "defines no fd") { json in
            json.setStep("slot.ram", "defines", .string("%vm"))
        },
        Case(name: "unknown step field", stepID: "vm", field: "extra", message: "unknown field") { json in
            json.setStep("vm", "extra", .bool(true))
        },
        Case(name: "unknown capability", stepID: "cap.KVM_CAP_GUEST_MEMFD", field: "args.cap", message: "unknown capability") { json in
            json.setArg("cap.KVM_CAP_GUEST_MEMFD", "cap", .string("KVM_CAP_BOGUS"))
        },
        Case(name: "VM type value disagrees", stepID: "vm", field: "args.value", message: "is 4, not 5") { json in
            json.setArg("vm", "value", .int(5))
        },
        Case(name: "arm64 VM type in an x86 plan", stepID: "vm", field: "args.type", message: "not a x86_64 VM type") { json in
            json.setArg("vm", "type", .string("KVM_VM_TYPE_ARM_IPA_SIZE(40)"))
        },
        Case(name: "page type unknown", stepID: "snp.launch-update.payload", field: "args.page-type", message: "'vmsa'") { json in
            json.setArg("snp.launch-update.payload", "page-type", .string("vmsa"))
        },
        Case(name: "uapi status unknown", stepID: "vm", field: "uapi", message: "'maybe'") { json in
            json.setStep("vm", "uapi", .string("maybe"))
        },
        Case(name: "malformed source", stepID: "vm", field: "source", message: "file:line:column") { json in
            json.setStep("vm", "source", .string("guest.yaml:x"))
        },
        Case(name: "duplicate step id (validation)", stepID: "vm", field: "id", message: "already used") { json in
            json.setStep("sev", "id", .string("vm"))
        },
        Case(name: "unknown top-level key", field: "extra", message: "unknown field") { json in
            json.set(["extra"], .null)
        },
        Case(name: "future format version", field: "kvmplan-plan", message: "unsupported plan format 2") { json in
            json.set(["kvmplan-plan"], .int(2))
        },
        Case(name: "unknown platform", field: "platform", message: "'sev'") { json in
            json.set(["platform"], .string("sev"))
        },
        Case(name: "unknown handler", field: "handlers[0].kind", message: "unknown handler") { json in
            json.set(["handlers", "0", "kind"], .string("virtio"))
        },
        Case(name: "unknown requirement", field: "requires.capabilities.KVM_CAP_BOGUS", message: "unknown capability") { json in
            json.set(["requires", "capabilities", "KVM_CAP_BOGUS"], .object(["at-least": .int(1), "scope": .string("vm")]))
        },
        Case(name: "payload missing", field: "payload", message: "missing") { json in
            json.set(["payload"], nil)
        },
        Case(name: "measurement without a member", field: "measurement", message: "expected at least one of snp-launch-updates") { json in
            json.set(["measurement"], .object([:]))
        },
        Case(name: "measurement not sha384 hex", field: "measurement.snp-launch-digest", message: "expected sha384: and 96 lower-case hex digits") { json in
            json.set(["measurement", "snp-launch-digest"], .string("sha384:" + String(repeating: "A", count: 96)))
        },
        Case(name: "measurement unknown member", field: "measurement.mrtd", message: "unknown field") { json in
            json.set(["measurement", "mrtd"], .string("sha384:00"))
        },
        Case(name: "tampered plan", field: "sha256", message: "digest mismatch", reseal: false) { json in
            json.setArg("slot.ram", "size", .int(1 << 30))
        },
        Case(name: "no digest", field: "sha256", message: "missing", reseal: false) { json in
            json.set(["sha256"], nil)
        },
    ]

    @Test(arguments: cases)
    func rejects(_ c: Case) throws {
        var json = Fixtures.sevSNP.jsonValue
        c.mutate(&json)
        if c.reseal { json.reseal() }
        do {
            let plan = try Plan(json: json.serialized(pretty: true))
            Issue.record("decoded a mutated plan: \(plan.name)")
        } catch {
            #expect(error.stepID == c.stepID, "\(error)")
            #expect(error.field == c.field, "\(error)")
            #expect(error.message.contains(c.message), "\(error)")
            if let stepID = c.stepID {
                #expect(error.stepIndex == Fixtures.sevSNP.steps.firstIndex { $0.id == stepID })
            }
        }
    }

    @Test func notJSON() {
        #expect(throws: PlanDecodingError.self) { try Plan(json: "{\"kvmplan-plan\": 1,") }
        #expect(throws: PlanDecodingError.self) { try Plan(json: "[]") }
    }

    @Test func errorDescriptionNamesStepAndField() throws {
        var json = Fixtures.sevSNP.jsonValue
        json.setStep("run.0", "fd", .string("%vm"))
        json.reseal()
        let index = try #require(Fixtures.sevSNP.steps.firstIndex { $0.id == "run.0" })
        #expect(throws: PlanDecodingError.self) { try Plan(json: json.serialized()) }
        do {
            _ = try Plan(json: json.serialized())
        } catch {
            #expect(error.description == "step \(index) (run.0): fd: wrong fd kind: KVM_RUN needs a vCPU fd (%vcpu.N), not %vm")
        }
    }
}

// MARK: - JSON surgery for the rejection cases

extension JSONValue {
    /// Sets (or with nil removes) the member at `path`; array elements by decimal index.
    mutating func set(_ path: [String], _ value: JSONValue?) {
        guard let key = path.first else {
            if let value { self = value }
            return
        }
        switch self {
        case .object(var members):
            if path.count == 1 {
                members[key] = value
            } else {
                var child = members[key] ?? .object([:])
                child.set(Array(path.dropFirst()), value)
                members[key] = child
            }
            self = .object(members)
        case .array(var items):
            guard let index = Int(key), items.indices.contains(index) else { return }
            items[index].set(Array(path.dropFirst()), value)
            self = .array(items)
        default:
            return
        }
    }

    func stepIndex(_ id: String) -> Int? { self["steps"]?.arrayValue?.firstIndex { $0["id"] == .string(id) } }

    mutating func setStep(_ id: String, _ key: String, _ value: JSONValue?) {
        guard let index = stepIndex(id) else { return }
        set(["steps", String(index), key], value)
    }

    mutating func setArg(_ id: String, _ key: String, _ value: JSONValue?) {
        guard let index = stepIndex(id) else { return }
        set(["steps", String(index), "args", key], value)
    }

    /// Recomputes `sha256` as the encoder would.
    mutating func reseal() {
        guard case .object(var members) = self else { return }
        members.removeValue(forKey: "sha256")
        members["sha256"] = .string(Plan.digest(ofJSON: .object(members)))
        self = .object(members)
    }
}
