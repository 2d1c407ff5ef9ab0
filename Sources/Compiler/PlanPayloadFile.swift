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
/// else needs `--payload FILE`, which names the file explicitly. A Linux plan's initrd is confined the same way.
public enum PlanPayloadFile {
    public struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
        public var path: String
        public var reason: String
        /// What the plan names: the payload, or a Linux plan's initrd.
        public var what = "payload"
        public var description: String { "\(what) '\(path)': \(reason)" }
    }

    /// The payload of `plan` read from `planFile`'s directory; nil when the plan has none.
    public static func read(for plan: Plan, planFile: String) throws(Failure) -> (bytes: [UInt8], path: String)? {
        guard let info = plan.payload else { return nil }
        return try confined(info.path, planFile: planFile)
    }

    /// A Linux plan's initrd (`payload.initrd.path`), under the same confinement as the payload; nil when the
    /// plan has none.
    public static func readInitrd(for plan: Plan, planFile: String) throws(Failure) -> (bytes: [UInt8], path: String)? {
        guard let initrd = plan.payload?.initrd else { return nil }
        do {
            return try confined(initrd.path, planFile: planFile)
        } catch {
            var failure = error
            failure.what = "initrd"
            throw failure
        }
    }

    /// `path` (as a plan records it) read only when it names a regular file in `planFile`'s directory or below it.
    static func confined(_ path: String, planFile: String) throws(Failure) -> (bytes: [UInt8], path: String) {
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
