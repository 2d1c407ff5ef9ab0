#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Where the CLI writes. Diagnostics and plans go to stdout, progress and I/O errors to stderr.
/// Writes go straight to the file descriptors (unbuffered), so guest console output and
/// kvmplan's own messages interleave in order.
enum Console {
    static func out(_ text: String) { write(fd: 1, text) }

    static func error(_ text: String) { write(fd: 2, text.hasSuffix("\n") ? text : text + "\n") }

    static var stdoutIsTerminal: Bool { isatty(1) == 1 }
    static var stderrIsTerminal: Bool { isatty(2) == 1 }

    static func write(fd: Int32, _ text: String) {
        var text = text
        text.withUTF8 { buffer in
            guard var base = buffer.baseAddress else { return }
            var left = buffer.count
            while left > 0 {
                // SAFETY: `base` points into `buffer`, which stays alive for the closure; `left` never exceeds what remains.
                let n = Glibc.write(fd, base, left)
                if n < 0 {
                    if errno == EINTR { continue }
                    return
                }
                base += n
                left -= n
            }
        }
    }
}
