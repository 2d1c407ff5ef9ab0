import Diagnostics

extension ManifestMessages {
    /// Documentation of every id the parser and decoder emit (`kvmplan explain`).
    public static let documentation: [RuleDocumentation] = [
        RuleDocumentation(
            id: "format.control-character", severity: .error, summary: "A path contains a control character (NUL, ESC, newline, …).",
            rationale: "The kernel reads a path up to its first NUL, so a path with an embedded NUL would open another file than the one the plan shows; ESC and BEL sequences would reach the terminal of whoever reads the output.",
            kernel: "open(2) would open the part of the path before the NUL.",
            fix: "Write the path without control characters (rename the file if its name has one)."),
        RuleDocumentation(
            id: "format.empty", severity: .error, summary: "The manifest has no content.",
            rationale: "An empty file is almost always a mistake (a failed template render, a truncated checkout).",
            kernel: "Nothing reaches the kernel.",
            fix: "Write at least `kvmplan: 1`, `name`, `arch`, `platform` and `memory.regions`."),
        RuleDocumentation(
            id: "format.integer", severity: .error, summary: "A number is malformed, negative or wider than 64 bits.",
            rationale: "Every address and size kvmplan passes to KVM is a __u64; a value that does not fit would be silently truncated by a VMM written in C.",
            kernel: "KVM_SET_USER_MEMORY_REGION2 would see a wrapped guest_phys_addr or memory_size and fail with EINVAL, or map the wrong range.",
            fix: "Write decimal (4096), hex (0x1000, 0x1000_0000) or a size with a binary suffix (512MiB, 4GiB)."),
        RuleDocumentation(
            id: "format.missing-key", severity: .error, summary: "A required key is missing.",
            rationale: "`kvmplan`, `name`, `arch`, `platform` and `memory.regions` are required; each region needs `name`, `base` and `size`; a payload needs `path`.",
            kernel: "Nothing reaches the kernel.", fix: "Add the key named in the message."),
        RuleDocumentation(
            id: "format.more-diagnostics", severity: .note, summary: "More diagnostics of one id than are shown.",
            rationale: "A file with a million unknown keys would print hundreds of megabytes: each file shows at most 100 diagnostics of each id, then this note with the number left out.",
            kernel: "Nothing reaches the kernel.",
            fix: "Fix the diagnostics shown (often one mistake repeated, such as a wrong indentation) and check again."),
        RuleDocumentation(
            id: "format.name", severity: .error, summary: "A name does not match [a-z0-9][a-z0-9-]*.",
            rationale: "Names become step ids (`slot.ram`), fd names (`%gmem.ram`) and guest_memfd names; they must be stable, short and shell-safe.",
            kernel: "Nothing reaches the kernel.", fix: "Use lower-case letters, digits and '-', starting with a letter or digit, at most 63 characters."),
        RuleDocumentation(
            id: "format.range", severity: .error, summary: "A number is outside the range the key allows.",
            rationale: "For example `vcpus` must be at least 1 and `shared-bit` must name a bit of a 64-bit address.",
            kernel: "KVM_CREATE_VCPU or the platform's init command would fail with EINVAL.", fix: "Use a value in the range the message gives."),
        RuleDocumentation(
            id: "format.type", severity: .error, summary: "A value has the wrong YAML type.",
            rationale: "Each key has one type: a mapping, a list, a string, an integer or a boolean (true/false).",
            kernel: "Nothing reaches the kernel.", fix: "Write the value with the type the message names."),
        RuleDocumentation(
            id: "format.unknown-key", severity: .error, summary: "A key is not part of manifest format 1.",
            rationale: "A misspelt key (`readonyl: true`) would otherwise be ignored silently and the guest would run with the default.",
            kernel: "Nothing reaches the kernel; the risk is a guest configured differently from what its author wrote.",
            fix: "Fix the spelling (the message suggests the closest key) or remove the key."),
        RuleDocumentation(
            id: "format.value", severity: .error, summary: "A value is not one of the words the key accepts.",
            rationale: "Keys such as `arch`, `platform`, `access` and `backing` take a closed set of words.",
            kernel: "Nothing reaches the kernel.", fix: "Use one of the words the message lists."),
        RuleDocumentation(
            id: "format.version", severity: .error, summary: "The `kvmplan` format version is not 1.",
            rationale: "The manifest format is versioned so that a newer format is never misread by an older kvmplan.",
            kernel: "Nothing reaches the kernel.", fix: "Write `kvmplan: 1`, or use the kvmplan release that reads your format."),
        RuleDocumentation(
            id: "yaml.alias", severity: .error, summary: "YAML anchors (&a) and aliases (*a) are refused.",
            rationale: "A manifest is data. Aliases make a small file expand into a huge tree (the 'billion laughs' alias bomb); they are refused before the document is composed.",
            kernel: "Nothing reaches the kernel.", fix: "Write repeated values out in full."),
        RuleDocumentation(
            id: "yaml.complex-key", severity: .error, summary: "A mapping key is not a plain string.",
            rationale: "Manifest keys are fixed words; YAML allows lists and mappings as keys, which a manifest never needs.",
            kernel: "Nothing reaches the kernel.", fix: "Use a plain string key."),
        RuleDocumentation(
            id: "yaml.duplicate-key", severity: .error, summary: "A mapping has the same key twice.",
            rationale: "Most YAML loaders keep the last value silently, so two people can read the same file differently.",
            kernel: "Nothing reaches the kernel.", fix: "Keep one of the two keys."),
        RuleDocumentation(
            id: "yaml.encoding", severity: .error, summary: "The file is not valid UTF-8 text, or has a NUL byte.",
            rationale: "Manifests are UTF-8 YAML; binary content usually means the wrong file was passed.",
            kernel: "Nothing reaches the kernel.", fix: "Save the file as UTF-8 text."),
        RuleDocumentation(
            id: "yaml.syntax", severity: .error, summary: "The file is not well-formed YAML, or holds more than one document.",
            rationale: "The YAML parser could not read the file; the location points where it stopped.",
            kernel: "Nothing reaches the kernel.", fix: "Fix the YAML at the given line and column (indentation and ':' are the usual suspects)."),
        RuleDocumentation(
            id: "yaml.tag", severity: .error, summary: "YAML tags (!!int, !custom) are refused.",
            rationale: "Tags change how a value is read; a manifest's types are fixed by its keys.",
            kernel: "Nothing reaches the kernel.", fix: "Remove the tag."),
        RuleDocumentation(
            id: "yaml.too-large", severity: .error, summary: "The document has more than 1,000,000 nodes.",
            rationale: "No manifest needs that many (one with a region per KVM memslot has about 560,000); the bound keeps the memory of the tree small whatever the input, such as a 63 MiB flow sequence.",
            kernel: "Nothing reaches the kernel.", fix: "Split the data out of the manifest, or remove what is not a manifest key."),
        RuleDocumentation(
            id: "yaml.too-many-directives", severity: .error, summary: "More than 16 YAML directives (%YAML, %TAG).",
            rationale: "A manifest needs no directive; libyaml compares each %TAG with all earlier ones, so tens of thousands of them take seconds to minutes. The excess is refused before the YAML parser reads it.",
            kernel: "Nothing reaches the kernel.", fix: "Remove the directives (lines that start with '%')."),
    ]
}
