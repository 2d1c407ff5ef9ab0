import Diagnostics
import Manifest
import Rules

/// A host profile with the name it is reported under (its file name without `.json`, or `local`).
public struct NamedHost: Sendable, Hashable {
    public var name: String
    public var profile: HostProfile

    public init(name: String, profile: HostProfile) {
        self.name = name
        self.profile = profile
    }
}

/// Checks one manifest against every host of a fleet (`check --host A --host B`, or a directory of
/// profiles): parsed once, checked once per host. What every host reports alike is reported once; each
/// host's own findings (every `host.*` finding, and limits that differ, such as memslots or vCPUs) are
/// reported under the profile's name. The result also says, per host, whether the guest can run there.
public struct FleetCheck: Sendable {
    public var files: any FileAccess
    public var hosts: [NamedHost]

    public init(files: any FileAccess = LocalFileAccess(), hosts: [NamedHost]) {
        self.files = files
        self.hosts = hosts
    }

    /// Whether a guest can run on one host.
    public enum Verdict: Sendable, Hashable {
        /// Valid, and the host has what the plan needs.
        case runs
        /// Valid, but this host lacks something: the ids of the errors it reports.
        case cannotRun([DiagnosticID])
        /// The manifest itself is invalid: no host can run it.
        case invalid
        /// The manifest could not be read.
        case unreadable
    }

    public struct Result: Sendable {
        public var diagnostics: Diagnostics
        /// One verdict per host, in `hosts` order.
        public var verdicts: [Verdict]
    }

    /// Parses and checks `bytes` against every host. `finish` runs on each host's diagnostics before they
    /// are compared (waivers, `--strict`), so verdicts follow what is reported.
    public func check(bytes: [UInt8], file: String, finish: (Diagnostics) -> Diagnostics = { $0 }) -> Result {
        let parser = CompilerPipeline(files: files)
        let (manifest, parsed) = parser.parse(bytes: bytes, file: file)
        guard let manifest else {
            let diagnostics = finish(parsed)
            return Result(diagnostics: diagnostics, verdicts: hosts.map { _ in .invalid })
        }
        if hosts.isEmpty {
            var all = parsed
            all.append(contentsOf: parser.check(manifest).1)
            return Result(diagnostics: finish(all), verdicts: [])
        }
        let perHost: [[Diagnostic]] = hosts.map { host in
            var all = parsed
            all.append(contentsOf: CompilerPipeline(files: files, host: host.profile).check(manifest).1)
            return finish(all).all
        }
        // Host-independent: reported by every host alike, and not a host.* finding.
        let common = perHost[0].filter { d in
            !d.id.rawValue.hasPrefix("host.") && perHost.dropFirst().allSatisfy { $0.contains(d) }
        }
        var diagnostics = Diagnostics(common)
        let manifestInvalid = common.contains { $0.severity == .error } || !manifest.damaged.isEmpty
        var verdicts: [Verdict] = []
        for (host, own) in zip(hosts, perHost) {
            var errors: [DiagnosticID] = []
            var remaining = common
            for d in own {
                if let i = remaining.firstIndex(of: d) {
                    remaining.remove(at: i)
                    continue
                }
                var attributed = d
                attributed.message = "host '\(host.name)': " + d.message
                diagnostics.append(attributed)
                if d.severity == .error && !errors.contains(d.id) { errors.append(d.id) }
            }
            verdicts.append(manifestInvalid ? .invalid : errors.isEmpty ? .runs : .cannotRun(errors))
        }
        return Result(diagnostics: diagnostics, verdicts: verdicts)
    }
}

/// The manifest × host matrix of a fleet check: which hosts can run which guests.
public struct FleetMatrix: Sendable {
    public var hosts: [String]
    public var rows: [(file: String, verdicts: [FleetCheck.Verdict])] = []

    public init(hosts: [String]) { self.hosts = hosts }

    public mutating func add(_ file: String, _ verdicts: [FleetCheck.Verdict]) { rows.append((file, verdicts)) }

    static func word(_ verdict: FleetCheck.Verdict) -> String {
        switch verdict {
        case .runs: "ok"
        case .cannotRun(let ids): "no: " + ids.map(\.rawValue).joined(separator: ",")
        case .invalid: "invalid"
        case .unreadable: "unreadable"
        }
    }

    /// Columns of host names, a row per manifest; each cell `ok`, `no: <ids>`, `invalid` or `unreadable`;
    /// then how many guests each host can run.
    public func text() -> String {
        let header = ["manifest"] + hosts
        var table = [header]
        for row in rows { table.append([row.file] + row.verdicts.map(Self.word)) }
        table.append(
            ["runs"] + hosts.indices.map { h in "\(rows.count { $0.verdicts[h] == .runs })/\(rows.count)" })
        var widths = [Int](repeating: 0, count: header.count)
        for line in table { for (i, cell) in line.enumerated() { widths[i] = max(widths[i], cell.unicodeScalars.count) } }
        return table.map { line in
            var out = ""
            for (i, cell) in line.enumerated() {
                out += cell
                if i < line.count - 1 { out += String(repeating: " ", count: widths[i] - cell.unicodeScalars.count + 2) }
            }
            return out
        }.joined(separator: "\n") + "\n"
    }

    /// `{"hosts": [names], "manifests": [{"file", "hosts": {name: {"runs": bool, "verdict": word, "ids": [...]}}}]}`.
    public func json() -> JSONValue {
        .object([
            "hosts": .array(hosts.map { .string($0) }),
            "manifests": .array(
                rows.map { row in
                    var cells: [String: JSONValue] = [:]
                    for (host, verdict) in zip(hosts, row.verdicts) {
                        var ids: [JSONValue] = []
                        let word: String
                        switch verdict {
                        case .runs: word = "ok"
                        case .cannotRun(let list):
                            word = "no"
                            ids = list.map { .string($0.rawValue) }
                        case .invalid: word = "invalid"
                        case .unreadable: word = "unreadable"
                        }
                        cells[host] = .object(["runs": .bool(verdict == .runs), "verdict": .string(word), "ids": .array(ids)])
                    }
                    return .object(["file": .string(row.file), "hosts": .object(cells)])
                }),
        ])
    }
}
