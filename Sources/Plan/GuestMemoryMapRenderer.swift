/// Draws a `GuestMemoryMap` as a terminal map or as SVG. Regions are drawn to scale, on a logarithmic
/// scale when their sizes differ by more than 64×, and the scale in use is stated.
public struct GuestMemoryMapRenderer: Sendable {
    public var colour: Bool

    public init(colour: Bool = false) { self.colour = colour }

    /// Sizes differ by more than this factor: draw on a log scale.
    static let logThreshold: Double = 16

    /// Each region's share of the drawing, in (0, 1]: linear, or log2 when sizes differ by orders of
    /// magnitude (so a 4 KiB MMIO page stays visible next to 64 GiB of RAM).
    static func weights(_ sizes: [UInt64]) -> (weights: [Double], logarithmic: Bool) {
        let values = sizes.map { Double(max($0, 1)) }
        guard let largest = values.max(), let smallest = values.min() else { return ([], false) }
        if largest / smallest <= logThreshold { return (values.map { $0 / largest }, false) }
        let low = log2(smallest)
        let span = max(log2(largest) - low, 1)
        return (values.map { 0.15 + 0.85 * (log2($0) - low) / span }, true)
    }

    /// log2 close enough to draw with (exponent + linear fraction, within 0.09), without libm.
    static func log2(_ x: Double) -> Double { Double(x.exponent) + (x.significand - 1) }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        var grouped = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 4 == 0 { grouped += "_" }
            grouped.append(character)
        }
        return "0x" + grouped
    }

    /// A size in the largest binary unit it is a whole number of, else approximately (`≈3.96GiB`).
    static func size(_ value: UInt64) -> String {
        let units: [(UInt64, String)] = [(1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        for (unit, name) in units where value >= unit {
            if value % unit == 0 { return "\(value / unit)\(name)" }
            let tenths = Int((Double(value) / Double(unit) * 10).rounded())
            return "≈\(tenths / 10).\(tenths % 10)\(name)"
        }
        return "\(value) bytes"
    }

    static func describe(_ region: GuestMemoryMap.Region) -> String {
        var words: String
        switch region.kind {
        case .private: words = "private"
        case .shared: words = "shared"
        case .convertible: words = "convertible, " + (region.initiallyPrivate ? "private at launch" : "shared at launch")
        case .mmio: words = "MMIO hole"
        }
        if region.readonly { words += ", read-only" }
        if region.guestMemfd { words += ", guest_memfd" }
        return words
    }

    // MARK: - Text

    static let glyph: [GuestMemoryMap.Kind: Character] = [.private: "█", .convertible: "▓", .shared: "░", .mmio: "·"]
    static let ansi: [GuestMemoryMap.Kind: String] = [.private: "31", .convertible: "33", .shared: "32", .mmio: "2"]

    /// One line per region and per gap between regions, low addresses first: the start address, a bar to
    /// scale, the name, size and kind; markers and shared aliases below their region.
    public func text(_ map: GuestMemoryMap, width: Int = 32) -> String {
        var out = "guest physical address space of '\(map.name)' (\(map.arch.rawValue), \(map.platform.rawValue))"
        if let bits = map.addressBits { out += ", \(bits)-bit" }
        out += "\n"
        if let bit = map.sharedBit {
            out += "shared bit \(bit): an access with GPA bit \(bit) set is shared; private pages have a shared alias at GPA | \(Self.hex(1 << UInt64(bit)))\n"
        }
        let rows = Self.rows(map)
        let (weights, logarithmic) = Self.weights(rows.map(\.size))
        let nameWidth = max(5, map.regions.map(\.name.count).max() ?? 0)
        let sizeWidth = rows.map { Self.size($0.size).unicodeScalars.count }.max() ?? 0
        let addressWidth = rows.map { Self.hex($0.start).count }.max() ?? 0
        for (row, weight) in zip(rows, weights) {
            let address = Self.hex(row.start).padding(addressWidth)
            let length = max(1, Int((weight * Double(width)).rounded()))
            guard let region = row.region else {
                out += "\(address)  \(String(repeating: " ", count: width))  \("(gap)".padding(nameWidth))  \(Self.size(row.size))\n"
                continue
            }
            var bar = String(repeating: Self.glyph[region.kind] ?? "#", count: length)
            if colour, let code = Self.ansi[region.kind] { bar = "\u{1B}[\(code)m\(bar)\u{1B}[0m" }
            bar += String(repeating: " ", count: width - length)
            out += "\(address)  \(bar)  \(region.name.padding(nameWidth))  \(Self.size(region.range.size).padding(sizeWidth))  \(Self.describe(region))\n"
            let indent = String(repeating: " ", count: addressWidth + width + 4)
            for marker in map.markers where region.range.contains(marker.range) {
                out += "\(indent)↳ \(marker.label) \(Self.hex(marker.range.gpa))–\(Self.hex(marker.range.gpa &+ marker.range.size &- 1)) (\(Self.size(marker.range.size)))\n"
            }
            if region.kind == .private || region.kind == .convertible, let alias = map.alias(of: region.range) {
                out += "\(indent)↳ shared alias \(Self.hex(alias.gpa))–\(Self.hex(alias.gpa &+ alias.size &- 1))\n"
            }
        }
        if let last = map.regions.map(\.end).max() { out += "\(Self.hex(last).padding(addressWidth))  (end)\n" }
        out += "legend: █ private  ▓ convertible  ░ shared  · MMIO hole; "
        out += logarithmic ? "bars on a log2 scale (sizes differ by more than 16×)\n" : "bars to a linear scale\n"
        return out
    }

    // MARK: - SVG

    static let fill: [GuestMemoryMap.Kind: String] = [
        .private: "#c0392b", .convertible: "#e67e22", .shared: "#27ae60", .mmio: "#bdc3c7",
    ]

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(c)
            }
        }
        return out
    }

    /// A standalone SVG: the address space as a column of blocks (low addresses at the top), each labelled
    /// with its range, size and kind; markers as outlined bands inside their region; shared aliases in a
    /// second column; a legend. Each region is a `<g class="region private|…" data-name=…>`.
    public func svg(_ map: GuestMemoryMap) -> String {
        let rows = Self.rows(map)
        let (weights, logarithmic) = Self.weights(rows.map(\.size))
        let top = 70.0
        let left = 150.0
        let columnWidth = 220.0
        let unit = 360.0 / max(weights.reduce(0, +), 1)
        let heights = weights.map { max(18, $0 * unit) }
        let total = heights.reduce(0, +)
        let hasAlias = map.sharedBit != nil
        let width = hasAlias ? 1000.0 : 680.0
        let height = top + total + 90
        func number(_ v: Double) -> String { String(Int(v.rounded())) }
        var body = ""
        var y = top
        for (row, h) in zip(rows, heights) {
            if let region = row.region {
                let fill = Self.fill[region.kind] ?? "#999999"
                body += "<g class=\"region \(region.kind.rawValue)\" data-name=\"\(Self.escape(region.name))\">\n"
                let pattern = region.kind == .mmio ? " stroke-dasharray=\"4 3\"" : ""
                body += "  <rect x=\"\(number(left))\" y=\"\(number(y))\" width=\"\(number(columnWidth))\" height=\"\(number(h))\" fill=\"\(fill)\" stroke=\"#333333\"\(pattern)/>\n"
                body += "  <text x=\"\(number(left + 8))\" y=\"\(number(y + min(h / 2 + 5, 18)))\" font-size=\"13\" fill=\"#ffffff\">\(Self.escape(region.name))</text>\n"
                body += "  <text x=\"\(number(left + columnWidth + 10))\" y=\"\(number(y + 14))\" font-size=\"12\">\(Self.escape("\(Self.size(region.range.size)) · \(Self.describe(region))"))</text>\n"
                var lastLabel = -Double.infinity
                for marker in map.markers where region.range.contains(marker.range) {
                    let offset = Double(marker.range.gpa - region.range.gpa) / Double(max(region.range.size, 1)) * h
                    let size = max(3, Double(marker.range.size) / Double(max(region.range.size, 1)) * h)
                    body += "  <rect class=\"marker\" x=\"\(number(left + 4))\" y=\"\(number(y + offset))\" width=\"\(number(columnWidth - 8))\" height=\"\(number(size))\" fill=\"none\" stroke=\"#1f3a93\" stroke-width=\"2\"><title>\(Self.escape("\(marker.label) \(Self.hex(marker.range.gpa)) (\(Self.size(marker.range.size)))"))</title></rect>\n"
                    // Labels of markers close together are stacked, not drawn over each other.
                    let labelY = max(y + offset + 12, lastLabel + 11)
                    lastLabel = labelY
                    body += "  <text x=\"\(number(left + columnWidth - 12))\" y=\"\(number(labelY))\" font-size=\"10\" text-anchor=\"end\" fill=\"#1f3a93\">\(Self.escape(marker.label))</text>\n"
                }
                if hasAlias, region.kind == .private || region.kind == .convertible, let alias = map.alias(of: region.range) {
                    let x = left + columnWidth + 420
                    body += "  <rect class=\"alias\" x=\"\(number(x))\" y=\"\(number(y))\" width=\"\(number(160))\" height=\"\(number(h))\" fill=\"none\" stroke=\"\(fill)\" stroke-dasharray=\"6 4\"/>\n"
                    body += "  <text x=\"\(number(x + 6))\" y=\"\(number(y + 14))\" font-size=\"11\">\(Self.escape("alias \(Self.hex(alias.gpa))"))</text>\n"
                }
                body += "</g>\n"
            } else {
                body += "<g class=\"gap\">\n  <line x1=\"\(number(left))\" y1=\"\(number(y + h / 2))\" x2=\"\(number(left + columnWidth))\" y2=\"\(number(y + h / 2))\" stroke=\"#999999\" stroke-dasharray=\"2 4\"/>\n"
                body += "  <text x=\"\(number(left + columnWidth + 10))\" y=\"\(number(y + h / 2 + 4))\" font-size=\"11\" fill=\"#777777\">\(Self.escape("gap \(Self.size(row.size))"))</text>\n</g>\n"
            }
            body += "<text x=\"\(number(left - 8))\" y=\"\(number(y + 4))\" font-size=\"11\" text-anchor=\"end\" font-family=\"monospace\">\(Self.hex(row.start))</text>\n"
            y += h
        }
        if let end = map.regions.map(\.end).max() {
            body += "<text x=\"\(number(left - 8))\" y=\"\(number(y + 4))\" font-size=\"11\" text-anchor=\"end\" font-family=\"monospace\">\(Self.hex(end))</text>\n"
        }
        var title = "guest physical address space of '\(map.name)' (\(map.arch.rawValue), \(map.platform.rawValue))"
        if let bits = map.addressBits { title += ", \(bits)-bit" }
        var header = "<text x=\"20\" y=\"28\" font-size=\"16\" font-weight=\"bold\">\(Self.escape(title))</text>\n"
        var subtitle = logarithmic ? "heights on a log2 scale (sizes differ by more than 16×)" : "heights to a linear scale"
        if let bit = map.sharedBit { subtitle += "; shared bit \(bit): alias = GPA | \(Self.hex(1 << UInt64(bit)))" }
        header += "<text x=\"20\" y=\"50\" font-size=\"12\" fill=\"#555555\">\(Self.escape(subtitle))</text>\n"
        if hasAlias {
            header += "<text x=\"\(number(left + columnWidth + 420))\" y=\"\(number(top - 6))\" font-size=\"12\">shared alias</text>\n"
        }
        var legend = ""
        var x = 20.0
        for kind in GuestMemoryMap.Kind.allCases {
            legend += "<rect x=\"\(number(x))\" y=\"\(number(height - 40))\" width=\"14\" height=\"14\" fill=\"\(Self.fill[kind] ?? "#999999")\" stroke=\"#333333\"/>"
            legend += "<text x=\"\(number(x + 20))\" y=\"\(number(height - 28))\" font-size=\"12\">\(kind == .mmio ? "MMIO hole" : kind.rawValue)</text>\n"
            x += 130
        }
        legend += "<rect x=\"\(number(x))\" y=\"\(number(height - 40))\" width=\"14\" height=\"14\" fill=\"none\" stroke=\"#1f3a93\" stroke-width=\"2\"/>"
        legend += "<text x=\"\(number(x + 20))\" y=\"\(number(height - 28))\" font-size=\"12\">payload / boot area</text>\n"
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(number(width))" height="\(number(height))" viewBox="0 0 \(number(width)) \(number(height))" font-family="sans-serif">
            <title>\(Self.escape(title))</title>
            <rect x="0" y="0" width="\(number(width))" height="\(number(height))" fill="#ffffff"/>
            \(header)\(body)\(legend)</svg>

            """
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        let count = unicodeScalars.count
        return count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}

extension GuestMemoryMapRenderer {
    /// The regions in address order with the gaps between them (a gap row has no region): what both the
    /// terminal map and the SVG draw.
    static func rows(_ map: GuestMemoryMap) -> [(start: UInt64, size: UInt64, region: GuestMemoryMap.Region?)] {
        var rows: [(start: UInt64, size: UInt64, region: GuestMemoryMap.Region?)] = []
        var cursor: UInt64 = 0
        for region in map.regions {
            if region.range.gpa > cursor { rows.append((cursor, region.range.gpa - cursor, nil)) }
            rows.append((region.range.gpa, region.range.size, region))
            cursor = max(cursor, region.end)
        }
        return rows
    }
}
