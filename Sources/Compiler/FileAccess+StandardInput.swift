import SystemPackage

extension LocalFileAccess {
    /// Reads standard input to its end (`check -`), at most `readLimit` bytes.
    public func readStandardInput() throws -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n: Int
            do {
                n = try chunk.withUnsafeMutableBytes { buffer in
                    // SAFETY: reads into the chunk's own storage, at most its size.
                    try FileDescriptor.standardInput.read(into: buffer, retryOnInterrupt: true)
                }
            } catch {
                throw ReadError(path: "<stdin>", reason: "\(error)")
            }
            if n == 0 { return bytes }
            bytes += chunk[..<n]
            if UInt64(bytes.count) > Self.readLimit {
                throw ReadError(path: "<stdin>", reason: "it is larger than \(Self.readLimit >> 20) MiB")
            }
        }
    }
}
