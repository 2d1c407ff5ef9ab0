import Rules
import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How the compiler reads files: manifests and payloads. Injected so tests can replace it.
public protocol FileAccess: Sendable {
    func read(_ path: String) throws -> [UInt8]
    func payload(at path: String) -> PayloadFile?
}

/// Reads the real file system through swift-system: one open (non-blocking, so a FIFO never hangs), one
/// fstat, then reads. Foundation's FileManager would cost several hundred microseconds on first use, a
/// quarter of the C launcher's whole run, and `launch` is measured against that (Benchmarks/launch).
public struct LocalFileAccess: FileAccess {
    public init() {}

    /// The largest manifest, plan or host profile read (a 5 MB manifest already has 50,000 regions).
    public static let readLimit: UInt64 = 64 << 20

    public struct ReadError: Error, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "cannot read '\(path)': \(reason)" }
    }

    public func read(_ path: String) throws -> [UInt8] {
        switch load(path, limit: Self.readLimit) {
        case .success(let (kind, size, bytes)):
            switch kind {
            case .regular:
                guard let bytes else {
                    throw ReadError(path: path, reason: "it is larger than \(Self.readLimit >> 20) MiB (\(size) bytes)")
                }
                return bytes
            case .directory: throw ReadError(path: path, reason: "it is a directory")
            case .other: throw ReadError(path: path, reason: "not a regular file")
            }
        case .failure(let errno):
            let reason = errno == .noSuchFileOrDirectory ? "no such file" : errno == .permissionDenied
                ? "permission denied or unreadable" : errno.description
            throw ReadError(path: path, reason: reason)
        }
    }

    /// Follows symbolic links (a payload may be a link to a build output).
    public func payload(at path: String) -> PayloadFile? {
        guard case .success(let (kind, size, bytes)) = load(path, limit: PayloadFile.readLimit) else { return nil }
        return PayloadFile(kind: kind, size: size, bytes: bytes)
    }

    /// The file's kind and size, and its bytes when it is a regular file of at most `limit` bytes.
    private func load(_ path: String, limit: UInt64) -> Result<(PayloadFile.Kind, UInt64, [UInt8]?), Errno> {
        do {
            let fd = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec, .nonBlocking])
            defer { try? fd.close() }
            let stat = try fd.stat()
            let size = UInt64(max(0, stat.size))
            guard stat.type == .regular else { return .success((stat.type == .directory ? .directory : .other, size, nil)) }
            guard size <= limit, let count = Int(exactly: size) else { return .success((.regular, size, nil)) }
            var bytes = [UInt8](repeating: 0, count: count)
            var done = 0
            while done < count {
                let n = try bytes.withUnsafeMutableBytes { buffer in
                    // SAFETY: reads into the array's own storage, from `done` to its end.
                    try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
                }
                if n == 0 { break }
                done += n
            }
            return .success((.regular, UInt64(done), Array(bytes.prefix(done))))
        } catch let error as Errno {
            return .failure(error)
        } catch {
            return .failure(.ioError)
        }
    }
}

/// Resolves a payload path against the directory of the manifest that names it.
public func resolvePath(_ path: String, relativeTo manifestFile: String) -> String {
    if path.hasPrefix("/") { return path }
    guard let slash = manifestFile.lastIndex(of: "/") else { return path }
    return String(manifestFile[...slash]) + path
}

extension LocalFileAccess {
    /// Writes text to a file, replacing it atomically (a temporary file in the same directory, then rename).
    public func write(_ text: String, to path: String) throws {
        let temporary = path + ".kvmplan-\(getpid()).tmp"
        do {
            let fd = try FileDescriptor.open(
                FilePath(temporary), .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: [
                    .ownerReadWrite, .groupRead, .otherRead,
                ])
            try fd.closeAfter { _ = try fd.writeAll(Array(text.utf8)) }
            guard rename(temporary, path) == 0 else { throw Errno(rawValue: errno) }
        } catch {
            _ = unlink(temporary)
            throw ReadError(path: path, reason: "cannot write: \(error)")
        }
    }
}
