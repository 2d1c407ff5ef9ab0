import Foundation
import Rules

/// How the compiler reads files: manifests and payloads. Injected so tests can replace it.
public protocol FileAccess: Sendable {
    func read(_ path: String) throws -> [UInt8]
    func payload(at path: String) -> PayloadFile?
}

/// Reads the real file system.
public struct LocalFileAccess: FileAccess {
    public init() {}

    public struct ReadError: Error, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "cannot read '\(path)': \(reason)" }
    }

    public func read(_ path: String) throws -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ReadError(path: path, reason: "no such file")
        }
        if isDirectory.boolValue { throw ReadError(path: path, reason: "it is a directory") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ReadError(path: path, reason: "permission denied or unreadable")
        }
        defer { try? handle.close() }
        do {
            return Array(try handle.readToEnd() ?? Data())
        } catch {
            throw ReadError(path: path, reason: "\(error.localizedDescription)")
        }
    }

    public func payload(at path: String) -> PayloadFile? {
        // Follow symbolic links: a payload may be a link to a build output.
        let path = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        let type = attributes[.type] as? FileAttributeType
        let size = (attributes[.size] as? NSNumber)?.uint64Value ?? 0
        switch type {
        case .typeDirectory?: return PayloadFile(kind: .directory, size: 0, bytes: nil)
        case .typeRegular?:
            guard size <= PayloadFile.readLimit else { return PayloadFile(kind: .regular, size: size, bytes: nil) }
            guard let bytes = try? read(path) else { return nil }
            return PayloadFile(kind: .regular, size: UInt64(bytes.count), bytes: bytes)
        default: return PayloadFile(kind: .other, size: size, bytes: nil)
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
    /// Writes text to a file, replacing it.
    public func write(_ text: String, to path: String) throws {
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw ReadError(path: path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}
