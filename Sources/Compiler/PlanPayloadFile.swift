import Plan
import Rules
import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The payload bytes of a plan file (issue 15, item 3: a plan file must not be an oracle for the files kvmplan
/// can read). A plan may come from elsewhere, and kvmplan runs as root: the payload path it records is only
/// followed inside the plan file's own directory — a relative path (or an absolute one) that, with `..`
/// resolved and every symbolic link followed, names a regular file in that directory or below it. Anything
/// else needs `--payload FILE`, which names the file explicitly.
public enum PlanPayloadFile {
    public struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "payload '\(path)': \(reason)" }
    }

    /// The payload of `plan` read from `planFile`'s directory; nil when the plan has none.
    public static func read(for plan: Plan, planFile: String) throws(Failure) -> (bytes: [UInt8], path: String)? {
        guard let info = plan.payload else { return nil }
        let path = info.path
        guard !path.isEmpty, !path.utf8.contains(0) else { throw Failure(path: path, reason: "not a usable path") }
        let directory = Self.directory(of: planFile)
        let candidate = path.hasPrefix("/") ? path : directory + "/" + path
        guard let realDirectory = realPath(directory) else {
            throw Failure(path: path, reason: "the plan's directory '\(directory)' cannot be resolved")
        }
        guard let realCandidate = realPath(candidate) else {
            throw Failure(path: path, reason: "no such file in the plan's directory '\(directory)'")
        }
        let root = realDirectory.hasSuffix("/") ? realDirectory : realDirectory + "/"
        guard realCandidate.hasPrefix(root) else {
            throw Failure(
                path: path,
                reason: "it is outside the plan's directory '\(directory)' (a plan file's payload must lie in its directory or below it)")
        }
        do {
            return (try LocalFileAccess().readPayload(realCandidate), realCandidate)
        } catch {
            throw Failure(path: path, reason: error.reason)
        }
    }

    /// The directory part of a path (`.` for a bare file name).
    static func directory(of file: String) -> String {
        guard let slash = file.lastIndex(of: "/") else { return "." }
        let dir = String(file[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    /// The canonical absolute path (every `..` and symbolic link resolved), nil when it does not exist.
    static func realPath(_ path: String) -> String? {
        // SAFETY: realpath(3) with a nil buffer returns a malloc'ed NUL-terminated string (or nil), read once
        // and freed here.
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
