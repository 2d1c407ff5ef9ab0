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
}

/// stdout and stderr, written with `write(2)` as the bytes arrive (no buffering), so the guest's console
/// and kvmplan's messages interleave in the order they happened.
public struct StandardStreams: LaunchOutput {
    public init() {}

    public func console(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { Self.writeAll(1, $0) }
    }

    public func message(_ line: String) {
        var text = line
        text.append("\n")
        text.withUTF8 { Self.writeAll(2, UnsafeRawBufferPointer($0)) }
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
