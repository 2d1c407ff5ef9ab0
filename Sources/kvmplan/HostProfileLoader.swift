import ArgumentParser
import Compiler
import Diagnostics
import Rules

/// Loads `--host PROFILE|DIR|local`.
enum HostProfileLoader {
    /// The profiles that `--host` arguments name: each file, every `*.json` below a directory (sorted), or
    /// `local`; each with the name it is reported under (the file name without `.json`; the path when two
    /// files share a name). A profile that cannot be loaded is a diagnostic; a directory without profiles too.
    static func loadAll(_ arguments: [String]) throws -> (hosts: [NamedHost], failures: [Diagnostic]) {
        var paths: [String] = []
        var failures: [Diagnostic] = []
        for argument in arguments {
            if argument == "local" {
                paths.append(argument)
                continue
            }
            let found = ManifestFinder.expand(argument, extensions: [".json"])
            if found.isEmpty { failures.append(IOMessages.hostProfile(argument, "it is a directory with no *.json file")) }
            paths += found
        }
        func baseName(_ path: String) -> String {
            let last = path.split(separator: "/").last.map(String.init) ?? path
            return last.hasSuffix(".json") ? String(last.dropLast(5)) : last
        }
        var seen = Set<String>()
        paths = paths.filter { seen.insert($0).inserted }
        var counts: [String: Int] = [:]
        for path in paths { counts[baseName(path), default: 0] += 1 }
        var hosts: [NamedHost] = []
        for path in paths {
            switch try load(path) {
            case .profile(let profile):
                hosts.append(NamedHost(name: counts[baseName(path)] == 1 ? baseName(path) : path, profile: profile))
            case .failure(let diagnostic): failures.append(diagnostic)
            }
        }
        return (hosts, failures)
    }

    enum Loaded {
        case profile(HostProfile)
        case failure(Diagnostic)
    }

    /// A profile, or the `io.host-profile` diagnostic that says why it cannot be loaded. Probing this host
    /// (`local`) that fails exits as `probe` does.
    static func load(_ argument: String) throws -> Loaded {
        if argument == "local" {
            return .profile(try localHostProfile())
        }
        let bytes: [UInt8]
        do {
            bytes = try LocalFileAccess().read(argument)
        } catch let error as LocalFileAccess.ReadError {
            return .failure(IOMessages.hostProfile(argument, error.reason))
        } catch {
            return .failure(IOMessages.hostProfile(argument, "\(error)"))
        }
        do {
            let json = try JSONValue.parse(String(decoding: bytes, as: UTF8.self))
            return .profile(try HostProfile(json: json))
        } catch {
            return .failure(IOMessages.hostProfile(argument, "\(error)"))
        }
    }
}
