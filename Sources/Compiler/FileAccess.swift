import Rules
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How the compiler reads the files a manifest names (payload, initrd, SEV-SNP ID block and its auth). Injected so
/// tests can replace it. The manifest itself is read by the caller (`LocalFileAccess.read`).
public protocol FileAccess: Sendable {
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

    public struct WriteError: Error, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "cannot write '\(path)': \(reason)" }
    }

    public func read(_ path: String) throws -> [UInt8] {
        try read(path, limit: Self.readLimit, what: "")
    }

    /// Reads a payload: a regular file of at most `PayloadFile.readLimit` bytes, the same limit the compiler's
    /// payload rules apply, so a payload that compiles from its manifest also launches from its plan file.
    public func readPayload(_ path: String) throws(ReadError) -> [UInt8] {
        try read(path, limit: PayloadFile.readLimit, what: ", the payload limit")
    }

    private func read(_ path: String, limit: UInt64, what: String) throws(ReadError) -> [UInt8] {
        switch load(path, limit: limit) {
        case .success(let (kind, size, bytes)):
            switch kind {
            case .regular:
                guard let bytes else {
                    throw ReadError(path: path, reason: "it is larger than \(limit >> 20) MiB\(what) (\(size) bytes)")
                }
                return bytes
            case .directory: throw ReadError(path: path, reason: "it is a directory")
            case .other: throw ReadError(path: path, reason: "not a regular file")
            }
        case .failure(let errno):
            let reason =
                switch errno {
                case .noSuchFileOrDirectory: "no such file"
                case .permissionDenied: "permission denied or unreadable"
                default: errno.description
                }
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
        // stat before open: a device node is refused without being opened (opening one can have effects).
        var before = stat()
        guard stat(path, &before) == 0 else { return .failure(Errno(rawValue: errno)) }
        switch before.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return .success((.directory, UInt64(max(0, before.st_size)), nil))
        default: return .success((.other, UInt64(max(0, before.st_size)), nil))
        }
        do {
            let fd = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec, .nonBlocking])
            defer { try? fd.close() }
            let stat = try fd.stat()
            let size = UInt64(max(0, stat.size))
            guard stat.type == .regular else { return .success((stat.type == .directory ? .directory : .other, size, nil)) }
            // The file opened is the one stat saw (not a device swapped in between).
            guard UInt64(stat.deviceID.rawValue) == UInt64(before.st_dev), UInt64(stat.inode.rawValue) == UInt64(before.st_ino) else {
                return .failure(.resourceTemporarilyUnavailable)
            }
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
    /// Writes text to a file. A regular file (or a new one) is replaced atomically: a temporary file created
    /// exclusively (`O_CREAT | O_EXCL | O_NOFOLLOW`, so a symbolic link planted at its name is never followed)
    /// in the target's directory, then renamed over the target. A character device or a FIFO (`/dev/stdout`,
    /// a terminal, a pipe) is written directly, never replaced; anything else (a directory, a block device, a
    /// socket) is refused.
    public func write(_ text: String, to path: String) throws {
        let bytes = Array(text.utf8)
        var target = stat()
        if stat(path, &target) == 0 {
            switch target.st_mode & S_IFMT {
            case S_IFREG:
                break
            case S_IFCHR, S_IFIFO:
                do {
                    // O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of hanging; cleared for the write.
                    let fd = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.closeOnExec, .nonBlocking])
                    try fd.closeAfter {
                        let flags = fcntl(fd.rawValue, F_GETFL)
                        if flags >= 0 { _ = fcntl(fd.rawValue, F_SETFL, flags & ~O_NONBLOCK) }
                        _ = try fd.writeAll(bytes)
                    }
                    return
                } catch {
                    throw WriteError(path: path, reason: "\(error)")
                }
            default:
                throw WriteError(path: path, reason: "it is not a regular file, a character device or a FIFO; refusing to replace it")
            }
        }
        var temporary = ""
        do {
            var created: FileDescriptor?
            for attempt in 0..<100 where created == nil {
                temporary = path + ".kvmplan-\(getpid())-\(attempt).tmp"
                do {
                    created = try FileDescriptor.open(
                        FilePath(temporary), .writeOnly, options: [.create, .exclusiveCreate, .noFollow, .closeOnExec],
                        permissions: [.ownerReadWrite, .groupRead, .otherRead])
                } catch Errno.fileExists {
                    continue
                }
            }
            guard let fd = created else { throw Errno.fileExists }
            do {
                try fd.closeAfter { _ = try fd.writeAll(bytes) }
            } catch {
                _ = unlink(temporary)
                throw error
            }
            guard rename(temporary, path) == 0 else {
                let failure = Errno(rawValue: errno)
                _ = unlink(temporary)
                throw failure
            }
        } catch {
            throw WriteError(path: path, reason: "\(error)")
        }
    }
}
