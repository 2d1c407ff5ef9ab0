import Compiler
import Foundation
import TestSupport

// `SplitMix64` (the fixed-seed generator, so generated manifests are the same on every run and machine) lives in
// TestSupport.
extension SplitMix64 {
    mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &self) < percent }
    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }
}

/// A platform the generator writes manifests for (arch + platform of DESIGN §2).
enum GeneratedPlatform: String, CaseIterable, Sendable, CustomStringConvertible {
    case x86Default = "x86_64/default"
    case swProtected = "x86_64/sw-protected"
    case sevSNP = "x86_64/sev-snp"
    case tdx = "x86_64/tdx"
    case armDefault = "arm64/default"
    case pkvm = "arm64/pkvm"
    case cca = "arm64/cca"

    var description: String { rawValue }
    var arch: String { isX86 ? "x86_64" : "arm64" }
    var platform: String { String(rawValue.split(separator: "/")[1]) }
    var isX86: Bool { rawValue.hasPrefix("x86_64") }
    var hasPrivateMemory: Bool { self != .x86Default && self != .armDefault }
    var measured: Bool { self == .sevSNP || self == .tdx || self == .cca }
    var readonlySlots: Bool { [.x86Default, .swProtected, .armDefault].contains(self) }
    var dirtyLogging: Bool { self != .pkvm && self != .cca }
    var initSharedAllowed: Bool { [.x86Default, .armDefault, .pkvm].contains(self) }
    var gmemNeedsMmap: Bool { self == .armDefault || self == .pkvm }
    var conversionExits: [String] {
        switch self {
        case .swProtected, .sevSNP, .tdx: ["hypercall", "fault"]
        case .cca: ["fault"]
        default: []
        }
    }

    /// The seed of this platform's corpus.
    var seed: UInt64 { UInt64(GeneratedPlatform.allCases.firstIndex(of: self) ?? 0) &* 0x1000_0001 &+ 0x6B76_6D70_6C61_6E }
}

/// One generated manifest: its YAML, the repo-relative file name it is compiled under, and the synthetic
/// payload files it refers to.
struct GeneratedManifest {
    var file: String
    var yaml: String
    var virtualFiles: [String: [UInt8]]
}

/// Writes random manifests for a platform: random region counts, sizes, backings, access, guest_memfd flags,
/// read-only and dirty-log flags, sharing sections and payloads (real example guests and synthetic ELF images
/// whose segments may share pages). Most are valid; callers keep the ones `CompilerPipeline().check` accepts.
struct ManifestGenerator {
    var rng: SplitMix64
    let target: GeneratedPlatform

    init(_ target: GeneratedPlatform) {
        self.target = target
        self.rng = SplitMix64(seed: target.seed)
    }

    struct Region {
        var name: String
        var base: UInt64
        var size: UInt64
        var access: String?
        var initial: String?
        var backing: String
        var mmap: Bool?
        var initShared: Bool?
        var readonly = false
        var dirtyLog = false

        var initiallyPrivate: Bool { access == "private" || (access == "convertible" && initial != "shared") }
    }

    static let sizes: [UInt64] = [4 << 10, 64 << 10, 1 << 20, 2 << 20, 4 << 20, 16 << 20, 64 << 20]

    mutating func next(index: Int) -> GeneratedManifest {
        let file = "Manifests/gen/\(target.platform)-\(index).yaml"
        var virtualFiles: [String: [UInt8]] = [:]
        var lines: [String] = ["# generated: \(target) #\(index)", "kvmplan: 1", "name: gen-\(target.platform)-\(index)"]
        lines.append("arch: \(target.arch)")
        lines.append("platform: \(target.platform)")
        let vcpus = rng.pick([1, 1, 2, 3, 4, 8])
        if vcpus != 1 || rng.chance(50) { lines.append("vcpus: \(vcpus)") }
        switch target {
        case .tdx: if rng.chance(70) { lines.append("gpa-bits: \(rng.pick([48, 52]))") }
        case .cca: if rng.chance(70) { lines.append("gpa-bits: \(rng.pick([40, 44, 48]))") }
        case .armDefault, .pkvm: if rng.chance(40) { lines.append("gpa-bits: \(rng.pick([40, 44]))") }
        default: if rng.chance(30) { lines.append("gpa-bits: 48") }
        }

        // Regions, laid out upwards from a start address with random gaps.
        let wantsPayload = rng.chance(60)
        var regions: [Region] = []
        var cursor: UInt64 = target.isX86 ? 0 : rng.pick([0, 0x4000_0000, 0x8000_0000])
        let count = Int.random(in: 1...5, using: &rng)
        for n in 0..<count {
            var region = randomRegion(name: rng.pick(["ram", "mem", "buf", "dma", "rom", "io"]) + "\(n)", base: cursor)
            if n == 0 && wantsPayload { region = payloadRegion(name: "ram\(n)", base: cursor) }
            regions.append(region)
            cursor = region.base + region.size
            if rng.chance(50) { cursor += rng.pick([4 << 10, 2 << 20, 64 << 20]) }
            // Keep 2 MiB alignment most of the time (guest_memfd advisory and hugetlb-2m).
            if rng.chance(80) { cursor = (cursor + (2 << 20) - 1) & ~((2 << 20) - 1) }
        }
        // A TD starts at the reset vector: its payload is the firmware image in a private region below 4 GiB.
        if target == .tdx && wantsPayload {
            regions[0].name = "ram0"
            regions.append(
                Region(name: "fw", base: 0xffe0_0000, size: 2 << 20, access: "private", initial: nil, backing: "guest-memfd"))
        }
        if rng.chance(10) { regions.shuffle(using: &rng) }

        lines.append("memory:")
        lines.append("  regions:")
        for r in regions {
            lines.append("    - name: \(r.name)")
            lines.append("      base: \(hexOrSize(r.base))")
            lines.append("      size: \(sizeText(r.size))")
            if let access = r.access { lines.append("      access: \(access)") }
            if let initial = r.initial { lines.append("      initial: \(initial)") }
            lines.append("      backing: \(r.backing)")
            if r.mmap != nil || r.initShared != nil {
                var parts: [String] = []
                if let mmap = r.mmap { parts.append("mmap: \(mmap)") }
                if let initShared = r.initShared { parts.append("init-shared: \(initShared)") }
                if rng.chance(50) {
                    lines.append("      guest-memfd: { \(parts.joined(separator: ", ")) }")
                } else {
                    lines.append("      guest-memfd:")
                    for part in parts { lines.append("        \(part)") }
                }
            }
            if r.readonly { lines.append("      readonly: true") }
            if r.dirtyLog { lines.append("      dirty-log: true") }
        }

        // Sharing.
        let convertible = regions.filter { $0.access == "convertible" }.map(\.name)
        if target.hasPrivateMemory && (rng.chance(60) || !convertible.isEmpty && rng.chance(50)) {
            lines.append("sharing:")
            if !target.conversionExits.isEmpty {
                var exits = target.conversionExits.filter { _ in rng.chance(70) }
                if exits.isEmpty && !convertible.isEmpty { exits = [target.conversionExits[0]] }
                if rng.chance(80) { lines.append("  conversion: [\(exits.joined(separator: ", "))]") }
            } else if rng.chance(50) {
                lines.append("  conversion: []")
            }
            if !convertible.isEmpty || rng.chance(30) {
                lines.append("  convertible: [\(convertible.joined(separator: ", "))]")
            }
            if rng.chance(50) { lines.append("  on-share: \(rng.pick(["punch-hole", "keep"]))") }
            if rng.chance(50) { lines.append("  on-unshare: \(rng.pick(["discard", "keep"]))") }
        }

        // Payload.
        if wantsPayload, let ram = regions.first(where: { $0.name == "ram0" }) {
            lines += payloadLines(into: ram, index: index, virtualFiles: &virtualFiles)
        }
        return GeneratedManifest(file: file, yaml: lines.joined(separator: "\n") + "\n", virtualFiles: virtualFiles)
    }

    // MARK: - Regions

    mutating func randomRegion(name: String, base: UInt64) -> Region {
        var region = Region(name: name, base: base, size: rng.pick(Self.sizes), access: nil, initial: nil, backing: "anonymous")
        let access: String = target.hasPrivateMemory ? rng.pick(["private", "shared", "convertible", "convertible"]) : "shared"
        if access != "shared" || rng.chance(50) { region.access = access }
        if access == "convertible" && rng.chance(70) { region.initial = rng.pick(["private", "shared"]) }
        if access != "shared" {
            region.backing = target == .pkvm ? rng.pick(["anonymous", "memfd"]) : "guest-memfd"
        } else {
            region.backing = rng.pick(["anonymous", "memfd", "guest-memfd", "hugetlb-2m", "none"])
        }
        if region.backing == "hugetlb-2m" {
            region.base = (base + (2 << 20) - 1) & ~((2 << 20) - 1)
            region.size = max(2 << 20, region.size & ~((2 << 20) - 1))
        }
        if region.backing == "guest-memfd" { setGuestMemfdOptions(&region) }
        if region.backing != "guest-memfd" && region.backing != "none" && access == "shared" {
            if target.readonlySlots && rng.chance(20) { region.readonly = true }
            if target.dirtyLogging && rng.chance(20) { region.dirtyLog = true }
        }
        return region
    }

    mutating func setGuestMemfdOptions(_ region: inout Region) {
        if target.gmemNeedsMmap {
            region.mmap = true
            if target.initSharedAllowed && rng.chance(60) { region.initShared = true }
            return
        }
        guard rng.chance(60) else { return }
        let mmap = rng.chance(50)
        region.mmap = mmap
        if mmap && target.initSharedAllowed && region.access ?? "shared" == "shared" && rng.chance(70) {
            region.initShared = true
        } else if rng.chance(30) {
            region.initShared = false
        }
    }

    /// The region a payload goes into: at the start of RAM, large enough, and of the kind the platform
    /// needs (shared RAM with the launcher's boot area on non-measured x86, initially private memory when
    /// the launch is measured).
    mutating func payloadRegion(name: String, base: UInt64) -> Region {
        var region = Region(name: name, base: base, size: rng.pick([2 << 20, 4 << 20, 16 << 20]), access: nil, initial: nil, backing: "anonymous")
        if target.measured && rng.chance(80) {
            region.access = rng.pick(["private", "convertible"])
            if region.access == "convertible" && rng.chance(50) { region.initial = "private" }
            region.backing = "guest-memfd"
            setGuestMemfdOptions(&region)
        } else if target == .pkvm && rng.chance(50) {
            region.access = rng.pick(["private", "convertible"])
            region.backing = rng.pick(["anonymous", "memfd"])
        } else {
            if rng.chance(50) { region.access = "shared" }
            if target.hasPrivateMemory && target != .pkvm && rng.chance(30) {
                region.access = "convertible"
                region.initial = "shared"
                region.backing = "guest-memfd"
                setGuestMemfdOptions(&region)
            } else {
                region.backing = rng.pick(["anonymous", "memfd", "hugetlb-2m", "guest-memfd"])
                if region.backing == "guest-memfd" { setGuestMemfdOptions(&region) }
            }
        }
        return region
    }

    // MARK: - Payloads

    mutating func payloadLines(into ram: Region, index: Int, virtualFiles: inout [String: [UInt8]]) -> [String] {
        var lines = ["payload:"]
        if target == .tdx {
            lines += ["  format: firmware", "  path: ../../Examples/guests/tdx-hello.bin"]
            if rng.chance(30) { lines.append("  load: 0xffffc000") }
            if rng.chance(50) { lines.append("  measured: \(rng.pick([true, false]))") }
            return lines
        }
        let useELF = target.isX86 && rng.chance(40)
        if useELF {
            if rng.chance(30) {
                lines.append("  format: elf")
                lines.append("  path: ../../Examples/guests/hello-long.elf")
            } else {
                let path = "payload-\(target.platform)-\(index).elf"
                virtualFiles["Manifests/gen/" + path] = syntheticELF(base: ram.base + 0x10_0000)
                lines.append("  format: elf")
                lines.append("  path: \(path)")
            }
            lines.append("  mode: long")
        } else {
            let (file, offset, mode): (String, UInt64, String?) =
                target.isX86
                ? rng.pick([
                    ("hello-long.bin", 0x10_0000, "long"), ("memtest.bin", 0x10_0000, "long"), ("smp.bin", 0x10_0000, "long"),
                    ("hello-protected.bin", 0x10_0000, "protected"), ("hello-real.bin", 0x8000, "real"),
                ])
                : (rng.pick(["hello-long.bin", "memtest.bin"]), rng.pick([0x0, 0x8_0000, 0x10_0000]), nil)
            if rng.chance(50) { lines.append("  format: flat") }
            lines.append("  path: ../../Examples/guests/\(file)")
            lines.append("  load: \(ram.name)+\(hexOrSize(offset))")
            if let mode { lines.append("  mode: \(mode)") }
        }
        if target.measured {
            if rng.chance(70) {
                lines.append("  measured: \(ram.initiallyPrivate ? rng.pick([true, true, false]) : false)")
            } else if !ram.initiallyPrivate {
                lines.append("  measured: false")
            }
        }
        return lines
    }

    /// An x86_64 ELF64 executable with one to three PT_LOAD segments near `base`; segments sometimes share a
    /// 4 KiB page, as linkers produce for small images.
    mutating func syntheticELF(base: UInt64) -> [UInt8] {
        let count = Int.random(in: 1...3, using: &rng)
        var segments: [(paddr: UInt64, size: UInt64)] = []
        var paddr = base
        for _ in 0..<count {
            let size = UInt64(Int.random(in: 1...600, using: &rng))
            segments.append((paddr, size))
            // Next segment: same page, next page, or a few pages on.
            paddr = rng.pick([
                (paddr + size + 15) & ~15, (paddr + size + 4095) & ~4095, ((paddr + size + 4095) & ~4095) + 0x2000,
            ])
        }
        var bytes = [UInt8](repeating: 0, count: 64 + 56 * count)
        func put(_ value: UInt64, at offset: Int, width: Int) {
            for i in 0..<width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        }
        bytes[0] = 0x7F
        bytes[1] = UInt8(ascii: "E")
        bytes[2] = UInt8(ascii: "L")
        bytes[3] = UInt8(ascii: "F")
        bytes[4] = 2  // ELFCLASS64
        bytes[5] = 1  // little-endian
        bytes[6] = 1  // EV_CURRENT
        put(2, at: 16, width: 2)  // ET_EXEC
        put(62, at: 18, width: 2)  // EM_X86_64
        put(1, at: 20, width: 4)
        put(segments[0].paddr, at: 24, width: 8)  // e_entry
        put(64, at: 32, width: 8)  // e_phoff
        put(64, at: 52, width: 2)  // e_ehsize
        put(56, at: 54, width: 2)  // e_phentsize
        put(UInt64(count), at: 56, width: 2)  // e_phnum
        var fileOffset = UInt64(bytes.count)
        for (i, segment) in segments.enumerated() {
            let ph = 64 + 56 * i
            put(1, at: ph, width: 4)  // PT_LOAD
            put(5, at: ph + 4, width: 4)  // R|X
            put(fileOffset, at: ph + 8, width: 8)
            put(segment.paddr, at: ph + 16, width: 8)
            put(segment.paddr, at: ph + 24, width: 8)
            put(segment.size, at: ph + 32, width: 8)
            put(segment.size + (rng.chance(30) ? 0x100 : 0), at: ph + 40, width: 8)
            put(0x1000, at: ph + 48, width: 8)
            fileOffset += segment.size
        }
        for (i, segment) in segments.enumerated() {
            bytes += (0..<segment.size).map { UInt8(truncatingIfNeeded: $0 &+ UInt64(i) &* 37 &+ 0xF4) }
        }
        return bytes
    }

    // MARK: - Spelling

    func sizeText(_ value: UInt64) -> String {
        if value % (1 << 30) == 0 { return "\(value >> 30)GiB" }
        if value % (1 << 20) == 0 { return "\(value >> 20)MiB" }
        if value % (1 << 10) == 0 { return "\(value >> 10)KiB" }
        return String(value)
    }

    func hexOrSize(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
}

/// The generated corpus: for each platform, the manifests `check` accepts, compiled.
enum GeneratedCorpus {
    static let attemptsPerPlatform = 260

    struct Entry {
        var manifest: GeneratedManifest
        var compiled: Compiled
    }

    struct PlatformCorpus {
        var attempts: Int
        var accepted: [Entry]
        /// Rejected manifests with their first error, to see what the generator gets wrong.
        var rejected: [(GeneratedManifest, String)]
    }

    static func build(_ target: GeneratedPlatform) -> PlatformCorpus {
        var generator = ManifestGenerator(target)
        var accepted: [Entry] = []
        var rejected: [(GeneratedManifest, String)] = []
        for index in 0..<attemptsPerPlatform {
            let manifest = generator.next(index: index)
            let files = RepoFileAccess(virtual: manifest.virtualFiles)
            do {
                let compiled = try Compile.bytes(Array(manifest.yaml.utf8), file: manifest.file, files: files)
                accepted.append(Entry(manifest: manifest, compiled: compiled))
            } catch {
                rejected.append((manifest, "\(error)"))
            }
        }
        return PlatformCorpus(attempts: attemptsPerPlatform, accepted: accepted, rejected: rejected)
    }

    static let all: [GeneratedPlatform: PlatformCorpus] = {
        var out: [GeneratedPlatform: PlatformCorpus] = [:]
        for target in GeneratedPlatform.allCases { out[target] = build(target) }
        return out
    }()
}
