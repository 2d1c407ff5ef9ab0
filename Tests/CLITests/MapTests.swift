import Foundation
import TestSupport
import Testing

/// `kvmplan map MANIFEST|PLAN.json [--format text|svg]` (issue 14): the guest physical address space, drawn.
@Suite("kvmplan map", .requiresBinary)
struct MapTests {
    @Test("text: every region with its kind, gaps, markers, the scale, on every sample", arguments: sampleManifests())
    func text(_ manifest: String) throws {
        let result = try kvmplan("map", manifest)
        #expect(result.status == 0, "\(result)")
        let plan = try #require(try parseJSON(try kvmplan("plan", "--format", "json", manifest).stdout) as? [String: Any])
        let steps = try #require(plan["steps"] as? [[String: Any]])
        for step in steps where (step["id"] as? String)?.hasPrefix("slot.") == true {
            let name = String((step["id"] as? String ?? "").dropFirst("slot.".count))
            #expect(result.stdout.contains("  \(name) "), "\(manifest): region \(name)")
        }
        #expect(result.stdout.hasPrefix("guest physical address space of '\(plan["name"] as? String ?? "")'"))
        #expect(result.stdout.contains("legend: █ private  ▓ convertible  ░ shared  · MMIO hole; "))
        #expect(result.stdout.contains("(end)"))
    }

    @Test(
        "what each platform's map says",
        arguments: [
            ("Manifests/sev-snp.yaml", ["shared bit 51", "convertible, private at launch", "↳ shared alias 0x8_0000_0000_0000–", "MMIO hole", "↳ payload 0x10_0000–"]),
            ("Manifests/tdx.yaml", ["shared bit 47", "48-bit", "swiotlb", "convertible, shared at launch", "↳ shared alias 0x8000_0000_0000–"]),
            ("Manifests/cca.yaml", ["shared bit 39", "40-bit", "convertible, private at launch"]),
            ("Manifests/pkvm.yaml", ["private", "uart", "MMIO hole"]),
            ("Manifests/mmio.yaml", ["shared, read-only", "dev", "MMIO hole", "↳ boot area 0x1000–0x7fff (28KiB)", "log2 scale", "(gap)  ≈4.0GiB"]),
            ("Manifests/hello-long.yaml", ["shared", "↳ boot area 0x1000–0x7fff", "↳ payload 0x10_0000–"]),
        ])
    func platforms(_ manifest: String, _ needles: [String]) throws {
        let result = try kvmplan("map", manifest)
        #expect(result.status == 0, "\(result)")
        for needle in needles { #expect(result.stdout.contains(needle), "\(manifest): '\(needle)'\n\(result.stdout)") }
        if !manifest.contains("sev-snp") && !manifest.contains("tdx") && !manifest.contains("cca") {
            #expect(!result.stdout.contains("shared bit"), "\(manifest) has no shared bit")
        }
    }

    @Test("a manifest and its plan JSON give the same map")
    func planInput() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-map-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        #expect(try kvmplan("plan", "--format", "json", "-o", scratch, "Manifests/tdx.yaml").status == 0)
        for format in ["text", "svg"] {
            let fromManifest = try kvmplan("map", "--format", format, "Manifests/tdx.yaml")
            let fromPlan = try kvmplan("map", "--format", format, scratch)
            #expect(fromPlan.status == 0, "\(fromPlan)")
            #expect(fromPlan.stdout == fromManifest.stdout)
        }
    }

    @Test("--color always paints each kind; never and pipes do not")
    func colour() throws {
        #expect(try kvmplan("map", "--color", "always", "Manifests/tdx.yaml").stdout.contains("\u{1B}[33m▓"))
        #expect(!(try kvmplan("map", "Manifests/tdx.yaml").stdout.contains("\u{1B}[")))
    }

    @Test("failures: an invalid manifest exits 1 with its diagnostics; a missing file or format exits 2")
    func failures() throws {
        let invalid = try kvmplan("map", "Manifests/invalid/overlapping-regions.yaml")
        #expect(invalid.status == 1, "\(invalid)")
        #expect(invalid.stderr.contains("error[memory.overlap]"))
        #expect(invalid.stdout.isEmpty)
        #expect(try kvmplan("map", "Manifests/no-such.yaml").status == 2)
        #expect(try kvmplan("map", "--format", "png", "Manifests/tdx.yaml").status == 2)
    }

    // MARK: SVG

    static let rsvg = ["/usr/bin/rsvg-convert", "/usr/local/bin/rsvg-convert"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Parses the SVG as XML; with rsvg-convert, renders it and reads back the pixel at the middle of each
    /// region's block (the fill when one of three points shows it). Prints JSON: {"regions": [[name, kind, fill, pixel-or-null]], "texts": [...]}.
    static let program = """
        import json, struct, subprocess, sys, zlib
        import xml.etree.ElementTree as ET
        svg, rsvg = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
        ns = {"s": "http://www.w3.org/2000/svg"}
        root = ET.parse(svg).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
        regions = []
        for g in root.iter("{http://www.w3.org/2000/svg}g"):
            cls = g.get("class", "").split()
            if cls and cls[0] == "region":
                r = g.find("s:rect", ns)
                regions.append([g.get("data-name"), cls[1], r.get("fill"), [float(r.get(k)) for k in ("x", "y", "width", "height")]])
        texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
        pixels = {}
        if rsvg:
            png = svg + ".png"
            subprocess.run([rsvg, svg, "-o", png], check=True)
            data = open(png, "rb").read()
            assert data[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
            pos, idat, width, height = 8, b"", 0, 0
            while pos < len(data):
                length, kind = struct.unpack(">I4s", data[pos:pos + 8])
                chunk = data[pos + 8:pos + 8 + length]
                if kind == b"IHDR":
                    width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
                    assert depth == 8 and colour in (2, 6), (depth, colour)
                    bpp = 4 if colour == 6 else 3
                elif kind == b"IDAT":
                    idat += chunk
                pos += 12 + length
            raw = zlib.decompress(idat)
            stride = width * bpp
            rows, prev, i = [], bytearray(stride), 0
            for _ in range(height):
                f = raw[i]; line = bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
                for x in range(stride):
                    a = line[x - bpp] if x >= bpp else 0
                    b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
                    if f == 1: line[x] = (line[x] + a) & 255
                    elif f == 2: line[x] = (line[x] + b) & 255
                    elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
                    elif f == 4:
                        p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                        line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
                rows.append(line); prev = line
            for name, kind, fill, (x, y, w, h) in regions:
                # Three points down the block's middle: a marker's outline may cross one of them.
                seen = []
                for fy in (0.3, 0.5, 0.8):
                    px, py = int(x + w * 0.5), int(y + h * fy)
                    seen.append("#%02x%02x%02x" % tuple(rows[py][px * bpp:px * bpp + 3]))
                pixels[name] = fill if fill in seen else seen[1]
        print(json.dumps({"regions": [[n, k, f, pixels.get(n)] for n, k, f, _ in regions], "texts": texts}))
        """

    @Test("svg: well-formed XML with one block per region, a colour per kind, rendered as an image where rsvg-convert exists", arguments: ["Manifests/sev-snp.yaml", "Manifests/tdx.yaml", "Manifests/mmio.yaml", "Manifests/pkvm.yaml"])
    func svg(_ manifest: String) throws {
        let result = try kvmplan("map", "--format", "svg", manifest)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\""))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kvmplan-svg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(result.stdout.utf8).write(to: URL(fileURLWithPath: dir + "/map.svg"))
        try Data(Self.program.utf8).write(to: URL(fileURLWithPath: dir + "/check.py"))
        let checked = try run("/usr/bin/env", ["python3", dir + "/check.py", dir + "/map.svg"] + (Self.rsvg.map { [$0] } ?? []))
        #expect(checked.status == 0, "\(checked)")
        let report = try #require(try parseJSON(checked.stdout) as? [String: Any])
        let regions = try #require(report["regions"] as? [[Any]])
        let text = try kvmplan("map", manifest).stdout
        #expect(!regions.isEmpty)
        var fills: [String: String] = [:]
        for region in regions {
            let name = try #require(region[0] as? String)
            let kind = try #require(region[1] as? String)
            let fill = try #require(region[2] as? String)
            #expect(text.contains("  \(name) "), "\(name) is in the text map too")
            if let other = fills[kind] { #expect(other == fill, "one colour per kind") }
            fills[kind] = fill
            if Self.rsvg != nil {
                #expect(region[3] as? String == fill, "\(manifest): the rendered image shows \(name) in \(fill)")
            }
        }
        #expect(Set(fills.values).count == fills.count, "different kinds, different colours: \(fills)")
        let texts = (report["texts"] as? [Any])?.compactMap { $0 as? String } ?? []
        #expect(texts.contains { $0.hasPrefix("guest physical address space of") })
    }
}
