import Diagnostics

/// The `parse` stage: manifest bytes → `Manifest`, with every problem as a located diagnostic.
/// Returns a manifest whenever the document is a mapping, so later stages can report more problems
/// in the same run; keys that could not be read are listed in `Manifest.damaged`.
public enum ManifestParser {
    public static let topLevelKeys = Manifest.TopLevelKey.allCases.map(\.rawValue)
    public static let sevSnpKeys = ["policy", "host-data", "id-block", "id-auth"]
    public static let tdxKeys = ["attributes", "xfam", "mrconfigid", "mrowner", "mrownerconfig"]
    public static let regionKeys = ["name", "base", "size", "access", "initial", "backing", "guest-memfd", "readonly", "dirty-log"]
    public static let guestMemfdKeys = ["mmap", "init-shared"]
    public static let sharingKeys = ["access-type", "shared-bit", "conversion", "convertible", "on-share", "on-unshare"]
    public static let payloadKeys = ["format", "path", "load", "entry", "mode", "measured", "initrd", "cmdline"]

    public static func parse(bytes: [UInt8], file: String) -> (Manifest?, Diagnostics) {
        let (tree, yamlDiagnostics) = ManifestSource.parse(bytes: bytes, file: file)
        var decoder = ManifestDecoder(file: file)
        decoder.diagnostics.append(contentsOf: yamlDiagnostics)
        guard let tree else { return (nil, limited(decoder.diagnostics)) }
        let manifest = decoder.decode(tree, bytes: bytes)
        return (manifest, limited(decoder.diagnostics))
    }

    /// At most `Diagnostics.limitPerID` diagnostics of each id, then one `format.more-diagnostics` note.
    public static func limited(_ diagnostics: Diagnostics) -> Diagnostics {
        diagnostics.limited { id, count, first in
            ManifestMessages.moreOfTheSame(count, id: id, limit: Diagnostics.limitPerID, at: first.location)
        }
    }
}

// MARK: - Decoder

/// The fields of one YAML mapping, after unknown keys were reported.
struct Fields {
    let node: YAMLNode
    let pairs: [String: YAMLNode.Pair]
    let context: String

    subscript(key: String) -> YAMLNode.Pair? { pairs[key] }
}

struct ManifestDecoder {
    let file: String
    var diagnostics = Diagnostics()
    /// Unknown keys reported so far: beyond `Diagnostics.limitPerID` only a bare diagnostic is made (no
    /// suggestion), since the pipeline leaves those out and counts them.
    private var unknownKeys = 0

    init(file: String) { self.file = file }

    // MARK: Generic helpers

    mutating func fields(_ node: YAMLNode, _ key: String, allowed: [String], context: String) -> Fields? {
        guard case .mapping(let list) = node.kind else {
            diagnostics.append(ManifestMessages.type(key, expected: "a mapping", found: node.kindName, at: node.location, path: node.path))
            return nil
        }
        var pairs: [String: YAMLNode.Pair] = [:]
        pairs.reserveCapacity(list.count)
        for pair in list {
            if !allowed.contains(pair.key) {
                unknownKeys += 1
                diagnostics.append(
                    unknownKeys <= Diagnostics.limitPerID
                        ? ManifestMessages.unknownKey(pair.key, allowed: allowed, at: pair.keyLocation, path: node.path)
                        : ManifestMessages.unknownKeyBeyondLimit(at: pair.keyLocation))
                continue
            }
            pairs[pair.key] = pair
        }
        return Fields(node: node, pairs: pairs, context: context)
    }

    mutating func missing(_ key: String, in f: Fields) {
        diagnostics.append(ManifestMessages.missingKey(key, in: f.context, at: f.node.location, path: f.node.path))
    }

    mutating func scalar(_ pair: YAMLNode.Pair) -> (String, Bool)? {
        guard case .scalar(let text, let plain) = pair.value.kind else {
            diagnostics.append(
                ManifestMessages.type(
                    pair.key, expected: "a scalar", found: pair.value.kindName, at: pair.value.location,
                    path: pair.value.path))
            return nil
        }
        return (text, plain)
    }

    func located<T>(_ value: T, _ pair: YAMLNode.Pair) -> Located<T> {
        Located(value, at: pair.value.location, key: pair.keyLocation, path: pair.value.path)
    }

    func fallback<T>(_ value: T, _ f: Fields, _ key: String) -> Located<T> {
        Located(value, at: f.node.location, path: f.node.path.appending(key), explicit: false)
    }

    mutating func string(_ f: Fields, _ key: String, required: Bool = false) -> Located<String>? {
        guard let pair = f[key] else {
            if required { missing(key, in: f) }
            return nil
        }
        guard let (text, _) = scalar(pair) else { return nil }
        return located(text, pair)
    }

    mutating func name(_ f: Fields, _ key: String) -> Located<String>? {
        guard let s = string(f, key, required: true) else { return nil }
        guard Self.isValidName(s.value) else {
            diagnostics.append(ManifestMessages.name(key, s.value, at: s.location, path: s.path))
            return nil
        }
        return s
    }

    static func isValidName(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard !u.isEmpty, u.count <= 63 else { return false }
        func ok(_ c: UInt8, first: Bool) -> Bool {
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                || (!first && c == UInt8(ascii: "-"))
        }
        return ok(u[0], first: true) && u.dropFirst().allSatisfy { ok($0, first: false) }
    }

    mutating func integer(_ f: Fields, _ key: String, required: Bool = false) -> Located<UInt64>? {
        guard let pair = f[key] else {
            if required { missing(key, in: f) }
            return nil
        }
        return integer(pair)
    }

    mutating func integer(_ pair: YAMLNode.Pair) -> Located<UInt64>? {
        guard let (text, plain) = scalar(pair) else { return nil }
        if plain, text == "~" || text == "null" || text.isEmpty {
            diagnostics.append(
                ManifestMessages.type(pair.key, expected: "an integer", found: "null", at: pair.value.location, path: pair.value.path))
            return nil
        }
        switch ManifestInteger.parse(text) {
        case .success(let v): return located(v, pair)
        case .failure(let failure):
            diagnostics.append(ManifestMessages.integer(pair.key, text, failure, at: pair.value.location, path: pair.value.path))
            return nil
        }
    }

    mutating func smallInteger(_ f: Fields, _ key: String, in range: ClosedRange<UInt64>, what: String) -> Located<Int>? {
        guard let v = integer(f, key) else { return nil }
        guard range.contains(v.value) else {
            diagnostics.append(
                ManifestMessages.range(
                    "'\(key)' is \(v.value); \(what) must be in \(range.lowerBound)...\(range.upperBound)", at: v.location,
                    path: v.path))
            return nil
        }
        return v.map { Int($0) }
    }

    mutating func bool(_ f: Fields, _ key: String) -> Located<Bool>? {
        guard let pair = f[key] else { return nil }
        guard let (text, plain) = scalar(pair) else { return nil }
        guard plain, text == "true" || text == "false" else {
            diagnostics.append(
                ManifestMessages.type(
                    key, expected: "true or false", found: plain ? "'\(ManifestMessages.clip(text))'" : "a quoted string",
                    at: pair.value.location, path: pair.value.path))
            return nil
        }
        return located(text == "true", pair)
    }

    mutating func word<E: RawRepresentable & CaseIterable>(_ f: Fields, _ key: String, _ type: E.Type, required: Bool = false)
        -> Located<E>? where E.RawValue == String
    {
        guard let pair = f[key] else {
            if required { missing(key, in: f) }
            return nil
        }
        return word(pair, type)
    }

    mutating func word<E: RawRepresentable & CaseIterable>(_ pair: YAMLNode.Pair, _ type: E.Type) -> Located<E>?
    where E.RawValue == String {
        guard let (text, _) = scalar(pair) else { return nil }
        guard let v = E(rawValue: text) else {
            diagnostics.append(
                ManifestMessages.value(
                    pair.key, text, allowed: E.allCases.map(\.rawValue), at: pair.value.location,
                    path: pair.value.path))
            return nil
        }
        return located(v, pair)
    }

    mutating func list(_ pair: YAMLNode.Pair) -> [YAMLNode]? {
        guard case .sequence(let items) = pair.value.kind else {
            diagnostics.append(
                ManifestMessages.type(pair.key, expected: "a list", found: pair.value.kindName, at: pair.value.location, path: pair.value.path))
            return nil
        }
        return items
    }

    /// A list item as a key/value pair, so item helpers can reuse the scalar helpers.
    func itemPair(_ key: String, _ item: YAMLNode) -> YAMLNode.Pair {
        YAMLNode.Pair(key: key, keyLocation: item.location, value: item)
    }

    // MARK: The manifest

    mutating func decode(_ root: YAMLNode, bytes: [UInt8]) -> Manifest? {
        guard let top = fields(root, "manifest", allowed: ManifestParser.topLevelKeys, context: "the manifest") else {
            return nil
        }
        var damaged: Set<Manifest.TopLevelKey> = []

        // kvmplan: 1
        var version = fallback(1, top, "kvmplan")
        if let pair = top["kvmplan"] {
            if let (text, plain) = scalar(pair), plain, text == "1" {
                version = located(1, pair)
            } else if case .scalar(let text, _) = pair.value.kind {
                diagnostics.append(ManifestMessages.version(text, at: pair.value.location, path: pair.value.path))
                damaged.insert(.kvmplan)
            } else {
                damaged.insert(.kvmplan)
            }
        } else {
            missing("kvmplan", in: top)
            damaged.insert(.kvmplan)
        }

        var name = fallback("", top, "name")
        if let v = self.name(top, "name") { name = v } else { damaged.insert(.name) }
        var arch = fallback(Architecture.x86_64, top, "arch")
        if let v = word(top, "arch", Architecture.self, required: true) { arch = v } else { damaged.insert(.arch) }
        var platform = fallback(Platform.default, top, "platform")
        if let v = word(top, "platform", Platform.self, required: true) { platform = v } else { damaged.insert(.platform) }
        var vcpus = fallback(1, top, "vcpus")
        if top["vcpus"] != nil {
            if let v = smallInteger(top, "vcpus", in: 1...4096, what: "the number of vCPUs") { vcpus = v } else { damaged.insert(.vcpus) }
        }
        var gpaBits: Located<Int>? = nil
        if top["gpa-bits"] != nil {
            gpaBits = smallInteger(top, "gpa-bits", in: 32...64, what: "the guest physical address width")
            if gpaBits == nil { damaged.insert(.gpaBits) }
        }

        var memory = Manifest.Memory(location: root.location, regionsLocation: root.location, regions: [])
        if let pair = top["memory"] {
            if let mem = fields(pair.value, "memory", allowed: ["regions"], context: "'memory'") {
                memory.location = pair.value.location
                memory.regionsLocation = pair.value.location
                if let regionsPair = mem["regions"] {
                    memory.regionsLocation = regionsPair.value.location
                    if let items = list(regionsPair) {
                        if items.isEmpty {
                            diagnostics.append(
                                ManifestMessages.range(
                                    "'regions' is empty; a guest needs at least one memory region",
                                    at: regionsPair.value.location, path: regionsPair.value.path))
                            damaged.insert(.memory)
                        }
                        for (index, item) in items.enumerated() {
                            if let region = decodeRegion(item, index: index, platform: platform.value) {
                                memory.regions.append(region)
                            } else {
                                damaged.insert(.memory)
                            }
                        }
                    } else {
                        damaged.insert(.memory)
                    }
                } else {
                    missing("regions", in: mem)
                    damaged.insert(.memory)
                }
            } else {
                damaged.insert(.memory)
            }
        } else {
            missing("memory", in: top)
            damaged.insert(.memory)
        }

        var sharing: Manifest.Sharing? = nil
        if let pair = top["sharing"] {
            sharing = decodeSharing(pair)
            if sharing == nil { damaged.insert(.sharing) }
        }
        var payload: Manifest.Payload? = nil
        if let pair = top["payload"] {
            payload = decodePayload(pair)
            if payload == nil { damaged.insert(.payload) }
        }

        var manifest = Manifest(
            file: file, bytes: bytes, root: root.location, formatVersion: version, name: name, arch: arch,
            platform: platform, vcpus: vcpus, gpaBits: gpaBits, memory: memory, sharing: sharing, payload: payload)
        if let pair = top["sev-snp"] {
            manifest.sevSnp = decodeSEVSNP(pair)
            if manifest.sevSnp == nil { damaged.insert(.sevSnp) }
        }
        if let pair = top["tdx"] {
            manifest.tdx = decodeTDX(pair)
            if manifest.tdx == nil { damaged.insert(.tdx) }
        }
        manifest.damaged = damaged
        return manifest
    }

    mutating func decodeRegion(_ node: YAMLNode, index: Int, platform: Platform) -> Manifest.Region? {
        guard let f = fields(node, "regions[\(index)]", allowed: ManifestParser.regionKeys, context: "region \(index)") else {
            return nil
        }
        let name = self.name(f, "name")
        let base = integer(f, "base", required: true)
        let size = integer(f, "size", required: true)
        let accessWritten = f["access"] != nil
        let access = word(f, "access", Access.self)
        let initial = word(f, "initial", InitialState.self)
        let backing = word(f, "backing", Backing.self)
        var gmem: Manifest.GuestMemfdOptions? = nil
        var ok = true
        if let pair = f["guest-memfd"] {
            if let g = fields(pair.value, "guest-memfd", allowed: ManifestParser.guestMemfdKeys, context: "'guest-memfd'") {
                let mmap = bool(g, "mmap")
                let initShared = bool(g, "init-shared")
                if (g["mmap"] != nil && mmap == nil) || (g["init-shared"] != nil && initShared == nil) { ok = false }
                gmem = Manifest.GuestMemfdOptions(
                    location: pair.value.location, mmap: mmap ?? fallback(false, g, "mmap"),
                    initShared: initShared ?? fallback(false, g, "init-shared"))
            } else {
                ok = false
            }
        }
        let readonly = bool(f, "readonly")
        let dirtyLog = bool(f, "dirty-log")
        if f["readonly"] != nil && readonly == nil { ok = false }
        if f["dirty-log"] != nil && dirtyLog == nil { ok = false }
        if accessWritten && access == nil { ok = false }
        if f["initial"] != nil && initial == nil { ok = false }
        if f["backing"] != nil && backing == nil { ok = false }
        guard ok, let name, let base, let size else { return nil }
        let resolvedAccess = access ?? fallback(.shared, f, "access")
        let defaultBacking: Backing =
            resolvedAccess.value == .shared || platform == .pkvm ? .anonymous : .guestMemfd
        return Manifest.Region(
            index: index, location: node.location, path: node.path, name: name, base: base, size: size,
            access: resolvedAccess, initial: initial ?? fallback(.private, f, "initial"),
            backing: backing ?? fallback(defaultBacking, f, "backing"), guestMemfd: gmem,
            readonly: readonly ?? fallback(false, f, "readonly"), dirtyLog: dirtyLog ?? fallback(false, f, "dirty-log"))
    }

    mutating func decodeSharing(_ pair: YAMLNode.Pair) -> Manifest.Sharing? {
        guard let f = fields(pair.value, "sharing", allowed: ManifestParser.sharingKeys, context: "'sharing'") else { return nil }
        var ok = true
        let accessType = word(f, "access-type", AccessType.self)
        if f["access-type"] != nil && accessType == nil { ok = false }
        var sharedBit: Located<Int>? = nil
        if f["shared-bit"] != nil {
            sharedBit = smallInteger(f, "shared-bit", in: 0...63, what: "a bit of a 64-bit address")
            if sharedBit == nil { ok = false }
        }
        var conversion: Located<[Located<ConversionExit>]>? = nil
        if let c = f["conversion"] {
            if let items = list(c) {
                var exits: [Located<ConversionExit>] = []
                for item in items {
                    if let v = word(itemPair("conversion", item), ConversionExit.self) { exits.append(v) } else { ok = false }
                }
                conversion = located(exits, c)
            } else {
                ok = false
            }
        }
        var convertible: Located<[Located<String>]>? = nil
        if let c = f["convertible"] {
            if let items = list(c) {
                var names: [Located<String>] = []
                for item in items {
                    let p = itemPair("convertible", item)
                    if let (text, _) = scalar(p) { names.append(located(text, p)) } else { ok = false }
                }
                convertible = located(names, c)
            } else {
                ok = false
            }
        }
        let onShare = word(f, "on-share", OnShare.self)
        let onUnshare = word(f, "on-unshare", OnUnshare.self)
        if (f["on-share"] != nil && onShare == nil) || (f["on-unshare"] != nil && onUnshare == nil) { ok = false }
        guard ok else { return nil }
        return Manifest.Sharing(
            location: pair.value.location, accessType: accessType, sharedBit: sharedBit, conversion: conversion,
            convertible: convertible, onShare: onShare ?? fallback(.punchHole, f, "on-share"),
            onUnshare: onUnshare ?? fallback(.discard, f, "on-unshare"))
    }

    mutating func decodePayload(_ pair: YAMLNode.Pair) -> Manifest.Payload? {
        guard let f = fields(pair.value, "payload", allowed: ManifestParser.payloadKeys, context: "'payload'") else { return nil }
        var ok = true
        let format = word(f, "format", PayloadFormat.self)
        if f["format"] != nil && format == nil { ok = false }
        let path = string(f, "path", required: true)
        if let path, path.value.isEmpty {
            diagnostics.append(ManifestMessages.range("'path' is empty", at: path.location, path: path.path))
            ok = false
        } else if let path, TerminalText.containsControl(path.value) {
            // A NUL would cut the path short where the kernel reads it, while the plan shows all of it.
            diagnostics.append(ManifestMessages.controlCharacter("path", path.value, at: path.location, path: path.path))
            ok = false
        }
        var load: Located<Manifest.LoadAddress>? = nil
        if let l = f["load"] {
            if let (text, _) = scalar(l) {
                if let address = parseLoad(text, l) { load = located(address, l) } else { ok = false }
            } else {
                ok = false
            }
        }
        let entry = integer(f, "entry")
        if f["entry"] != nil && entry == nil { ok = false }
        let mode = word(f, "mode", BootMode.self)
        if f["mode"] != nil && mode == nil { ok = false }
        let measured = bool(f, "measured")
        if f["measured"] != nil && measured == nil { ok = false }
        let initrd = string(f, "initrd")
        if f["initrd"] != nil && initrd == nil { ok = false }
        if let initrd, initrd.value.isEmpty {
            diagnostics.append(ManifestMessages.range("'initrd' is empty", at: initrd.location, path: initrd.path))
            ok = false
        } else if let initrd, TerminalText.containsControl(initrd.value) {
            diagnostics.append(ManifestMessages.controlCharacter("initrd", initrd.value, at: initrd.location, path: initrd.path))
            ok = false
        }
        let cmdline = string(f, "cmdline")
        if f["cmdline"] != nil && cmdline == nil { ok = false }
        guard ok, let path else { return nil }
        return Manifest.Payload(
            location: pair.value.location, format: format ?? fallback(.flat, f, "format"), path: path, load: load,
            entry: entry, mode: mode ?? fallback(.long, f, "mode"), measured: measured, initrd: initrd, cmdline: cmdline)
    }

    /// A string key that must be a non-empty scalar (hex strings and file paths; their content is the rules').
    mutating func nonEmptyString(_ f: Fields, _ key: String, ok: inout Bool) -> Located<String>? {
        guard f[key] != nil else { return nil }
        guard let s = string(f, key) else {
            ok = false
            return nil
        }
        if s.value.isEmpty {
            diagnostics.append(ManifestMessages.range("'\(key)' is empty", at: s.location, path: s.path))
            ok = false
            return nil
        }
        return s
    }

    mutating func decodeSEVSNP(_ pair: YAMLNode.Pair) -> Manifest.SEVSNPOptions? {
        guard let f = fields(pair.value, "sev-snp", allowed: ManifestParser.sevSnpKeys, context: "'sev-snp'") else { return nil }
        var ok = true
        let policy = integer(f, "policy")
        if f["policy"] != nil && policy == nil { ok = false }
        let hostData = nonEmptyString(f, "host-data", ok: &ok)
        let idBlock = nonEmptyString(f, "id-block", ok: &ok)
        let idAuth = nonEmptyString(f, "id-auth", ok: &ok)
        guard ok else { return nil }
        return Manifest.SEVSNPOptions(
            location: pair.value.location, keyLocation: pair.keyLocation, policy: policy, hostData: hostData, idBlock: idBlock,
            idAuth: idAuth)
    }

    mutating func decodeTDX(_ pair: YAMLNode.Pair) -> Manifest.TDXOptions? {
        guard let f = fields(pair.value, "tdx", allowed: ManifestParser.tdxKeys, context: "'tdx'") else { return nil }
        var ok = true
        let attributes = integer(f, "attributes")
        if f["attributes"] != nil && attributes == nil { ok = false }
        let xfam = integer(f, "xfam")
        if f["xfam"] != nil && xfam == nil { ok = false }
        let mrconfigid = nonEmptyString(f, "mrconfigid", ok: &ok)
        let mrowner = nonEmptyString(f, "mrowner", ok: &ok)
        let mrownerconfig = nonEmptyString(f, "mrownerconfig", ok: &ok)
        guard ok else { return nil }
        return Manifest.TDXOptions(
            location: pair.value.location, keyLocation: pair.keyLocation, attributes: attributes, xfam: xfam,
            mrconfigid: mrconfigid, mrowner: mrowner, mrownerconfig: mrownerconfig)
    }

    /// `region+offset`, `region`, or an absolute GPA.
    mutating func parseLoad(_ text: String, _ pair: YAMLNode.Pair) -> Manifest.LoadAddress? {
        if let first = text.first, first.isNumber || first == "-" {
            switch ManifestInteger.parse(text) {
            case .success(let v): return .absolute(v)
            case .failure(let failure):
                diagnostics.append(ManifestMessages.integer("load", text, failure, at: pair.value.location, path: pair.value.path))
                return nil
            }
        }
        let parts = text.split(separator: "+", maxSplits: 1, omittingEmptySubsequences: false)
        let regionName = String(parts[0]).trimmingSpaces
        guard Self.isValidName(regionName) else {
            diagnostics.append(
                ManifestMessages.type(
                    "load", expected: "REGION+OFFSET or an absolute address", found: "'\(ManifestMessages.clip(text))'",
                    at: pair.value.location, path: pair.value.path))
            return nil
        }
        var offset: UInt64 = 0
        if parts.count == 2 {
            switch ManifestInteger.parse(String(parts[1])) {
            case .success(let v): offset = v
            case .failure(let failure):
                diagnostics.append(
                    ManifestMessages.integer("load", String(parts[1]), failure, at: pair.value.location, path: pair.value.path))
                return nil
            }
        }
        return .region(name: regionName, offset: offset)
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
