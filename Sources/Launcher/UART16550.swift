import KVM
import Synchronization

// The legacy PC devices of a Linux guest's launcher (DESIGN §10 guest ABI additions): a 16550A UART on COM1
// complete enough for Linux's 8250 driver (its probe, its THRE test and interrupt-driven output), and the
// i8042 keyboard controller's status and reset. Pure state machines; `LegacyDevices` puts them behind a lock
// and raises the UART's interrupt line through `InterruptPort` (KVM_IRQ_LINE).

/// A 16550A UART's registers, as the guest sees them through port I/O at `base + 0 … base + 7`.
///
/// Transmission is instant: a byte written to THR goes out at once, so THR is always empty (LSR THRE|TEMT)
/// and, with IER.THRI set, a THR-empty interrupt is pending until the guest reads IIR or writes THR again
/// (the 8250's own behaviour; Linux's driver relies on it). There is no input: RBR reads 0, LSR.DR is clear.
/// Modem lines: DCD, DSR and CTS asserted; in loopback (MCR bit 4) MSR mirrors MCR as the 8250 does.
public struct UART16550: Sendable, Hashable {
    public enum Register {
        public static let data = 0  // RBR / THR; DLL with LCR.DLAB
        public static let ier = 1  // IER; DLM with LCR.DLAB
        public static let iir = 2  // IIR (read) / FCR (write)
        public static let lcr = 3
        public static let mcr = 4
        public static let lsr = 5
        public static let msr = 6
        public static let scratch = 7
    }

    public static let ierTHRI: UInt8 = 0x02
    public static let iirNoInterrupt: UInt8 = 0x01
    public static let iirTHRI: UInt8 = 0x02
    public static let iirFIFOEnabled: UInt8 = 0xC0
    public static let lsrIdle: UInt8 = 0x60  // THRE | TEMT
    public static let lcrDLAB: UInt8 = 0x80
    public static let mcrLoop: UInt8 = 0x10

    public private(set) var ier: UInt8 = 0
    public private(set) var lcr: UInt8 = 0
    public private(set) var mcr: UInt8 = 0
    public private(set) var fcr: UInt8 = 0
    public private(set) var scratch: UInt8 = 0
    public private(set) var divisor: UInt16 = 12  // 9600 baud
    /// A THR-empty interrupt is pending (IER.THRI set and not yet acknowledged).
    public private(set) var thrPending = false

    public init() {}

    /// What an access does besides its value: a byte to transmit, and the interrupt line's new level when
    /// it changed.
    public struct Effect: Sendable, Hashable {
        public var output: UInt8? = nil
        public var irq: Bool? = nil
        /// The line stays high but a new interrupt is due: lower and raise it (an edge for the PIC).
        public var pulse = false

        public init(output: UInt8? = nil, irq: Bool? = nil, pulse: Bool = false) {
            (self.output, self.irq, self.pulse) = (output, irq, pulse)
        }
    }

    /// IIR as the guest reads it: the highest pending interrupt (only THRE exists here) and the FIFO bits.
    public var iir: UInt8 {
        let fifo = fcr & 0x01 != 0 ? Self.iirFIFOEnabled : 0
        let pending = ier & Self.ierTHRI != 0 && thrPending
        return fifo | (pending ? Self.iirTHRI : Self.iirNoInterrupt)
    }

    /// Whether the interrupt line is high.
    public var irqLevel: Bool { iir & Self.iirNoInterrupt == 0 }

    var msr: UInt8 {
        guard mcr & Self.mcrLoop != 0 else { return 0xB0 }  // DCD | DSR | CTS
        var m: UInt8 = 0
        if mcr & 0x01 != 0 { m |= 0x20 }  // DTR → DSR
        if mcr & 0x02 != 0 { m |= 0x10 }  // RTS → CTS
        if mcr & 0x04 != 0 { m |= 0x40 }  // OUT1 → RI
        if mcr & 0x08 != 0 { m |= 0x80 }  // OUT2 → DCD
        return m
    }

    /// A write of `value` to register `offset` (0…7).
    public mutating func write(_ offset: Int, _ value: UInt8) -> Effect {
        let before = irqLevel
        var effect = Effect()
        let dlab = lcr & Self.lcrDLAB != 0
        switch offset {
        case Register.data where dlab:
            divisor = divisor & 0xFF00 | UInt16(value)
        case Register.data:
            // Sent at once (dropped in loopback, where it would come back as input); THR is empty again.
            if mcr & Self.mcrLoop == 0 { effect.output = value }
            thrPending = true
        case Register.ier where dlab:
            divisor = divisor & 0x00FF | UInt16(value) << 8
        case Register.ier:
            let changed = (ier ^ value) & 0x0F
            ier = value & 0x0F
            if changed & Self.ierTHRI != 0 { thrPending = ier & Self.ierTHRI != 0 }
        case Register.iir:
            fcr = value & 0xC9  // enable, DMA mode, trigger level; the reset bits act at once and read back 0
        case Register.lcr: lcr = value
        case Register.mcr: mcr = value & 0x1F
        case Register.scratch: scratch = value
        default: break  // LSR and MSR are read-only
        }
        // The byte just written left and THR is empty again: the interrupt line pulses (low, then high) so
        // an edge-triggered PIC input sees a new interrupt.
        if offset == Register.data && !dlab && before && irqLevel { effect.pulse = true }
        if irqLevel != before { effect.irq = irqLevel }
        return effect
    }

    /// A read of register `offset` (0…7): its value and effect.
    public mutating func read(_ offset: Int) -> (UInt8, Effect) {
        let dlab = lcr & Self.lcrDLAB != 0
        switch offset {
        case Register.data: return (dlab ? UInt8(truncatingIfNeeded: divisor) : 0, Effect())
        case Register.ier: return (dlab ? UInt8(truncatingIfNeeded: divisor >> 8) : ier, Effect())
        case Register.iir:
            let value = iir
            var effect = Effect()
            if value & 0x0F == Self.iirTHRI {
                // Reading IIR acknowledges a THR-empty interrupt.
                thrPending = false
                effect.irq = false
            }
            return (value, effect)
        case Register.lcr: return (lcr, Effect())
        case Register.mcr: return (mcr, Effect())
        case Register.lsr: return (Self.lsrIdle, Effect())
        case Register.msr: return (msr, Effect())
        case Register.scratch: return (scratch, Effect())
        default: return (0, Effect())
        }
    }
}

/// The i8042 keyboard controller, as far as a guest without a keyboard needs it.
public enum I8042 {
    /// Port 0x60; the command/status port 0x64 is the plan's (`Handler.i8042(port:)`).
    public static let dataPort: UInt16 = 0x60
    /// Status: system flag (self-test passed), last write was a command, keyboard not inhibited, the input
    /// buffer empty — so Linux's `kb_wait()` before the reset command returns at once — and the output buffer
    /// full (OBF) of zeros that never drain. There is no keyboard behind it: Linux's i8042 driver flushes 16
    /// bytes, says "i8042: No controller found" and goes on in microseconds. A controller that looked idle
    /// but never answered the driver's commands cost the guest about a second of timeouts (measured in the lab:
    /// "Can't read CTR while initializing i8042" after 1.05 s).
    public static let status: UInt8 = 0x1D
    /// The command that pulses the CPU reset line: what Linux's `reboot=k` writes.
    public static let resetCommand: UInt8 = 0xFE
}

/// Raises and lowers a guest interrupt line.
public protocol InterruptPort: Sendable {
    /// `KVM_IRQ_LINE`.
    func setIRQLine(_ irq: UInt32, high: Bool) throws
}

/// `InterruptPort` over a VM with an in-kernel IRQ chip.
struct KVMInterrupts: InterruptPort {
    let vm: VM
    func setIRQLine(_ irq: UInt32, high: Bool) throws {
        #if arch(x86_64)
        try vm.setIRQLine(irq, high: high)
        #endif
    }
}

/// The UART of a VM, shared by its vCPU threads, with the interrupt line it drives (nil: polled, no IRQ chip).
public final class LegacyDevices: Sendable {
    private let uart = Mutex(UART16550())
    public let interrupts: (any InterruptPort)?
    /// COM1's IRQ.
    public let uartIRQ: UInt32 = 4

    public init(interrupts: (any InterruptPort)?) { self.interrupts = interrupts }

    /// A UART register access; returns the value read (for an IN) and the byte to transmit (for an OUT to THR).
    /// The IRQ line changes under the lock, so two vCPUs cannot reorder a raise and a lower.
    public func uartAccess(offset: Int, write value: UInt8?) throws -> (read: UInt8, output: UInt8?) {
        try uart.withLock { state in
            let effect: UART16550.Effect
            var read: UInt8 = 0
            if let value {
                effect = state.write(offset, value)
            } else {
                (read, effect) = state.read(offset)
            }
            if let interrupts {
                if effect.pulse {
                    try interrupts.setIRQLine(uartIRQ, high: false)
                    try interrupts.setIRQLine(uartIRQ, high: true)
                } else if let level = effect.irq {
                    try interrupts.setIRQLine(uartIRQ, high: level)
                }
            }
            return (read, effect.output)
        }
    }
}
