import Diagnostics
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where the CLI writes. Diagnostics and plans go to stdout, progress and I/O errors to stderr.
/// Writes go straight to the file descriptors (unbuffered), so guest console output and
/// kvmplan's own messages interleave in order.
///
/// Human output (`out`, `error`) has its control characters made visible (`TerminalText`), keeping only the
/// colour sequences the renderers add: manifest and plan strings cannot retitle or clear a terminal. Machine
/// output (`outData`: JSON, SARIF, C) is written as it is; its formats escape what they must.
/// A failed write to stdout is remembered: `main` turns it into exit 2 with a message (a plan written to a
/// full disk is an I/O error, not a success).
enum Console {
    static func out(_ text: String) { write(fd: 1, TerminalText.escaped(text, keepingColour: true)) }

    /// Machine-readable output (JSON, SARIF, C source): no escaping.
    static func outData(_ text: String) { write(fd: 1, text) }

    static func error(_ text: String) {
        let text = TerminalText.escaped(text, keepingColour: true)
        write(fd: 2, text.hasSuffix("\n") ? text : text + "\n")
    }

    static var stdoutIsTerminal: Bool { isatty(1) == 1 }
    static var stderrIsTerminal: Bool { isatty(2) == 1 }

    /// The errno of the first failed write to stdout, 0 when none failed.
    private static let stdoutErrno = Atomic<Int32>(0)

    /// The first failed write to stdout, if any.
    static var stdoutFailure: Int32? {
        let value = stdoutErrno.load(ordering: .relaxed)
        return value == 0 ? nil : value
    }

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
                    if fd == 1 { _ = stdoutErrno.compareExchange(expected: 0, desired: errno, ordering: .relaxed) }
                    return
                }
                if n == 0 {
                    if fd == 1 { _ = stdoutErrno.compareExchange(expected: 0, desired: EIO, ordering: .relaxed) }
                    return
                }
                base += n
                left -= n
            }
        }
    }
}
