#if arch(x86_64)
internal import CKVM

// MARK: - General-purpose registers

/// x86-64 general-purpose registers (`struct kvm_regs`), for `VCPU.getRegs` / `VCPU.setRegs`.
public struct Registers: Hashable, Sendable {
    public var rax: UInt64 = 0, rbx: UInt64 = 0, rcx: UInt64 = 0, rdx: UInt64 = 0
    public var rsi: UInt64 = 0, rdi: UInt64 = 0, rsp: UInt64 = 0, rbp: UInt64 = 0
    public var r8: UInt64 = 0, r9: UInt64 = 0, r10: UInt64 = 0, r11: UInt64 = 0
    public var r12: UInt64 = 0, r13: UInt64 = 0, r14: UInt64 = 0, r15: UInt64 = 0
    public var rip: UInt64 = 0
    /// RFLAGS; bit 1 is reserved and must be 1 (use at least 0x2).
    public var rflags: UInt64 = 0x2

    public init() {}

    init(_ r: ckvm_regs) {
        (rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp) = (r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rsp, r.rbp)
        (r8, r9, r10, r11, r12, r13, r14, r15) = (r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15)
        (rip, rflags) = (r.rip, r.rflags)
    }

    var raw: ckvm_regs {
        ckvm_regs(
            rax: rax, rbx: rbx, rcx: rcx, rdx: rdx, rsi: rsi, rdi: rdi, rsp: rsp, rbp: rbp,
            r8: r8, r9: r9, r10: r10, r11: r11, r12: r12, r13: r13, r14: r14, r15: r15,
            rip: rip, rflags: rflags)
    }
}

// MARK: - Special registers

/// A segment register as KVM sees it (`struct kvm_segment`): the hidden descriptor cache.
public struct Segment: Hashable, Sendable {
    public var base: UInt64 = 0
    public var limit: UInt32 = 0
    public var selector: UInt16 = 0
    /// Descriptor type (4 bits), e.g. 0xb = execute/read code, accessed; 0x3 = read/write data, accessed.
    public var type: UInt8 = 0
    public var present = false
    /// Descriptor privilege level (0…3).
    public var dpl: UInt8 = 0
    /// Default operand size (D/B): 32-bit when set.
    public var db = false
    /// Code or data segment (S), as opposed to a system segment.
    public var s = false
    /// 64-bit code segment (L).
    public var l = false
    /// Granularity: limit in 4 KiB units when set.
    public var g = false
    public var avl = false
    public var unusable = false

    public init(
        base: UInt64 = 0, limit: UInt32 = 0, selector: UInt16 = 0, type: UInt8 = 0, present: Bool = false,
        dpl: UInt8 = 0, db: Bool = false, s: Bool = false, l: Bool = false, g: Bool = false, avl: Bool = false,
        unusable: Bool = false
    ) {
        (self.base, self.limit, self.selector, self.type) = (base, limit, selector, type)
        (self.present, self.dpl, self.db, self.s, self.l, self.g) = (present, dpl, db, s, l, g)
        (self.avl, self.unusable) = (avl, unusable)
    }

    init(_ r: ckvm_segment) {
        self.init(
            base: r.base, limit: r.limit, selector: r.selector, type: r.type, present: r.present != 0, dpl: r.dpl,
            db: r.db != 0, s: r.s != 0, l: r.l != 0, g: r.g != 0, avl: r.avl != 0, unusable: r.unusable != 0)
    }

    var raw: ckvm_segment {
        func bit(_ b: Bool) -> UInt8 { b ? 1 : 0 }
        return ckvm_segment(
            base: base, limit: limit, selector: selector, type: type, present: bit(present), dpl: dpl, db: bit(db),
            s: bit(s), l: bit(l), g: bit(g), avl: bit(avl), unusable: bit(unusable), padding: 0)
    }
}

/// A descriptor-table register, GDTR or IDTR (`struct kvm_dtable`).
public struct DescriptorTable: Hashable, Sendable {
    public var base: UInt64 = 0
    public var limit: UInt16 = 0

    public init(base: UInt64 = 0, limit: UInt16 = 0) {
        self.base = base
        self.limit = limit
    }

    init(_ r: ckvm_dtable) { self.init(base: r.base, limit: r.limit) }

    var raw: ckvm_dtable { ckvm_dtable(base: base, limit: limit, padding: (0, 0, 0)) }
}

/// x86-64 special registers (`struct kvm_sregs`), for `VCPU.getSregs` / `VCPU.setSregs`.
/// Read them first and change what you need: KVM fills in `apicBase` and the segment caches.
public struct SpecialRegisters: Hashable, Sendable {
    public var cs = Segment(), ds = Segment(), es = Segment(), fs = Segment(), gs = Segment(), ss = Segment()
    public var tr = Segment(), ldt = Segment()
    public var gdt = DescriptorTable(), idt = DescriptorTable()
    public var cr0: UInt64 = 0, cr2: UInt64 = 0, cr3: UInt64 = 0, cr4: UInt64 = 0, cr8: UInt64 = 0
    public var efer: UInt64 = 0
    public var apicBase: UInt64 = 0
    /// Pending external interrupts, one bit per vector: always 4 words (256 vectors).
    public var interruptBitmap: [UInt64] = [0, 0, 0, 0]

    public init() {}

    init(_ r: ckvm_sregs) {
        (cs, ds, es, fs, gs, ss) = (
            Segment(r.cs), Segment(r.ds), Segment(r.es), Segment(r.fs), Segment(r.gs),
            Segment(r.ss)
        )
        (tr, ldt) = (Segment(r.tr), Segment(r.ldt))
        (gdt, idt) = (DescriptorTable(r.gdt), DescriptorTable(r.idt))
        (cr0, cr2, cr3, cr4, cr8) = (r.cr0, r.cr2, r.cr3, r.cr4, r.cr8)
        (efer, apicBase) = (r.efer, r.apic_base)
        let b = r.interrupt_bitmap
        interruptBitmap = [b.0, b.1, b.2, b.3]
    }

    var raw: ckvm_sregs {
        precondition(interruptBitmap.count == 4, "interruptBitmap has 4 words (256 vectors)")
        var r = ckvm_sregs()
        (r.cs, r.ds, r.es, r.fs, r.gs, r.ss) = (cs.raw, ds.raw, es.raw, fs.raw, gs.raw, ss.raw)
        (r.tr, r.ldt, r.gdt, r.idt) = (tr.raw, ldt.raw, gdt.raw, idt.raw)
        (r.cr0, r.cr2, r.cr3, r.cr4, r.cr8) = (cr0, cr2, cr3, cr4, cr8)
        (r.efer, r.apic_base) = (efer, apicBase)
        r.interrupt_bitmap = (interruptBitmap[0], interruptBitmap[1], interruptBitmap[2], interruptBitmap[3])
        return r
    }
}

// MARK: - CPUID

/// One CPUID leaf as KVM exchanges it (`struct kvm_cpuid_entry2`).
public struct CPUIDEntry: Hashable, Sendable {
    public var function: UInt32
    public var index: UInt32
    /// `KVM_CPUID_FLAG_*`: bit 0 = the index (subleaf) is significant.
    public var flags: UInt32
    public var eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32

    public init(
        function: UInt32, index: UInt32 = 0, flags: UInt32 = 0, eax: UInt32, ebx: UInt32, ecx: UInt32,
        edx: UInt32
    ) {
        (self.function, self.index, self.flags) = (function, index, flags)
        (self.eax, self.ebx, self.ecx, self.edx) = (eax, ebx, ecx, edx)
    }

    init(_ r: ckvm_cpuid_entry2) {
        self.init(function: r.function, index: r.index, flags: r.flags, eax: r.eax, ebx: r.ebx, ecx: r.ecx, edx: r.edx)
    }

    var raw: ckvm_cpuid_entry2 {
        ckvm_cpuid_entry2(
            function: function, index: index, flags: flags, eax: eax, ebx: ebx, ecx: ecx, edx: edx, padding: (0, 0, 0))
    }
}

/// Heap memory laid out as `struct kvm_cpuid2`: an 8-byte header (`nent`, `padding`) followed by
/// `capacity` 40-byte entries, optionally after `headerSize` bytes of an enclosing struct (the TDX payloads
/// embed a `struct kvm_cpuid2` at their end: `kvm_tdx_capabilities` at 2048, `kvm_tdx_init_vm` at 256). Swift
/// does not import the flexible array, so the entries are addressed from `CKVM_CPUID2_ENTRIES_OFFSET`.
final class CPUIDBuffer {
    /// The start of the allocation: the enclosing struct's header, then the `struct kvm_cpuid2`.
    let pointer: UnsafeMutableRawPointer
    /// Bytes before the `struct kvm_cpuid2` (0 for KVM_SET_CPUID2 and KVM_GET_SUPPORTED_CPUID).
    let headerSize: Int
    let capacity: Int
    /// The whole allocation, header included.
    let byteCount: Int

    init(headerSize: Int = 0, capacity: Int) {
        precondition(capacity >= 0 && headerSize >= 0 && headerSize % 8 == 0)
        self.capacity = capacity
        self.headerSize = headerSize
        byteCount = headerSize + Int(CKVM_CPUID2_ENTRIES_OFFSET) + capacity * MemoryLayout<ckvm_cpuid_entry2>.stride
        // SAFETY: a fresh allocation aligned for the 8-byte header fields and 4-byte entries; zeroed so that
        // padding and reserved fields are 0, then `nent` is set to the capacity (what KVM may fill).
        pointer = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 8)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
        (pointer + headerSize).storeBytes(of: UInt32(capacity), as: UInt32.self)
    }

    convenience init(headerSize: Int = 0, entries: [CPUIDEntry]) {
        self.init(headerSize: headerSize, capacity: entries.count)
        let first = pointer + headerSize + Int(CKVM_CPUID2_ENTRIES_OFFSET)
        for (i, entry) in entries.enumerated() {
            // SAFETY: i < capacity, so the 40-byte entry lies inside the allocation; the offset is
            // a multiple of 4, the struct's alignment.
            (first + i * MemoryLayout<ckvm_cpuid_entry2>.stride).storeBytes(of: entry.raw, as: ckvm_cpuid_entry2.self)
        }
    }

    deinit { pointer.deallocate() }

    /// The allocation as the ioctl's (or the KVM_MEMORY_ENCRYPT_OP payload's) bytes; valid while this object lives.
    var bytes: UnsafeMutableRawBufferPointer {
        // SAFETY: `pointer` is this object's allocation of exactly `byteCount` bytes.
        UnsafeMutableRawBufferPointer(start: pointer, count: byteCount)
    }

    /// The entries KVM reported (`nent` of them, never more than `capacity`).
    var entries: [CPUIDEntry] {
        // SAFETY: the `struct kvm_cpuid2` header's first field is `nent`, written by KVM; it is clamped to the
        // allocation's capacity before any entry is read.
        let count = min(Int((pointer + headerSize).load(as: UInt32.self)), capacity)
        let first = pointer + headerSize + Int(CKVM_CPUID2_ENTRIES_OFFSET)
        return (0..<count).map { i in
            // SAFETY: i < capacity; see `init(entries:)`.
            CPUIDEntry((first + i * MemoryLayout<ckvm_cpuid_entry2>.stride).load(as: ckvm_cpuid_entry2.self))
        }
    }
}
#endif
