#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Expands `check`'s arguments: a directory becomes every `*.yaml` and `*.yml` file below it, in sorted
/// order. Hidden entries (`.git`, `.github`, `.hidden.yaml`) are skipped, and symbolic links to directories
/// are not followed (no loops); links to files are kept. Anything else (a file, a missing path, `-`) is
/// passed through unchanged for the reader to judge.
public enum ManifestFinder {
    public static let extensions = [".yaml", ".yml"]

    /// The manifest files an argument names.
    public static func expand(_ argument: String, extensions: [String] = extensions) -> [String] {
        guard argument != "-", isDirectory(argument, followLinks: true) else { return [argument] }
        var found: [String] = []
        walk(argument.hasSuffix("/") && argument.count > 1 ? String(argument.dropLast()) : argument, extensions, into: &found)
        return found
    }

    private static func walk(_ directory: String, _ extensions: [String], into found: inout [String]) {
        guard let dir = opendir(directory) else { return }
        var names: [String] = []
        while let entry = readdir(dir) {
            // SAFETY: d_name is a NUL-terminated array inside the dirent that readdir returned; it is read
            // before the next readdir call.
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name.hasPrefix(".") { continue }
            names.append(name)
        }
        closedir(dir)
        for name in names.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            let path = directory == "/" ? "/" + name : directory + "/" + name
            if isDirectory(path, followLinks: false) {
                walk(path, extensions, into: &found)
            } else if extensions.contains(where: { name.hasSuffix($0) }) {
                found.append(path)
            }
        }
    }

    private static func isDirectory(_ path: String, followLinks: Bool) -> Bool {
        var info = stat()
        let status = followLinks ? stat(path, &info) : lstat(path, &info)
        return status == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }
}
