import Diagnostics
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
#error("The launcher drives /dev/kvm and needs Linux (Glibc or Musl).")
#endif

/// Where a launch writes: the guest's console (COM1 → stdout) and kvmplan's own lines (messages, MMIO
/// reports, register dumps, `--trace`) for stderr. Injected so tests can capture both.
///
/// Called from vCPU threads concurrently; implementations must be thread-safe.
public protocol LaunchOutput: Sendable {
    /// Bytes the guest wrote to the serial port, in order, unbuffered.
    func console(_ bytes: [UInt8])
    /// One line for stderr, without its newline.
    func message(_ line: String)
    /// The guest will write no more: anything held back is written now.
    func consoleEnded()
}

extension LaunchOutput {
    public func consoleEnded() {}
}

/// stdout and stderr, written with `write(2)` as the bytes arrive (no buffering of the console), so the
/// guest's console and kvmplan's messages appear in the order they happened — except that a message never
/// splits a console line: while the guest is in the middle of a line, messages wait and follow the line's
/// end (on a terminal that shows both streams, `--trace` lines and the guest's output do not interleave
/// mid-line). At most `maxHeld` messages wait; past that, or when the console ends mid-line, they are
/// written after a newline on stderr.
public final class StandardStreams: LaunchOutput {
    struct State {
        var midLine = false
        var held: [String] = []
    }

    static let maxHeld = 4096
    private let state = Mutex(State())
    private let stdout: CInt
    private let stderr: CInt

    public init() {
        (stdout, stderr) = (1, 2)
    }

    /// Writes to other descriptors (tests: one pipe for both, as a terminal shows them).
    package init(stdout: CInt, stderr: CInt) {
        (self.stdout, self.stderr) = (stdout, stderr)
    }

    public func console(_ bytes: [UInt8]) {
        guard let last = bytes.last else { return }
        state.withLock { s in
            // Held messages go out after the last line the bytes complete, before the partial line after it.
            if !s.held.isEmpty, let end = bytes.lastIndex(of: UInt8(ascii: "\n")) {
                bytes[...end].withUnsafeBytes { Self.writeAll(stdout, $0) }
                flushHeld(&s, breakLine: false)
                bytes[(end + 1)...].withUnsafeBytes { Self.writeAll(stdout, $0) }
            } else {
                bytes.withUnsafeBytes { Self.writeAll(stdout, $0) }
            }
            s.midLine = last != UInt8(ascii: "\n")
        }
    }

    public func message(_ line: String) {
        state.withLock { s in
            if s.midLine {
                s.held.append(line)
                if s.held.count >= Self.maxHeld { flushHeld(&s, breakLine: true) }
            } else {
                writeLine(line)
            }
        }
    }

    public func consoleEnded() {
        state.withLock { s in flushHeld(&s, breakLine: s.midLine) }
    }

    private func flushHeld(_ s: inout State, breakLine: Bool) {
        guard !s.held.isEmpty else { return }
        if breakLine { writeLine("") }
        for line in s.held { writeLine(line) }
        s.held.removeAll()
    }

    /// Control characters are made visible (`TerminalText`): messages carry plan strings (step ids, sources,
    /// paths) that must not reach the terminal raw. The guest's console, above, is the guest's own and is not.
    private func writeLine(_ line: String) {
        var text = TerminalText.escaped(line)
        text.append("\n")
        text.withUTF8 { Self.writeAll(stderr, UnsafeRawBufferPointer($0)) }
    }

    /// Writes all of `buffer` to `fd`, retrying on EINTR and short writes; gives up silently when the
    /// stream is gone (a closed pipe must not stop the guest).
    static func writeAll(_ fd: CInt, _ buffer: UnsafeRawBufferPointer) {
        guard var base = buffer.baseAddress else { return }
        var left = buffer.count
        while left > 0 {
            // SAFETY: `base ..< base + left` lies inside `buffer`, which the caller keeps alive for the call.
            let n = write(fd, base, left)
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            base += n
            left -= n
        }
    }
}
